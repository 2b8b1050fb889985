"""Benchmark: the time one write waits, with WAL checkpoints left to SQLite (inside the commit that
crosses 1,000 pages) against the bot's background checkpoints (bot/db/checkpoints.py: a second
connection checkpoints beside the writes). Claim: the checkpoint leaves the writes' tail (p99.9 and
max) at no cost to the median.

Writes of a chat message's size come in bursts with pauses, as a server's traffic does; `--steady`
writes without pauses. The loop looks every 50 ms here instead of every second, so a run takes
seconds. Baseline in the same run: SQLite's default (wal_autocheckpoint = 1000 pages, no loop).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bot.db import Database, WalCheckpoints  # noqa: E402

LOOK_EVERY = 0.05
BURST = 100
PAUSE = 0.12
ROW = "x" * 600  # about a chat message with its speaker


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _series(directory: Path, name: str, writes: int, background: bool, steady: bool) -> dict[str, Any]:
    db = await Database.open(directory / f"{name}.db")
    checkpoints = WalCheckpoints(db, every=LOOK_EVERY)
    if background:
        checkpoints.start()
    else:
        await db.write("PRAGMA wal_autocheckpoint = 1000")  # SQLite's default
    await db.write("CREATE TABLE messages (id INTEGER PRIMARY KEY, thread INTEGER, body TEXT)")
    await db.write("CREATE INDEX messages_by_thread ON messages (thread, id)")
    waits: list[float] = []
    try:
        for index in range(writes):
            if not steady and index and index % BURST == 0:
                await asyncio.sleep(PAUSE)
            start = time.perf_counter()
            await db.write("INSERT INTO messages (thread, body) VALUES (?, ?)", (index % 40, ROW))
            waits.append((time.perf_counter() - start) * 1000)
    finally:
        await checkpoints.close()
    wal = directory / f"{name}.db-wal"
    wal_mb = wal.stat().st_size / 1e6 if wal.exists() else 0.0
    await db.close()
    return {
        "median_ms": statistics.median(waits),
        "p99_ms": _pct(waits, 99),
        "p999_ms": _pct(waits, 99.9),
        "max_ms": max(waits),
        "wal_mb": wal_mb,
    }


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        sqlite_default: list[dict[str, Any]] = []
        background: list[dict[str, Any]] = []
        for round_ in range(args.rounds):  # interleaved, so both see the same machine
            sqlite_default.append(await _series(directory, f"d{round_}", args.writes, False, args.steady))
            background.append(await _series(directory, f"b{round_}", args.writes, True, args.steady))

    def summary(series: list[dict[str, Any]]) -> dict[str, float]:
        return {key: statistics.median(s[key] for s in series) for key in series[0]}

    base, ours = summary(sqlite_default), summary(background)
    return {
        "writes_per_series": args.writes,
        "rounds": args.rounds,
        "steady": args.steady,
        "sqlite_default": base,
        "background": ours,
        "p999_ratio_vs_default": ours["p999_ms"] / max(base["p999_ms"], 1e-9),
        "median_ratio_vs_default": ours["median_ms"] / max(base["median_ms"], 1e-9),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--writes", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steady", action="store_true", help="no pauses between bursts")
    args = parser.parse_args(argv)
    result = asyncio.run(_run(args))
    base, ours = result["sqlite_default"], result["background"]
    print(f"{'one write waits (median of rounds)':<36}  {'SQLite default':>14}  {'background':>10}")
    for key, label in (
        ("median_ms", "median ms"),
        ("p99_ms", "p99 ms"),
        ("p999_ms", "p99.9 ms"),
        ("max_ms", "max ms"),
        ("wal_mb", "WAL file at the end, MB"),
    ):
        print(f"{label:<36}  {base[key]:>14.3f}  {ours[key]:>10.3f}")
    print(f"{'p99.9 ratio (background / default)':<36}  {result['p999_ratio_vs_default']:>14.2f}")
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
