"""The knowledge base's pieces: chunking, batching within the API's limits, callers sharing embedding
requests (against the fake server), documents sharing a transaction, exact search and the
memory-capped cache of server matrices."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.db import Database
from bot.openai_api import OpenAIClient
from bot.usage.estimate import estimate_tokens
from cogs.knowledge import FEATURE as KB
from cogs.knowledge.chunking import chunk_text
from cogs.knowledge.embedder import Embedder, EmbeddingLimits, Spent, batches, normalized
from cogs.knowledge.index import IndexCache, ServerIndex
from cogs.knowledge.store import KnowledgeRepo, Reindexing, StoredVectors
from tests.fakes.faults import Fault
from tests.fakes.openai_server import FakeOpenAI

KEY = "sk-test-knowledge-0123456789abcdef"


def test_a_long_markdown_document_keeps_headings_with_their_paragraphs_and_overlaps() -> None:
    body = " ".join(f"Sentence {i} of the install guide." for i in range(150))
    doc = f"# Guide\n\nWelcome.\n\n## Install\n\n{body}\n\n## Usage\n\nRun it.\n\n```\n# not a heading\n```"
    chunks = chunk_text(doc, 300, 40)
    assert chunks[0] == "# Guide\n\nWelcome."
    install = [c for c in chunks if c.startswith("# Guide\n## Install\n\n")]
    assert len(install) >= 3 and all(estimate_tokens(c) <= 300 + 40 + 10 for c in install)
    # Each install passage starts with the end of the one before it (the overlap).
    for before, after in itertools.pairwise(install):
        first_sentence = after.split("\n\n", 1)[1].split(".")[0]
        assert first_sentence in before
    assert chunks[-1] == "# Guide\n## Usage\n\nRun it.\n\n```\n# not a heading\n```"
    assert "".join(chunks).count("Sentence 149 of") >= 1
    assert chunk_text("  \n\n ", 300, 40) == []


def test_batches_respect_inputs_tokens_and_never_split_an_input() -> None:
    limits = EmbeddingLimits(max_inputs=3, max_request_tokens=1000, max_input_tokens=500, margin=1.0)
    assert batches([100] * 7, limits) == [range(0, 3), range(3, 6), range(6, 7)]
    assert batches([400, 400, 400, 100], limits) == [range(0, 2), range(2, 4)]
    assert batches([], limits) == []
    with pytest.raises(ValueError):
        batches([501], limits)
    real = EmbeddingLimits()
    parts = batches([300] * 5000, real)
    assert all(len(p) <= 2048 and 300 * len(p) <= 300_000 * real.margin for p in parts)
    assert sum(len(p) for p in parts) == 5000


def _stored(matrix: np.ndarray, channels: list[int]) -> StoredVectors:
    n = len(matrix)
    return StoredVectors(
        chunk_ids=np.arange(100, 100 + n, dtype=np.int64),
        document_ids=np.ones(n, dtype=np.int64),
        channel_ids=np.asarray(channels, dtype=np.int64),
        matrix=normalized(matrix.astype(np.float32)),
    )


def test_search_is_exact_cosine_best_first_with_floor_and_hidden_channels() -> None:
    rng = np.random.default_rng(7)
    matrix = rng.normal(size=(200, 16))
    index = ServerIndex(_stored(matrix, [0] * 100 + [5] * 100))
    query = normalized(matrix[150:151])[0]
    scores = normalized(matrix) @ query
    hits = index.search(query, 3)
    assert [h.chunk_id for h in hits] == [100 + int(i) for i in np.argsort(-scores)[:3]]
    assert hits[0].chunk_id == 250 and hits[0].score == pytest.approx(1.0, abs=1e-5)
    hidden = index.search(query, 3, hidden={5})
    assert all(h.chunk_id < 200 for h in hidden)
    assert index.search(query, 10, floor=0.99) == hits[:1]


async def test_the_cache_loads_once_keeps_within_its_budget_and_forgets_changed_servers() -> None:
    loads: list[int] = []
    size = _stored(np.ones((10, 8)), [0] * 10)

    def loader(guild: int):  # type: ignore[no-untyped-def]
        async def load() -> StoredVectors:
            loads.append(guild)
            return size

        return load

    one = ServerIndex(size).nbytes
    cache = IndexCache(max_bytes=2 * one)
    await cache.get((1, "m", 8), loader(1))
    await cache.get((1, "m", 8), loader(1))
    await cache.get((2, "m", 8), loader(2))
    await cache.get((3, "m", 8), loader(3))  # evicts server 1, the least recently used
    assert cache.nbytes <= 2 * one
    await cache.get((2, "m", 8), loader(2))
    await cache.get((1, "m", 8), loader(1))
    assert loads == [1, 2, 3, 1]
    cache.invalidate(1)
    await cache.get((1, "m", 8), loader(1))
    assert loads == [1, 2, 3, 1, 1]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI(api_key=KEY)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[OpenAIClient]:
    async with OpenAIClient(api_key=KEY, base_url=fake.base_url, max_retries=0) as c:
        yield c


def _texts(prefix: str, count: int) -> list[str]:
    return [f"{prefix} passage {i} about topic {i}" for i in range(count)]


async def test_callers_arriving_while_the_slots_are_busy_share_requests(
    fake: FakeOpenAI, client: OpenAIClient
) -> None:
    embedder = Embedder(client, concurrency=1)
    fake.add_fault(Fault(path="/v1/embeddings", delay=0.3, times=1))  # holds the only slot
    first = asyncio.create_task(embedder.embed(_texts("a", 2), "text-embedding-3-small", 64, Spent()))
    await asyncio.sleep(0.05)
    spent = [Spent(), Spent(), Spent()]
    later = [
        embedder.embed(_texts(p, n), "text-embedding-3-small", 64, s)
        for p, n, s in zip("bcd", (3, 1, 2), spent, strict=True)
    ]
    query = await embedder.embed(["a query"], "text-embedding-3-small", 64, Spent(), pooled=False)
    b, c, d = await asyncio.gather(*later)
    await first
    inputs = [r.json["input"] for r in fake.requests_to("/v1/embeddings", "POST")]
    # The query skipped the queue; the three callers waiting for the slot went in one request.
    assert inputs == [_texts("a", 2), ["a query"], _texts("b", 3) + _texts("c", 1) + _texts("d", 2)]
    # Each caller got its own rows: the same vectors as asked alone.
    alone = await embedder.embed(_texts("c", 1), "text-embedding-3-small", 64, Spent())
    assert np.array_equal(c, alone) and b.shape == (3, 64) and d.shape == (2, 64) and query.shape == (1, 64)
    # The shared request's tokens are split by each caller's share of the inputs.
    shared = sum(estimate_tokens(t) for t in inputs[2])
    assert sum(s.tokens for s in spent) == pytest.approx(shared, abs=2) and all(s.tokens for s in spent)


async def test_a_cancelled_caller_does_not_stop_the_others_and_a_lone_one_aborts_its_request(
    fake: FakeOpenAI, client: OpenAIClient
) -> None:
    embedder = Embedder(client, concurrency=1)
    fake.add_fault(Fault(path="/v1/embeddings", delay=0.3, times=1))
    blocker = asyncio.create_task(embedder.embed(_texts("a", 1), "text-embedding-3-small", 64, Spent()))
    await asyncio.sleep(0.05)
    leaving = asyncio.create_task(embedder.embed(_texts("b", 1), "text-embedding-3-small", 64, Spent()))
    staying = asyncio.create_task(embedder.embed(_texts("c", 1), "text-embedding-3-small", 64, Spent()))
    await asyncio.sleep(0.05)
    leaving.cancel()
    assert (await staying).shape == (1, 64)
    await blocker
    with pytest.raises(asyncio.CancelledError):
        await leaving
    inputs = [r.json["input"] for r in fake.requests_to("/v1/embeddings", "POST")]
    assert inputs == [_texts("a", 1), _texts("b", 1) + _texts("c", 1)]

    # Alone in its request, a cancelled caller's request is not sent at all.
    fake.add_fault(Fault(path="/v1/embeddings", delay=0.3, times=1))
    blocker = asyncio.create_task(embedder.embed(_texts("e", 1), "text-embedding-3-small", 64, Spent()))
    await asyncio.sleep(0.05)
    alone = asyncio.create_task(embedder.embed(_texts("f", 1), "text-embedding-3-small", 64, Spent()))
    await asyncio.sleep(0.05)
    alone.cancel()
    await asyncio.sleep(0)
    # A caller arriving while that request is being cancelled gets a request of its own.
    fresh = asyncio.create_task(embedder.embed(_texts("g", 1), "text-embedding-3-small", 64, Spent()))
    await blocker
    assert (await fresh).shape == (1, 64)
    inputs = [r.json["input"] for r in fake.requests_to("/v1/embeddings", "POST")]
    assert inputs[2:] == [_texts("e", 1), _texts("g", 1)]


async def test_documents_added_together_share_a_transaction_each_stored_whole(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "kb.db")
    assert KB.migrations is not None
    await db.migrate_feature(KB.name, KB.migrations)
    repo = KnowledgeRepo(db)

    def add(title: str, chunks: int, dims: int = 8) -> Any:
        return repo.add_document(
            guild_id=1,
            title=title,
            kind="text",
            source_url=None,
            channel_id=None,
            added_by=2,
            model="m",
            chunks=[f"{title} {i}" for i in range(chunks)],
            vectors=np.ones((chunks, dims), dtype=np.float32),
            tokens=chunks,
        )

    commits = db.commits
    stored = await asyncio.gather(add("one", 2), add("two", 3), add("three", 1))
    assert db.commits == commits + 1  # added at the same time: one transaction
    assert [(d.title, d.chunks) for d in stored] == [("one", 2), ("two", 3), ("three", 1)]
    assert [d.id for d in await repo.documents(1)] == [d.id for d in stored]
    rows = await db.fetchall("SELECT document_id, COUNT(*) FROM kb_chunks GROUP BY 1 ORDER BY 1")
    assert [tuple(r) for r in rows] == [(d.id, d.chunks) for d in stored]

    # A document that cannot be stored fails alone; the one queued with it is stored.
    await db.fetchall(
        "CREATE TRIGGER no_bad BEFORE INSERT ON kb_documents WHEN NEW.title = 'bad'"
        " BEGIN SELECT RAISE(ABORT, 'bad document'); END"
    )
    results = await asyncio.gather(add("x", 1), add("bad", 1), add("good", 2), return_exceptions=True)
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert [d.title for d in await repo.documents(1)][-2:] == ["x", "good"]
    rows = await db.fetchall("SELECT COUNT(*) FROM kb_chunks")
    assert rows[0][0] == 6 + 1 + 2
    await db.close()


async def test_a_stopped_reindex_drops_its_vectors_also_for_a_model_without_dimensions(
    tmp_path: Path,
) -> None:
    db = await Database.open(tmp_path / "kb.db")
    assert KB.migrations is not None
    await db.migrate_feature(KB.name, KB.migrations)
    repo, reindexing = KnowledgeRepo(db), Reindexing(db)
    old = await repo.add_document(
        guild_id=1,
        title="rules",
        kind="text",
        source_url=None,
        channel_id=None,
        added_by=2,
        model="text-embedding-3-small",
        chunks=["a", "b"],
        vectors=np.ones((2, 512), dtype=np.float32),
        tokens=2,
    )
    # text-embedding-ada-002 takes no `dimensions`: its vectors have its own size, 1536.
    new = np.ones((2, 1536), dtype=np.float32)
    await reindexing.add_vectors(1, "text-embedding-ada-002", [(old.id, ["a", "b"], new)])
    await reindexing.discard(1, "text-embedding-ada-002", None)
    rows = await db.fetchall("SELECT model, dimensions, COUNT(*) FROM kb_chunks GROUP BY 1, 2")
    assert [tuple(r) for r in rows] == [("text-embedding-3-small", 512, 2)]

    await reindexing.add_vectors(1, "text-embedding-ada-002", [(old.id, ["a", "b"], new)])
    assert await reindexing.switch(1, "text-embedding-ada-002", 1536) == 1
    await reindexing.discard(1, "text-embedding-ada-002", None)  # switched: nothing to drop
    rows = await db.fetchall("SELECT model, dimensions, COUNT(*) FROM kb_chunks GROUP BY 1, 2")
    assert [tuple(r) for r in rows] == [("text-embedding-ada-002", 1536, 2)]
    await db.close()
