"""The knowledge base's pure pieces: chunking, batching within the API's limits, exact search and
the memory-capped cache of server matrices."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bot.usage.estimate import estimate_tokens
from cogs.knowledge.chunking import chunk_text
from cogs.knowledge.embedder import EmbeddingLimits, batches, normalized
from cogs.knowledge.index import IndexCache, ServerIndex
from cogs.knowledge.store import StoredVectors


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
