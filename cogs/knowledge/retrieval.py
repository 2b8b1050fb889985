"""Finding the passages that best match a query (for /kb search and /ask): the query embedded with
the model the server's index uses, then searched among passages from channels the member can view."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.error_handler import known_error_text
from bot.openai_api import OpenAIError
from bot.usage.estimate import estimate_tokens
from cogs.knowledge.answer import used_passages
from cogs.knowledge.embedder import Embedder, Spent
from cogs.knowledge.feature import KnowledgeSettings
from cogs.knowledge.index import IndexCache, ServerIndex
from cogs.knowledge.metering import Metering
from cogs.knowledge.replies import say
from cogs.knowledge.store import KnowledgeRepo, Passage, Reindexing

if TYPE_CHECKING:
    from bot.context import InteractionContext


class Retriever:
    def __init__(
        self,
        repo: KnowledgeRepo,
        reindexing: Reindexing,
        embedder: Embedder,
        cache: IndexCache,
        metering: Metering,
    ) -> None:
        self.repo = repo
        self.reindexing = reindexing
        self.embedder = embedder
        self.cache = cache
        self.metering = metering

    async def find(
        self, ctx: InteractionContext, settings: KnowledgeSettings, query: str, k: int, floor: float
    ) -> list[tuple[Passage, float]] | None:
        """The best passages the member may see; None when embedding the query failed (said so)."""
        guild_id = ctx.guild_id
        assert guild_id is not None and ctx.model is not None
        model, dimensions = ctx.model, settings.dimensions
        indexed = await self.reindexing.indexed_models(guild_id)
        if indexed:
            # The model most documents are indexed with: after a model change, search keeps using
            # the old index until /kb reindex has moved every document over.
            model, dimensions, _ = indexed[0]
        reservation = await self.metering.reserve(ctx, model, estimate_tokens(query), 0)
        if reservation is None:
            return None
        spent = Spent()
        try:
            vectors = await self.embedder.embed([query], model, dimensions, spent, pooled=False)
        except OpenAIError as exc:
            await say(ctx.interaction, known_error_text(exc, ctx.locale) or ctx.t("error.api_server"))
            return None
        finally:
            await self.metering.record(ctx, model, spent.tokens, 0, spent.estimated)
            await self.metering.release(reservation)
        dims = int(vectors.shape[1])
        index = await self.cache.get(
            (guild_id, model, dims), lambda: self.repo.vectors(guild_id, model, dims)
        )
        hits = index.search(vectors[0], k, floor=floor, hidden=hidden_channels(ctx, index))
        passages = await self.repo.passages(guild_id, [h.chunk_id for h in hits])
        return used_passages(hits, passages)


def hidden_channels(ctx: InteractionContext, index: ServerIndex) -> set[int]:
    """Channels passages came from that this member cannot view (unknown channels included)."""
    guild = ctx.interaction.guild
    member = ctx.interaction.user
    hidden: set[int] = set()
    for channel_id in index.channels():
        channel = guild.get_channel_or_thread(channel_id) if guild is not None else None
        if channel is None or not isinstance(member, discord.Member):
            hidden.add(channel_id)
            continue
        permissions = channel.permissions_for(member)
        private_thread = isinstance(channel, discord.Thread) and channel.is_private()
        if not permissions.view_channel or (private_thread and not permissions.manage_threads):
            hidden.add(channel_id)
    return hidden
