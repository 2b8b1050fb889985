"""/kb (add, list, remove, search), the "Add to knowledge base" message menu, and /ask: the commands
check their input and permissions, acknowledge, and hand the slow work to the feature's modules.

Adding is ingestion.py, finding passages retrieval.py, answering asking.py, re-indexing reindex.py;
what their API calls cost goes through metering.py.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.discord_io.mentions import NO_PINGS
from bot.discord_io.replies import reply_privately
from bot.errors import UserFacingError
from cogs.knowledge.answer import source_line
from cogs.knowledge.asking import Answerer
from cogs.knowledge.documents import SUPPORTED_SUFFIXES, UnreadableFile, file_text, suffix_of
from cogs.knowledge.embedder import Embedder
from cogs.knowledge.feature import (
    EMBED_CONCURRENCY,
    FEATURE,
    MAX_QUESTION_CHARS,
    MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
    KnowledgeSettings,
)
from cogs.knowledge.index import IndexCache
from cogs.knowledge.ingestion import Ingester, NewDocument, title_from
from cogs.knowledge.metering import Metering
from cogs.knowledge.progress import progress_text
from cogs.knowledge.reindex import Reindexer, ReindexRun, wanted_dimensions
from cogs.knowledge.replies import fit, say
from cogs.knowledge.retrieval import Retriever
from cogs.knowledge.store import Document, KnowledgeRepo, Reindexing

if TYPE_CHECKING:
    from bot.app import OpenAIBot
    from bot.context import InteractionContext

log = logging.getLogger(__name__)

# Server matrices held in memory across servers (50,000 passages of 512 dimensions take ~100 MB).
INDEX_CACHE_BYTES = 256 * 1024 * 1024
SEARCH_RESULTS = 5
PASSAGE_PREVIEW_CHARS = 300
# The settings whose change makes a new index: /config changing one starts a re-index.
REINDEX_SETTINGS = frozenset({"model", "dimensions"})


class KnowledgeError(UserFacingError):
    """A refusal whose text is the catalog key given."""

    def __init__(self, key: str, **params: Any) -> None:
        self.key = key
        super().__init__(**params)


class KnowledgeCog(commands.Cog, name="Knowledge"):
    kb = app_commands.Group(
        name=locale_str("kb", key="cmd.kb.name"),
        description=locale_str("The server's knowledge base", key="cmd.kb.description"),
        guild_only=True,
    )

    def __init__(self, bot: OpenAIBot, *, embedder: Embedder | None = None) -> None:
        self.bot = bot
        self.repo = KnowledgeRepo(bot.db)
        self.reindexing = Reindexing(bot.db)
        self.embedder = embedder or Embedder(bot.api, concurrency=EMBED_CONCURRENCY)
        self.cache = IndexCache(INDEX_CACHE_BYTES)
        metering = Metering(bot)
        self.ingester = Ingester(self.repo, self.embedder, self.cache, metering)
        self.retriever = Retriever(self.repo, self.reindexing, self.embedder, self.cache, metering)
        self.answerer = Answerer(bot, metering)
        self.reindexer = Reindexer(self.reindexing, self.embedder, self.cache, metering)
        self.menu = app_commands.ContextMenu(
            name=locale_str("Add to knowledge base", key="cmd.kb.menu.label"),
            callback=self.add_message,
        )
        self.menu.guild_only = True

    @property
    def reindex_runs(self) -> Mapping[int, ReindexRun]:
        """The re-index running in each server."""
        return self.reindexer.runs

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    # -- checks ---------------------------------------------------------------------------------

    def _settings(self, ctx: InteractionContext) -> KnowledgeSettings:
        settings = ctx.require_feature()
        assert isinstance(settings, KnowledgeSettings)
        return settings

    def _require_editor(self, ctx: InteractionContext, settings: KnowledgeSettings) -> None:
        if ctx.member_permissions.manage_guild:
            return
        roles = {role.id for role in getattr(ctx.interaction.user, "roles", ())}
        if roles & set(settings.editor_role_ids):
            return
        raise KnowledgeError("knowledge.error.not_editor")

    # -- adding ---------------------------------------------------------------------------------

    @kb.command(
        name=locale_str("add", key="cmd.kb.add.name"),
        description=locale_str("Add a text or a file to the knowledge base", key="cmd.kb.add.description"),
    )
    @app_commands.rename(
        text=locale_str("text", key="cmd.kb.add.opt.text.name"),
        file=locale_str("file", key="cmd.kb.add.opt.file.name"),
        title=locale_str("title", key="cmd.kb.add.opt.title.name"),
    )
    @app_commands.describe(
        text=locale_str("The text to add", key="cmd.kb.add.opt.text.description"),
        file=locale_str("A .txt, .md or .pdf file to add", key="cmd.kb.add.opt.file.description"),
        title=locale_str("The document's title (shown in sources)", key="cmd.kb.add.opt.title.description"),
    )
    async def add(
        self,
        interaction: discord.Interaction[Any],
        text: app_commands.Range[str, 1, MAX_TEXT_CHARS] | None = None,
        file: discord.Attachment | None = None,
        title: app_commands.Range[str, 1, MAX_TITLE_CHARS] | None = None,
    ) -> None:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        settings = self._settings(ctx)
        self._require_editor(ctx, settings)
        if (text is None) == (file is None):
            # Both options are optional in Discord's form; saying which one to give is no error.
            await reply_privately(interaction, ctx.t("knowledge.error.text_or_file"))
            return
        if file is not None:
            if suffix_of(file.filename) not in SUPPORTED_SUFFIXES:
                raise KnowledgeError("knowledge.error.file_type", name=file.filename)
            if file.size > settings.max_file_kb * 1024:
                raise KnowledgeError(
                    "knowledge.error.file_size", name=file.filename, limit=settings.max_file_kb
                )
        # Downloading and embedding are slow: acknowledge first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        if file is not None:
            try:
                content = await file_text(file.filename, await file.read())
            except UnreadableFile:
                await say(interaction, ctx.t("knowledge.error.unreadable", name=file.filename))
                return
            document = NewDocument(title or file.filename, content, "file")
        else:
            assert text is not None
            document = NewDocument(title or title_from(text), text, "text")
        await self.ingester.ingest(ctx, settings, document)

    async def add_message(self, interaction: discord.Interaction[Any], message: discord.Message) -> None:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        settings = self._settings(ctx)
        self._require_editor(ctx, settings)
        if not message.content.strip():
            raise KnowledgeError("knowledge.error.empty")
        await interaction.response.defer(ephemeral=True, thinking=True)
        title = title_from(message.content) or message.author.display_name
        document = NewDocument(title, message.content, "message", message.jump_url, message.channel.id)
        await self.ingester.ingest(ctx, settings, document)

    # -- listing and removing -------------------------------------------------------------------

    @kb.command(
        name=locale_str("list", key="cmd.kb.list.name"),
        description=locale_str("List the knowledge base's documents", key="cmd.kb.list.description"),
    )
    async def list_documents(self, interaction: discord.Interaction[Any]) -> None:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        self._settings(ctx)
        assert ctx.guild_id is not None
        documents = await self.repo.documents(ctx.guild_id)
        if not documents:
            text = ctx.t("knowledge.list.empty")
        else:
            lines = [ctx.t("knowledge.list.header", count=len(documents))]
            lines += [self._document_line(d) for d in documents]
            run = self.reindex_runs.get(ctx.guild_id)
            if run is not None:
                key = "knowledge.reindex.progress"
                lines.insert(0, progress_text(key, ctx.locale, run.done, run.total, model=run.model))
            text = fit("\n".join(lines))
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)

    @staticmethod
    def _document_line(document: Document) -> str:
        source = f" · <{document.source_url}>" if document.source_url else ""
        return f"`#{document.id}` **{document.title}** · {document.chunks} · {document.kind}{source}"

    @kb.command(
        name=locale_str("remove", key="cmd.kb.remove.name"),
        description=locale_str("Remove a document from the knowledge base", key="cmd.kb.remove.description"),
    )
    @app_commands.rename(document=locale_str("document", key="cmd.kb.remove.opt.document.name"))
    @app_commands.describe(
        document=locale_str("The document to remove", key="cmd.kb.remove.opt.document.description")
    )
    async def remove(self, interaction: discord.Interaction[Any], document: int) -> None:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        settings = self._settings(ctx)
        self._require_editor(ctx, settings)
        assert ctx.guild_id is not None
        removed = await self.repo.remove(ctx.guild_id, document)
        if removed is None:
            raise KnowledgeError("knowledge.error.no_document", id=document)
        self.cache.invalidate(ctx.guild_id)
        await interaction.response.send_message(
            ctx.t("knowledge.removed", title=removed.title, id=removed.id, chunks=removed.chunks),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    @remove.autocomplete("document")
    async def _document_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[int]]:
        if interaction.guild_id is None:
            return []
        needle = current.lower()
        documents = await self.repo.documents(interaction.guild_id)
        return [
            app_commands.Choice(name=f"#{d.id} {d.title}"[:100], value=d.id)
            for d in reversed(documents)
            if needle in d.title.lower() or needle in str(d.id)
        ][:25]

    # -- re-indexing after a model change ------------------------------------------------------

    @kb.command(
        name=locale_str("reindex", key="cmd.kb.reindex.name"),
        description=locale_str(
            "Re-embed every document with the server's current embedding model",
            key="cmd.kb.reindex.description",
        ),
    )
    async def reindex(self, interaction: discord.Interaction[Any]) -> None:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        settings = self._settings(ctx)
        self._require_editor(ctx, settings)
        guild_id = ctx.guild_id
        assert guild_id is not None and ctx.model is not None
        if guild_id in self.reindex_runs:
            await reply_privately(interaction, ctx.t("knowledge.reindex.busy"))
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        model = ctx.model
        stale = await self.reindexing.stale_documents(guild_id, model, wanted_dimensions(model, settings))
        if not stale:
            await say(interaction, ctx.t("knowledge.reindex.nothing", model=model))
            return
        if guild_id in self.reindex_runs:  # one started while the documents were read
            await say(interaction, ctx.t("knowledge.reindex.busy"))
            return
        await self.reindexer.run(ctx, model, settings.dimensions, stale, interaction.edit_original_response)

    @commands.Cog.listener()
    async def on_feature_settings_changed(
        self, interaction: discord.Interaction[Any], feature: str, names: frozenset[str]
    ) -> None:
        """/config changed the embedding model or dimensions: re-index in the background, shown to
        the admin in a private follow-up with Cancel (and in /kb list); a re-index still running for
        an earlier change is cancelled first."""
        if feature != FEATURE.name or not names & REINDEX_SETTINGS or interaction.guild_id is None:
            return
        guild_id = interaction.guild_id
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        settings = ctx.settings
        if not isinstance(settings, KnowledgeSettings) or not (ctx.available and settings.enabled):
            return  # a disabled feature is re-indexed by /kb reindex once it is back
        await self.reindexer.cancel(guild_id)
        model = ctx.model
        assert model is not None
        stale = await self.reindexing.stale_documents(guild_id, model, wanted_dimensions(model, settings))
        if not stale or guild_id in self.reindex_runs:
            return
        try:
            message = await interaction.followup.send(
                progress_text(
                    "knowledge.reindex.progress", ctx.locale, 0, sum(d.chunks for d in stale), model=model
                ),
                ephemeral=True,
                wait=True,
                allowed_mentions=NO_PINGS,
            )
        except discord.HTTPException as exc:
            log.info("Could not show the re-index after a /config change: %s", exc.status)
            return
        await self.reindexer.run(ctx, model, settings.dimensions, stale, message.edit)

    # -- searching ------------------------------------------------------------------------------

    @kb.command(
        name=locale_str("search", key="cmd.kb.search.name"),
        description=locale_str("Find the passages that match a query", key="cmd.kb.search.description"),
    )
    @app_commands.rename(query=locale_str("query", key="cmd.kb.search.opt.query.name"))
    @app_commands.describe(query=locale_str("What to look for", key="cmd.kb.search.opt.query.description"))
    async def search(
        self, interaction: discord.Interaction[Any], query: app_commands.Range[str, 1, MAX_QUESTION_CHARS]
    ) -> None:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        settings = self._settings(ctx)
        await interaction.response.defer(ephemeral=True, thinking=True)
        found = await self.retriever.find(ctx, settings, query, SEARCH_RESULTS, -1.0)
        if found is None:
            return
        if not found:
            await say(interaction, ctx.t("knowledge.search.none"))
            return
        lines = [ctx.t("knowledge.search.header", query=query)]
        for number, (passage, score) in enumerate(found, start=1):
            preview = " ".join(passage.text.split())
            if len(preview) > PASSAGE_PREVIEW_CHARS:
                preview = preview[: PASSAGE_PREVIEW_CHARS - 1] + "…"
            lines.append(f"{source_line(number, passage, score)}\n> {preview}")
        await say(interaction, fit("\n".join(lines)))

    # -- /ask -----------------------------------------------------------------------------------

    @app_commands.command(
        name=locale_str("ask", key="cmd.ask.name"),
        description=locale_str(
            "Ask a question answered from the server's knowledge base", key="cmd.ask.description"
        ),
    )
    @app_commands.guild_only()
    @app_commands.rename(question=locale_str("question", key="cmd.ask.opt.question.name"))
    @app_commands.describe(question=locale_str("Your question", key="cmd.ask.opt.question.description"))
    async def ask(
        self, interaction: discord.Interaction[Any], question: app_commands.Range[str, 1, MAX_QUESTION_CHARS]
    ) -> None:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        settings = self._settings(ctx)
        answer_model = settings.answer_model or self.bot.settings.chat_model
        await interaction.response.defer(thinking=True)
        found = await self.retriever.find(ctx, settings, question, settings.top_k, settings.min_similarity)
        if found is None:
            return
        if not found:
            await say(interaction, ctx.t("knowledge.ask.not_found"))
            return
        await self.answerer.answer(ctx, answer_model, question, found)


__all__ = ["KnowledgeCog"]
