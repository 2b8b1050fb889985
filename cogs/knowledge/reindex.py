"""Re-indexing a server after a model change: the stale documents' passages embedded with the new
model next to the old vectors, then switched all at once; one run per server, with progress and Cancel.

Documents are embedded in groups, so one embedding call covers the passages of many. /kb list shows
a run's progress; a newer model change cancels it, and search keeps the old index until a run switched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.error_handler import known_error_text
from bot.openai_api import OpenAIError
from cogs.knowledge.embedder import Embedder, Spent, asks_dimensions
from cogs.knowledge.feature import KnowledgeSettings
from cogs.knowledge.index import IndexCache
from cogs.knowledge.metering import Metering
from cogs.knowledge.progress import CancelView, Edit, ProgressReporter
from cogs.knowledge.replies import show
from cogs.knowledge.store import Document, Reindexing

if TYPE_CHECKING:
    from bot.context import InteractionContext

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


def wanted_dimensions(model: str, settings: KnowledgeSettings) -> int | None:
    """The dimensions an index with `model` should have (None: whatever the model gives)."""
    return settings.dimensions if asks_dimensions(model) else None


class Reindexer:
    def __init__(
        self, reindexing: Reindexing, embedder: Embedder, cache: IndexCache, metering: Metering
    ) -> None:
        self.reindexing = reindexing
        self.embedder = embedder
        self.cache = cache
        self.metering = metering
        #: the re-index running in each server
        self.runs: dict[int, ReindexRun] = {}

    async def cancel(self, guild_id: int) -> None:
        """Cancel the server's running re-index, if any, and wait until it has dropped its vectors."""
        running = self.runs.get(guild_id)
        if running is not None:
            running.cancel()
            await running.finished.wait()

    async def run(
        self, ctx: InteractionContext, model: str, dimensions: int, stale: list[Document], edit: Edit
    ) -> None:
        """Embed the stale documents' passages with `model` next to the old vectors, then switch all
        at once; cancelled or failed, the new vectors are dropped and the old index stays. Progress,
        Cancel and the outcome are shown with `edit`."""
        guild_id = ctx.guild_id
        assert guild_id is not None
        run = ReindexRun(model, dimensions, sum(d.chunks for d in stale))
        self.runs[guild_id] = run
        try:
            await self._run(ctx, run, stale, edit)
        finally:
            del self.runs[guild_id]
            run.finished.set()

    async def _run(self, ctx: InteractionContext, run: ReindexRun, stale: list[Document], edit: Edit) -> None:
        guild_id = ctx.guild_id
        assert guild_id is not None
        model, dimensions = run.model, run.dimensions
        # What the new vectors are stored with: a model without `dimensions` gives its own size.
        stored_dimensions = dimensions if asks_dimensions(model) else None

        async def say(text: str) -> None:
            await show(edit, text)

        reservation = await self.metering.reserve(ctx, model, sum(d.tokens for d in stale), 0, say)
        if reservation is None:
            return
        spent = Spent()
        view = CancelView(ctx.interaction.user.id, ctx.locale, run.cancel)
        reporter = ProgressReporter(edit, run.total, view, "knowledge.reindex.progress", model=model)

        def progress_after(base: int) -> Callable[[int], None]:
            def update(n: int) -> None:
                run.done = base + n
                reporter.update(run.done)

            return update

        async def embed_all() -> int:
            dims = dimensions
            for group in groups(stale):
                texts = [await self.reindexing.texts(guild_id, document) for document in group]
                flat = [text for passages in texts for text in passages]
                if not flat:
                    continue
                update = progress_after(run.done)
                vectors = await self.embedder.embed(flat, model, dimensions, spent, update)
                dims = int(vectors.shape[1])
                stored, start = [], 0
                for document, passages in zip(group, texts, strict=True):
                    stored.append((document.id, passages, vectors[start : start + len(passages)]))
                    start += len(passages)
                await self.reindexing.add_vectors(guild_id, model, stored)
            return dims

        try:
            await reporter.start()
            run.task = asyncio.create_task(embed_all())
            if run.cancelled:  # cancelled (a newer /config change) before the job existed
                run.task.cancel()
            try:
                dims = await run.task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if not run.cancelled or (current is not None and current.cancelling()):
                    raise
                await self.reindexing.discard(guild_id, model, stored_dimensions)
                await reporter.close()
                await say(ctx.t("knowledge.reindex.cancelled"))
                return
            except OpenAIError as exc:
                await self.reindexing.discard(guild_id, model, stored_dimensions)
                await reporter.close()
                reason = known_error_text(exc, ctx.locale) or ctx.t("error.api_server")
                await say(ctx.t("knowledge.reindex.failed", reason=reason))
                return
            switched = await self.reindexing.switch(guild_id, model, dims)
            self.cache.invalidate(guild_id)
        finally:
            await reporter.close()
            await self.metering.record(ctx, model, spent.tokens, 0, spent.estimated)
            await self.metering.release(reservation)
        await say(ctx.t("knowledge.reindex.done", model=model, documents=switched))
