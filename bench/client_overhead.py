"""Benchmark: the OpenAI client's own cost per call above a raw aiohttp POST to the same fake endpoint.
Claim: client overhead p99 < 0.3 ms per call (completion, 1536-dim embedding, 32-input moderation).
Run from the repository root: `python -m bench.client_overhead [--calls N] [--threaded]`."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.openai_api import OpenAIClient
from bot.openai_api.completions import Completion, CompletionRequest
from bot.openai_api.embeddings import EmbeddingRequest, EmbeddingsResponse
from bot.openai_api.moderations import ModerationRequest, ModerationResponse
from tests.fakes.openai_server import FakeOpenAI

KEY = "sk-bench-key"
TARGET_P99_MS = 0.3


@dataclass
class Case:
    name: str
    path: str
    payload: dict[str, Any]
    call: Callable[[OpenAIClient], Awaitable[object]]
    request_model: Any
    response_model: Any


def cases() -> list[Case]:
    completion = {
        "model": "gpt-3.5-turbo-instruct",
        "prompt": "Say something short [[words:12]]",
        "max_tokens": 32,
    }
    embedding = {"input": "the quick brown fox jumps over the lazy dog", "model": "text-embedding-3-small"}
    moderation = {
        "input": [f"message number {i} about nothing much" for i in range(32)],
        "model": "omni-moderation-latest",
    }
    return [
        Case(
            "completion",
            "/completions",
            completion,
            lambda c: c.completions.create(**completion),
            CompletionRequest,
            Completion,
        ),
        Case(
            "embedding-1536",
            "/embeddings",
            embedding,
            lambda c: c.embeddings.create(**embedding),
            EmbeddingRequest,
            EmbeddingsResponse,
        ),
        Case(
            "moderation-32",
            "/moderations",
            moderation,
            lambda c: c.moderations.create(**moderation),
            ModerationRequest,
            ModerationResponse,
        ),
    ]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run_case(
    fake: FakeOpenAI,
    case: Case,
    client: OpenAIClient,
    session: aiohttp.ClientSession,
    base_url: str,
    calls: int,
    warmup: int,
    budget_s: float,
) -> dict[str, Any]:
    url = base_url + case.path
    body = json.dumps(case.payload).encode()
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

    async def raw() -> bytes:
        async with session.post(url, data=body, headers=headers) as resp:
            data = await resp.read()
            assert resp.status == 200, data[:200]
            return data

    sample = await raw()
    for _ in range(warmup):
        await raw()
        await case.call(client)

    client_ms: list[float] = []
    raw_ms: list[float] = []
    perf = time.perf_counter
    # Keep the heap steady: the fake logs every request, which production has no equivalent of, and a
    # growing log makes full collections slower during whichever call happens to trigger them.
    fake.reset()
    gc.collect()
    gc.freeze()
    deadline = perf() + budget_s
    for i in range(calls):
        if i and i % 250 == 0:
            fake.reset()
        # Alternate which goes first so that any drift or periodic noise lands on both equally.
        for which in (0, 1) if i % 2 == 0 else (1, 0):
            t0 = perf()
            if which == 0:
                await case.call(client)
                client_ms.append((perf() - t0) * 1000)
            else:
                await raw()
                raw_ms.append((perf() - t0) * 1000)
        if perf() > deadline:
            break
    gc.unfreeze()

    # The client's CPU work alone (build + serialise the request, parse the response), no network.
    n_cpu = 2000
    t0 = perf()
    for _ in range(n_cpu):
        case.request_model(**case.payload).to_json()
        case.response_model.model_validate_json(sample)
    cpu_us = (perf() - t0) / n_cpu * 1e6

    row = {
        "case": case.name,
        "calls": len(client_ms),
        "raw_p50_ms": pct(raw_ms, 0.50),
        "raw_p99_ms": pct(raw_ms, 0.99),
        "client_p50_ms": pct(client_ms, 0.50),
        "client_p99_ms": pct(client_ms, 0.99),
        "cpu_only_us": cpu_us,
        "response_bytes": len(sample),
    }
    row["overhead_p50_ms"] = row["client_p50_ms"] - row["raw_p50_ms"]
    row["overhead_p99_ms"] = row["client_p99_ms"] - row["raw_p99_ms"]
    row["ratio_p50"] = row["client_p50_ms"] / row["raw_p50_ms"]
    row["ratio_p99"] = row["client_p99_ms"] / row["raw_p99_ms"]
    return row


async def main_async(calls: int, warmup: int, budget_s: float, threaded: bool) -> dict[str, Any]:
    fake = FakeOpenAI(api_key=KEY)
    if threaded:
        fake.start_in_thread()
    else:
        await fake.start()
    try:
        async with aiohttp.ClientSession() as session:
            # Same session for both sides: same connection pool, so only the client's own work differs.
            client = OpenAIClient(api_key=KEY, base_url=fake.base_url, session=session, max_retries=0)
            rows = [
                await run_case(fake, case, client, session, fake.base_url, calls, warmup, budget_s)
                for case in cases()
            ]
            await client.close()
    finally:
        if threaded:
            fake.stop_thread()
        else:
            await fake.stop()
    worst = max(r["overhead_p99_ms"] for r in rows)
    return {
        "bench": "client_overhead",
        "server": "threaded" if threaded else "in-loop",
        "rows": rows,
        "worst_overhead_p99_ms": worst,
        "target_p99_ms": TARGET_P99_MS,
        "pass": worst < TARGET_P99_MS,
    }


def print_table(result: dict[str, Any]) -> None:
    cols = (
        "case",
        "calls",
        "raw_p50_ms",
        "client_p50_ms",
        "overhead_p50_ms",
        "raw_p99_ms",
        "client_p99_ms",
        "overhead_p99_ms",
        "ratio_p99",
        "cpu_only_us",
    )
    print(" ".join(f"{c:>15}" for c in cols))
    for row in result["rows"]:
        cells = [f"{row[c]:>15.3f}" if isinstance(row[c], float) else f"{row[c]:>15}" for c in cols]
        print(" ".join(cells))
    verdict = "PASS" if result["pass"] else "FAIL"
    worst = result["worst_overhead_p99_ms"]
    print(f"worst overhead p99 {worst:.3f} ms (target < {TARGET_P99_MS} ms): {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=3000, help="interleaved client/raw pairs per case")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--budget", type=float, default=40.0, help="max seconds per case")
    parser.add_argument("--threaded", action="store_true", help="run the fake in its own thread and loop")
    args = parser.parse_args()
    result = asyncio.run(main_async(args.calls, args.warmup, args.budget, args.threaded))
    print_table(result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
