"""Benchmark: budget reservations under 200 concurrent members spending one server's budget.
Claim: >= 2,000 reservations/s, spent <= budget, ledger and reservations consistent at the end;
baseline: one member reserving and releasing alone, measured in the same run."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.db import Database, GuildSettings
from bot.usage import PricingTable, UsageEvent, UsageLedger
from bot.usage.budgets import BudgetExceeded, Budgets

GUILD = 1


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0.0


async def _baseline(directory: Path, rounds: int) -> float:
    """Reservations per second for one member alone: reserve then release, one after the other."""
    db = await Database.open(directory / "baseline.db")
    budgets = Budgets(db)
    settings = GuildSettings(monthly_budget_usd=Decimal(1_000_000))
    start = time.perf_counter()
    for _ in range(rounds):
        held = await budgets.reserve(
            guild_id=GUILD, user_id=1, feature="write", amount=Decimal("0.01"), settings=settings
        )
        await budgets.release(held)
    seconds = time.perf_counter() - start
    await db.close()
    return rounds / seconds


async def _trial(directory: Path, name: str, members: int, budget: Decimal, seed: int) -> dict[str, Any]:
    db = await Database.open(directory / f"{name}.db")
    ledger = UsageLedger(db, PricingTable.load())
    budgets = Budgets(db)
    settings = GuildSettings(monthly_budget_usd=budget, member_daily_budget_usd=budget / 40)
    rng = random.Random(seed)
    latencies: list[float] = []
    recorded: list[Decimal] = []
    refusals = {"server_month": 0, "member_day": 0}

    async def member(user_id: int) -> None:
        while True:
            worst = Decimal(rng.randint(100, 500)).scaleb(-4)  # $0.0100 .. $0.0500
            began = time.perf_counter()
            try:
                held = await budgets.reserve(
                    guild_id=GUILD, user_id=user_id, feature="write", amount=worst, settings=settings
                )
            except BudgetExceeded as refused:
                latencies.append(time.perf_counter() - began)
                refusals[refused.scope] += 1
                return
            latencies.append(time.perf_counter() - began)
            await asyncio.sleep(0)  # the API call
            # The real cost is at most the worst case (here 20-100 % of it).
            cost = (worst * Decimal(rng.randint(20, 100)) / 100).quantize(Decimal("0.0001"))
            event = await ledger.record(
                UsageEvent(guild_id=GUILD, user_id=user_id, feature="write", model="m", cost_usd=cost)
            )
            assert event.cost_usd is not None
            recorded.append(event.cost_usd)
            await budgets.release(held)

    start = time.perf_counter()
    await asyncio.gather(*(member(100 + n) for n in range(members)))
    seconds = time.perf_counter() - start
    await ledger.close()
    spent = (await ledger.totals(GUILD)).cost_usd
    row = await db.fetchone("SELECT COUNT(*) FROM budget_reservations")
    held_left = int(row[0]) if row is not None else -1
    await db.close()
    return {
        "reservations": len(latencies),
        "seconds": seconds,
        "reservations_per_s": len(latencies) / seconds,
        "latency_p50_ms": _pct(latencies, 50) * 1000,
        "latency_p99_ms": _pct(latencies, 99) * 1000,
        "spent_usd": spent,
        "held_left": held_left,
        "refused_server": refusals["server_month"],
        "refused_member": refusals["member_day"],
        # Ledger and reservations agree: every recorded cost is in the ledger, nothing is still held.
        "consistent": held_left == 0 and spent == sum(recorded, Decimal(0)),
    }


async def run(members: int, budget: Decimal, trials: int, directory: Path) -> dict[str, Any]:
    baseline = await _baseline(directory, 2000)
    results = [await _trial(directory, f"trial{n}", members, budget, seed=n) for n in range(trials)]
    median = statistics.median(r["reservations_per_s"] for r in results)
    return {
        "concurrent_members": members,
        "budget_usd": str(budget),
        "trials": trials,
        "reservations_per_s": round(median, 1),
        "baseline_single_member_per_s": round(baseline, 1),
        "ratio_vs_baseline": round(median / baseline, 3),
        "latency_p50_ms": round(statistics.median(r["latency_p50_ms"] for r in results), 3),
        "latency_p99_ms": round(statistics.median(r["latency_p99_ms"] for r in results), 3),
        "reservations": [r["reservations"] for r in results],
        "spent_usd": str(max(r["spent_usd"] for r in results)),
        "refused_server": [r["refused_server"] for r in results],
        "refused_member": [r["refused_member"] for r in results],
        "consistent": all(r["consistent"] for r in results),
        "target_met": median >= 2000
        and all(r["spent_usd"] <= budget for r in results)
        and all(r["consistent"] for r in results),
    }


def _table(r: dict[str, Any]) -> str:
    rows = [
        ("concurrent members / budget", f"{r['concurrent_members']} / ${r['budget_usd']}"),
        ("baseline: one member alone", f"{r['baseline_single_member_per_s']:,.0f} reservations/s"),
        (f"concurrent, median of {r['trials']} trials", f"{r['reservations_per_s']:,.0f} reservations/s"),
        ("  ratio vs baseline", f"{r['ratio_vs_baseline']:.2f}"),
        ("  reserve latency p50 / p99", f"{r['latency_p50_ms']:.2f} / {r['latency_p99_ms']:.2f} ms"),
        ("  reservations per trial", ", ".join(str(n) for n in r["reservations"])),
        ("  refused (server / member)", f"{r['refused_server']} / {r['refused_member']}"),
        ("spent (max of trials)", f"${r['spent_usd']} of ${r['budget_usd']}"),
        ("ledger and reservations consistent", "yes" if r["consistent"] else "NO"),
        ("target (>= 2,000/s, spent <= budget)", "met" if r["target_met"] else "NOT met"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--budget", type=Decimal, default=Decimal(50))
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = asyncio.run(run(args.members, args.budget, args.trials, Path(tmp)))
    print(_table(results))
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
