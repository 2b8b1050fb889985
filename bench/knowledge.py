"""Benchmark: the knowledge base's ingestion against the fake OpenAI server (50 ms per request) and
exact search over 50,000 passages of 512 dimensions in one server. Claim: ingest >= 1,000 chunks/s,
search p99 <= 20 ms, that server's matrix <= 120 MB.

Baselines in the same run: ingestion one document at a time, and search with a full sort. The JSON
records the machine's load and OPENBLAS_NUM_THREADS, which move the search tail most."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# The bot sizes numpy's thread pools when it starts (bot/numeric_threads.py); the bench does the same
# before numpy loads, so it measures what the bot runs. Set OPENBLAS_NUM_THREADS to compare.
from bot.numeric_threads import limit_numeric_threads

limit_numeric_threads()

import numpy as np  # noqa: E402

from bot.db import Database  # noqa: E402
from bot.openai_api import OpenAIClient  # noqa: E402
from cogs.knowledge.chunking import chunk_text  # noqa: E402
from cogs.knowledge.embedder import Embedder, Spent, normalized  # noqa: E402
from cogs.knowledge.feature import CHUNK_TOKENS, FEATURE, OVERLAP_TOKENS  # noqa: E402
from cogs.knowledge.index import IndexCache  # noqa: E402
from cogs.knowledge.store import KnowledgeRepo  # noqa: E402
from tests.fakes.faults import Fault  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402

MODEL = "text-embedding-3-small"
DIMS = 512
LATENCY = 0.05


def _serve(urls: Any, stop: Any) -> None:
    """The fake server in a process of its own: its vector arithmetic stands for OpenAI's servers'
    work and must not share the bot's interpreter lock, only its 50 ms per request shows."""

    async def serve() -> None:
        fake = FakeOpenAI()
        fake.add_fault(Fault(method="POST", path="/v1/embeddings", delay=LATENCY, times=None))
        await fake.start()
        urls.put((fake.base_url, fake.api_key))
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await fake.stop()

    asyncio.run(serve())


@contextmanager
def fake_server() -> Iterator[tuple[str, str]]:
    context = multiprocessing.get_context("spawn")
    urls, stop = context.Queue(), context.Event()
    process = context.Process(target=_serve, args=(urls, stop), daemon=True)
    process.start()
    try:
        yield urls.get(timeout=60)
    finally:
        stop.set()
        process.join(timeout=10)


def _document(n: int) -> str:
    """A small FAQ-like Markdown document of about five passages."""
    sections = []
    for s in range(5):
        words = " ".join(f"topic{n % 97}-{s} detail{(n * 7 + s * 13 + w) % 1009}" for w in range(110))
        sections.append(f"## Section {s} of document {n}\n\n{words}.")
    return f"# Document {n}\n\n" + "\n\n".join(sections)


def _timed(queries: np.ndarray, search: Callable[[np.ndarray], object]) -> list[float]:
    """Milliseconds each query took."""
    out = []
    for query in queries:
        start = time.perf_counter()
        search(query)
        out.append((time.perf_counter() - start) * 1000)
    return out


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else math.nan


async def _ingest(
    repo: KnowledgeRepo, embedder: Embedder, guild_id: int, documents: list[str], in_flight: int
) -> tuple[int, float, float]:
    """What the cog's ingestion does per document (chunk, embed, store in one transaction), with
    `in_flight` documents at a time as concurrent /kb add commands would run; (chunks, seconds, CPU
    seconds of this process: the bot's own cost, apart from the fake server's)."""
    gate = asyncio.Semaphore(in_flight)
    chunks_done = 0

    async def one(n: int, text: str) -> None:
        nonlocal chunks_done
        async with gate:
            chunks = chunk_text(text, CHUNK_TOKENS, OVERLAP_TOKENS)
            spent = Spent()
            vectors = await embedder.embed(chunks, MODEL, DIMS, spent)
            await repo.add_document(
                guild_id=guild_id,
                title=f"Document {n}",
                kind="text",
                source_url=None,
                channel_id=None,
                added_by=1,
                model=MODEL,
                chunks=chunks,
                vectors=vectors,
                tokens=spent.tokens,
            )
            chunks_done += len(chunks)

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(n, text) for n, text in enumerate(documents)))
    return chunks_done, time.perf_counter() - start, time.process_time() - cpu


async def _fill(repo: KnowledgeRepo, guild_id: int, chunks: int) -> None:
    """`chunks` random unit vectors stored for one server, in documents of 1,000 passages."""
    rng = np.random.default_rng(14)
    per_document = 1000
    for d in range(math.ceil(chunks / per_document)):
        count = min(per_document, chunks - d * per_document)
        vectors = normalized(rng.standard_normal((count, DIMS)).astype(np.float32))
        await repo.add_document(
            guild_id=guild_id,
            title=f"Bulk {d}",
            kind="text",
            source_url=None,
            channel_id=None,
            added_by=1,
            model=MODEL,
            chunks=[f"passage {d}-{i}" for i in range(count)],
            vectors=vectors,
            tokens=count * 4,
        )


async def main(documents: int, in_flight: int, search_chunks: int, queries: int) -> None:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp, fake_server() as (base_url, api_key):
        db = await Database.open(Path(tmp) / "bench.db")
        assert FEATURE.migrations is not None
        await db.migrate_feature(FEATURE.name, FEATURE.migrations)
        repo = KnowledgeRepo(db)
        texts = [_document(n) for n in range(documents)]
        async with OpenAIClient(api_key or "", base_url=base_url, max_retries=0) as client:
            embedder = Embedder(client)
            baseline_docs = max(1, documents // 20)
            base_chunks, base_s, _ = await _ingest(repo, embedder, 1, texts[:baseline_docs], 1)
            chunks, ingest_s, ingest_cpu = await _ingest(repo, embedder, 2, texts, in_flight)

        await _fill(repo, 3, search_chunks)
        cache = IndexCache(512 * 1024 * 1024)
        load_start = time.perf_counter()
        index = await cache.get((3, MODEL, DIMS), lambda: repo.vectors(3, MODEL, DIMS))
        load_ms = (time.perf_counter() - load_start) * 1000
        rng = np.random.default_rng(7)
        asked = normalized(rng.standard_normal((queries, DIMS)).astype(np.float32))
        # Each way in a loop of its own: BLAS's worker threads keep spinning a while after a call
        # and would slow whatever runs next.
        search_ms = _timed(asked, lambda q: index.search(q, 5))
        # Baseline: the same scores, fully sorted (what a naive top-k does).
        sort_ms = _timed(asked, lambda q: np.argsort(-(index.matrix @ q))[:5])
        await db.close()

    result = {
        "bench": "knowledge",
        "documents": documents,
        "chunks": chunks,
        "ingest_s": round(ingest_s, 2),
        "ingest_chunks_per_s": round(chunks / ingest_s, 1),
        "ingest_in_flight": in_flight,
        "ingest_bot_cpu_ms_per_chunk": round(ingest_cpu * 1000 / chunks, 3),
        "baseline_sequential_chunks_per_s": round(base_chunks / base_s, 1),
        "ingest_ratio_vs_sequential": round((chunks / ingest_s) / (base_chunks / base_s), 1),
        "latency_ms_per_request": LATENCY * 1000,
        "search_chunks": len(index),
        "dimensions": DIMS,
        "search_ms_p50": round(_pct(search_ms, 50), 2),
        "search_ms_p99": round(_pct(search_ms, 99), 2),
        "baseline_full_sort_ms_p50": round(_pct(sort_ms, 50), 2),
        "search_ratio_full_sort_over_top_k": round(_pct(sort_ms, 50) / _pct(search_ms, 50), 2),
        "index_load_ms": round(load_ms, 1),
        "index_mb": round(index.nbytes / (1024 * 1024), 1),
        # Other work on the machine skews every number above: the 1-minute load before and after.
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpus": os.cpu_count(),
        # What the bot runs with unless the operator sets it (bot/numeric_threads.py).
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
    }
    rows = [
        ("ingest chunks/s (target >= 1000)", result["ingest_chunks_per_s"]),
        ("  baseline: one document at a time", result["baseline_sequential_chunks_per_s"]),
        ("  chunks ingested", result["chunks"]),
        ("  bot CPU ms per chunk", result["ingest_bot_cpu_ms_per_chunk"]),
        ("search p50 ms", result["search_ms_p50"]),
        ("search p99 ms (target <= 20)", result["search_ms_p99"]),
        ("  baseline: full sort p50 ms", result["baseline_full_sort_ms_p50"]),
        ("index load ms (first use)", result["index_load_ms"]),
        ("index MB (target <= 120)", result["index_mb"]),
        ("machine load before / after", "{} / {}".format(*result["load_avg_1m"])),
        ("OPENBLAS_NUM_THREADS", result["openblas_num_threads"]),
    ]
    for label, value in rows:
        print(f"{label:<40}{value:>12}")
    print(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--search-chunks", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(main(args.documents, args.in_flight, args.search_chunks, args.queries))
