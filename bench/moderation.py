"""Benchmark: automatic moderation's micro-batching and pacing against the fake OpenAI server.
Claim: batched <= 40 calls per 1,000 messages with p99 <= 1 s; under low limits nothing lost, <= one 429."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from bot.openai_api import OpenAIClient
from cogs.moderation.pipeline import BATCH_SIZE, Job, ModerationPipeline
from tests.fakes.openai_server import FakeOpenAI

MODEL = "omni-moderation-latest"


@dataclass
class Tally:
    """The pipeline's sink: when each message was settled and how, and every API call."""

    submitted: dict[int, float] = field(default_factory=dict)
    latency: list[float] = field(default_factory=list)
    checked: int = 0
    unchecked: int = 0
    wrong: int = 0
    api_calls: int = 0
    http_429: int = 0

    def queued(self, job: Job) -> None:
        pass

    def checked_(self, job: Job) -> None:
        self.checked += 1
        self.latency.append(time.monotonic() - self.submitted[job.message_id])
        # Every tenth message carries a marker: its result must come back to it and only to it.
        expect_flag = job.message_id % 10 == 0
        if (job.scores.get("harassment", 0.0) >= 0.5) != expect_flag:
            self.wrong += 1

    def unchecked_(self, job: Job, reason: str) -> None:
        self.unchecked += 1

    def api_call(self, jobs: list[Job], model: str, tokens: dict[int, int], status: int) -> None:
        self.api_calls += 1
        self.http_429 += status == 429


class _Sink:
    def __init__(self, tally: Tally) -> None:
        self.queued = tally.queued
        self.checked = tally.checked_
        self.unchecked = tally.unchecked_
        self.api_call = tally.api_call


def _text(n: int) -> str:
    marker = " flag:harassment" if n % 10 == 0 else ""
    return f"message {n} from a busy server, talking about the game tonight and who brings snacks{marker}"


def _pct(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(
    name: str, fake: FakeOpenAI, *, batch_size: int, rate: int, seconds: float, guilds: int
) -> dict[str, Any]:
    tally = Tally()
    async with OpenAIClient(fake.api_key or "", base_url=fake.base_url, max_retries=0) as client:
        pipeline = ModerationPipeline(client.moderations.create, _Sink(tally), batch_size=batch_size)  # type: ignore[arg-type]
        total = int(rate * seconds)
        start = time.monotonic()
        for n in range(total):
            # Paced submission at `rate` per second, spread over the servers in turn.
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tally.submitted[n] = time.monotonic()
            pipeline.submit(Job(message_id=n, guild_id=1 + n % guilds, model=MODEL, texts=[_text(n)]))
        # Every message settles: checked, or unchecked once its deadline passes.
        while (
            tally.checked + tally.unchecked < total
            and time.monotonic() - start < seconds + pipeline.deadline + 30
        ):
            await asyncio.sleep(0.1)
        await pipeline.close()
    settled = tally.checked + tally.unchecked
    return {
        "name": name,
        "messages": total,
        "api_calls": tally.api_calls,
        "calls_per_1000": round(tally.api_calls * 1000 / total, 1),
        "p50_s": round(_pct(tally.latency, 50), 3),
        "p99_s": round(_pct(tally.latency, 99), 3),
        "checked": tally.checked,
        "unchecked": tally.unchecked,
        "lost": total - settled,
        "http_429": tally.http_429,
        "wrong_results": tally.wrong,
    }


async def main(seconds: float, rate: int, guilds: int) -> None:
    runs = []
    with FakeOpenAI.threaded() as fake:
        for limited in (False, True):
            for name, size in (("batched", BATCH_SIZE), ("baseline", 1)):
                # A fresh budget for each run: 500 requests and 10,000 tokens a minute when limited.
                fake.set_rate_limits(*((500, 10_000) if limited else (None, None)))
                label = f"{name}-{'limited' if limited else 'unlimited'}"
                runs.append(
                    await run(label, fake, batch_size=size, rate=rate, seconds=seconds, guilds=guilds)
                )
    head = (
        f"{'run':<20}{'msgs':>6}{'calls':>7}{'/1000':>8}{'p50 s':>8}{'p99 s':>8}"
        f"{'checked':>9}{'unchk':>7}{'lost':>6}{'429':>5}{'wrong':>6}"
    )
    print(head)
    for r in runs:
        print(
            f"{r['name']:<20}{r['messages']:>6}{r['api_calls']:>7}{r['calls_per_1000']:>8}{r['p50_s']:>8}"
            f"{r['p99_s']:>8}{r['checked']:>9}{r['unchecked']:>7}{r['lost']:>6}{r['http_429']:>5}{r['wrong_results']:>6}"
        )
    by = {r["name"]: r for r in runs}
    ratios = {
        kind: round(by[f"baseline-{kind}"]["api_calls"] / max(1, by[f"batched-{kind}"]["api_calls"]), 1)
        for kind in ("unlimited", "limited")
    }
    print(json.dumps({"bench": "moderation", "runs": runs, "calls_ratio_baseline_over_batched": ratios}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=int, default=100, help="messages per second")
    parser.add_argument("--guilds", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.rate, args.guilds))
