"""Exact cosine search over a server's passage vectors, and the memory-capped cache of those matrices.

Vectors are unit length, so cosine similarity is one matrix-vector product; at tens of thousands of
passages that is a few milliseconds, so no approximate index is needed. A server's matrix is loaded
on first use and the least recently used ones are dropped when the cache outgrows its byte budget.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

import numpy as np

from cogs.knowledge.store import StoredVectors


@dataclass(frozen=True, slots=True)
class Hit:
    chunk_id: int
    score: float


class ServerIndex:
    """One server's passages for one model: a contiguous matrix of unit float32 rows.

    A query is one matrix-vector product into a score buffer allocated once, and a partial sort of
    the top `k`: at 50,000 x 512 the product reads 100 MB, so no per-query copy of anything that size.
    """

    def __init__(self, stored: StoredVectors) -> None:
        self.chunk_ids = stored.chunk_ids
        self.channel_ids = stored.channel_ids
        self.matrix = np.ascontiguousarray(stored.matrix, dtype=np.float32)
        # search() runs on the event loop's thread without awaiting, so one buffer serves every query.
        self._scores = np.empty(len(self.chunk_ids), dtype=np.float32)
        self._rows_of_channel = {
            int(channel): np.flatnonzero(self.channel_ids == channel)
            for channel in np.unique(self.channel_ids)
            if channel
        }

    def __len__(self) -> int:
        return len(self.chunk_ids)

    @property
    def nbytes(self) -> int:
        rows = sum(r.nbytes for r in self._rows_of_channel.values())
        arrays = (self.matrix, self.chunk_ids, self.channel_ids, self._scores)
        return int(sum(a.nbytes for a in arrays) + rows)

    def channels(self) -> set[int]:
        """The channels passages came from (documents not from a channel have none)."""
        return set(self._rows_of_channel)

    def search(
        self, query: np.ndarray, k: int, *, floor: float = -1.0, hidden: Collection[int] = ()
    ) -> list[Hit]:
        """The best `k` passages at or above `floor`, best first, leaving out passages from
        `hidden` channels."""
        n = len(self)
        if not n or k <= 0:
            return []
        scores = self._scores
        # BLAS's product (numpy's einsum is single-threaded and measured 1.7x slower in the median).
        # BLAS splits it over threads: on a host whose cores are busy with other work, set
        # OPENBLAS_NUM_THREADS=1 for a steadier tail (bench/knowledge.py records the setting).
        np.dot(self.matrix, np.ascontiguousarray(query, dtype=np.float32), out=scores)
        for channel in hidden:
            rows = self._rows_of_channel.get(channel)
            if rows is not None:
                scores[rows] = -np.inf
        k = min(k, n)
        top = np.argpartition(scores, n - k)[n - k :]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [
            Hit(int(self.chunk_ids[i]), float(scores[i]))
            for i in top
            if scores[i] >= floor and scores[i] != -np.inf
        ]


Key = tuple[int, str, int]


class IndexCache:
    """guild, model, dimensions -> ServerIndex, within `max_bytes` (the newest one is always kept)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Key, ServerIndex] = OrderedDict()
        self._loading: dict[Key, asyncio.Future[ServerIndex]] = {}
        self._generation: dict[int, int] = {}

    @property
    def nbytes(self) -> int:
        return sum(e.nbytes for e in self._entries.values())

    async def get(self, key: Key, load: Callable[[], Awaitable[StoredVectors]]) -> ServerIndex:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            return entry
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[ServerIndex] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        generation = self._generation.get(key[0], 0)
        try:
            index = ServerIndex(await load())
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else needs to
            raise
        finally:
            self._loading.pop(key, None)
        future.set_result(index)
        # A document added or removed while loading makes this copy stale: use it, but keep it not.
        if self._generation.get(key[0], 0) == generation:
            self._entries[key] = index
            self._evict()
        return index

    def invalidate(self, guild_id: int) -> None:
        """The server's documents changed: its matrices are read again on next use."""
        self._generation[guild_id] = self._generation.get(guild_id, 0) + 1
        for key in [k for k in self._entries if k[0] == guild_id]:
            del self._entries[key]

    def _evict(self) -> None:
        total = self.nbytes
        while len(self._entries) > 1 and total > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            total -= dropped.nbytes
