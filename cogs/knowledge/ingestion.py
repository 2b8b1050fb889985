"""Adding a document: its text chunked, every passage embedded with a progress bar and Cancel, then
the document and its passages stored in one transaction (a cancelled or failed ingestion stores nothing)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bot.error_handler import known_error_text
from bot.openai_api import OpenAIError
from bot.usage.estimate import estimate_tokens
from cogs.knowledge.chunking import chunk_text
from cogs.knowledge.embedder import Embedder, Spent
from cogs.knowledge.feature import CHUNK_TOKENS, MAX_TITLE_CHARS, OVERLAP_TOKENS, KnowledgeSettings
from cogs.knowledge.index import IndexCache
from cogs.knowledge.metering import Metering
from cogs.knowledge.progress import CancelView, ProgressReporter
from cogs.knowledge.replies import say
from cogs.knowledge.store import Kind, KnowledgeRepo

if TYPE_CHECKING:
    from bot.context import InteractionContext


@dataclass(frozen=True, slots=True)
class NewDocument:
    title: str
    text: str
    kind: Kind
    source_url: str | None = None
    channel_id: int | None = None


def title_from(text: str) -> str:
    """The text's first non-empty line, without Markdown heading marks, cut to a title's length."""
    first = next((line.strip("# ").strip() for line in text.splitlines() if line.strip()), "")
    return first[: MAX_TITLE_CHARS - 1] + "…" if len(first) > MAX_TITLE_CHARS else first


class Ingester:
    def __init__(
        self, repo: KnowledgeRepo, embedder: Embedder, cache: IndexCache, metering: Metering
    ) -> None:
        self.repo = repo
        self.embedder = embedder
        self.cache = cache
        self.metering = metering

    async def ingest(self, ctx: InteractionContext, settings: KnowledgeSettings, new: NewDocument) -> None:
        """Chunk, embed with progress and Cancel, store in one transaction; the reply says how it went."""
        interaction = ctx.interaction
        guild_id = ctx.guild_id
        assert guild_id is not None and ctx.model is not None
        chunks = chunk_text(new.text, CHUNK_TOKENS, OVERLAP_TOKENS)
        if not chunks:
            await say(interaction, ctx.t("knowledge.error.empty"))
            return
        documents, passages = await self.repo.totals(guild_id)
        if documents >= settings.max_documents:
            await say(interaction, ctx.t("knowledge.error.max_documents", limit=settings.max_documents))
            return
        if passages + len(chunks) > settings.max_chunks:
            await say(
                interaction,
                ctx.t(
                    "knowledge.error.max_chunks", limit=settings.max_chunks, have=passages, new=len(chunks)
                ),
            )
            return
        model = ctx.model
        estimate = sum(estimate_tokens(c) for c in chunks)
        reservation = await self.metering.reserve(ctx, model, estimate, 0)
        if reservation is None:
            return
        spent = Spent()
        cancelled = False
        job: asyncio.Task[np.ndarray] | None = None

        def cancel() -> None:
            nonlocal cancelled
            cancelled = True
            if job is not None:
                job.cancel()

        view = CancelView(interaction.user.id, ctx.locale, cancel)
        reporter = ProgressReporter(interaction.edit_original_response, len(chunks), view, title=new.title)
        try:
            await reporter.start()
            job = asyncio.create_task(
                self.embedder.embed(chunks, model, settings.dimensions, spent, reporter.update)
            )
            try:
                vectors = await job
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if not cancelled or (current is not None and current.cancelling()):
                    raise
                await reporter.close()
                await say(interaction, ctx.t("knowledge.cancelled", title=new.title))
                return
            except OpenAIError as exc:
                await reporter.close()
                text = known_error_text(exc, ctx.locale) or ctx.t("error.api_server")
                await say(interaction, ctx.t("knowledge.error.failed", title=new.title, reason=text))
                return
            await reporter.close()
            stored = await self.repo.add_document(
                guild_id=guild_id,
                title=new.title,
                kind=new.kind,
                source_url=new.source_url,
                channel_id=new.channel_id,
                added_by=interaction.user.id,
                model=model,
                chunks=chunks,
                vectors=vectors,
                tokens=spent.tokens,
            )
            self.cache.invalidate(guild_id)
        finally:
            await reporter.close()
            await self.metering.record(ctx, model, spent.tokens, 0, spent.estimated)
            await self.metering.release(reservation)
        await say(
            interaction, ctx.t("knowledge.added", title=stored.title, id=stored.id, chunks=stored.chunks)
        )
