"""A server's running re-index: its target model, progress and cancellation, and how documents are
grouped so that one embedding call covers the passages of many documents.

The cog runs at most one per server; /kb list shows its progress, a new model change replaces it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

from cogs.knowledge.store import Document

# Passages embedded per call: the embedder splits a call into requests within the API's limits and
# runs several at once, so a group spans a few full requests; memory stays bounded (about 16 MB of
# text and vectors at 512 dimensions).
GROUP_PASSAGES = 8192


@dataclass(eq=False)
class ReindexRun:
    model: str
    dimensions: int
    total: int
    done: int = 0
    cancelled: bool = False
    task: asyncio.Task[int] | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def cancel(self) -> None:
        """Stop embedding; the run drops what it stored and search keeps the previous index."""
        self.cancelled = True
        if self.task is not None:
            self.task.cancel()


def groups(documents: list[Document], passages: int = GROUP_PASSAGES) -> Iterator[list[Document]]:
    """Consecutive documents with about `passages` passages in all (a bigger document alone)."""
    group: list[Document] = []
    size = 0
    for document in documents:
        if group and size + document.chunks > passages:
            yield group
            group, size = [], 0
        group.append(document)
        size += document.chunks
    if group:
        yield group
