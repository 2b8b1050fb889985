"""/kb (add, list, remove, search), the "Add to knowledge base" message menu, and /ask.

Adding chunks the text, embeds every passage, then stores the document and its passages in one
transaction: a cancelled or failed ingestion stores nothing. Searching and /ask leave out passages
from channels the member cannot view, so the knowledge base never leaks a private channel.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord
import numpy as np
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.discord_io.interaction_sink import InteractionSink
from bot.discord_io.live_text import LiveTextSequence
from bot.discord_io.mentions import NO_PINGS
from bot.discord_io.replies import reply_privately
from bot.error_handler import known_error_text
from bot.errors import UserFacingError
from bot.openai_api import ChatParameterError, ChatStream, OpenAIError
from bot.usage import UsageEvent
from bot.usage.budgets import BudgetExceeded, Reservation
from bot.usage.estimate import estimate_tokens
from bot.usage.refusal import budget_refusal_text
from cogs.knowledge.answer import build_messages, source_line, used_passages
from cogs.knowledge.chunking import chunk_text
from cogs.knowledge.documents import SUPPORTED_SUFFIXES, UnreadableFile, file_text, suffix_of
from cogs.knowledge.embedder import Embedder, Spent, asks_dimensions
from cogs.knowledge.feature import (
    CHUNK_TOKENS,
    EMBED_CONCURRENCY,
    FEATURE,
    MAX_ANSWER_TOKENS,
    MAX_QUESTION_CHARS,
    MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
    OVERLAP_TOKENS,
    KnowledgeSettings,
)
from cogs.knowledge.index import IndexCache, ServerIndex
from cogs.knowledge.progress import CancelView, Edit, ProgressReporter, progress_text
from cogs.knowledge.reindex import ReindexRun, groups
from cogs.knowledge.store import Document, Kind, KnowledgeRepo, Passage, Reindexing

if TYPE_CHECKING:
    from bot.app import OpenAIBot
    from bot.context import InteractionContext

log = logging.getLogger(__name__)

# Server matrices held in memory across servers (50,000 passages of 512 dimensions take ~100 MB).
INDEX_CACHE_BYTES = 256 * 1024 * 1024
SEARCH_RESULTS = 5
PASSAGE_PREVIEW_CHARS = 300
RENDER_INTERVAL = 0.5
# The settings whose change makes a new index: /config changing one starts a re-index.
REINDEX_SETTINGS = frozenset({"model", "dimensions"})


class KnowledgeError(UserFacingError):
    """A refusal whose text is the catalog key given."""

    def __init__(self, key: str, **params: Any) -> None:
        self.key = key
        super().__init__(**params)


@dataclass(frozen=True, slots=True)
class NewDocument:
    title: str
    text: str
    kind: Kind
    source_url: str | None = None
    channel_id: int | None = None


def _title_from(text: str) -> str:
    first = next((line.strip("# ").strip() for line in text.splitlines() if line.strip()), "")
    return first[: MAX_TITLE_CHARS - 1] + "…" if len(first) > MAX_TITLE_CHARS else first


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
        #: the re-index running in each server
        self.reindex_runs: dict[int, ReindexRun] = {}
        self.embedder = embedder or Embedder(bot.api, concurrency=EMBED_CONCURRENCY)
        self.cache = IndexCache(INDEX_CACHE_BYTES)
        self.menu = app_commands.ContextMenu(
            name=locale_str("Add to knowledge base", key="cmd.kb.menu.label"),
            callback=self.add_message,
        )
        self.menu.guild_only = True

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
                await self._say(interaction, ctx.t("knowledge.error.unreadable", name=file.filename))
                return
            document = NewDocument(title or file.filename, content, "file")
        else:
            assert text is not None
            document = NewDocument(title or _title_from(text), text, "text")
        await self.ingest(ctx, settings, document)

    async def add_message(self, interaction: discord.Interaction[Any], message: discord.Message) -> None:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        settings = self._settings(ctx)
        self._require_editor(ctx, settings)
        if not message.content.strip():
            raise KnowledgeError("knowledge.error.empty")
        await interaction.response.defer(ephemeral=True, thinking=True)
        title = _title_from(message.content) or message.author.display_name
        document = NewDocument(title, message.content, "message", message.jump_url, message.channel.id)
        await self.ingest(ctx, settings, document)

    async def ingest(self, ctx: InteractionContext, settings: KnowledgeSettings, new: NewDocument) -> None:
        """Chunk, embed with progress and Cancel, store in one transaction; the reply says how it went."""
        interaction = ctx.interaction
        guild_id = ctx.guild_id
        assert guild_id is not None and ctx.model is not None
        chunks = chunk_text(new.text, CHUNK_TOKENS, OVERLAP_TOKENS)
        if not chunks:
            await self._say(interaction, ctx.t("knowledge.error.empty"))
            return
        documents, passages = await self.repo.totals(guild_id)
        if documents >= settings.max_documents:
            await self._say(interaction, ctx.t("knowledge.error.max_documents", limit=settings.max_documents))
            return
        if passages + len(chunks) > settings.max_chunks:
            await self._say(
                interaction,
                ctx.t(
                    "knowledge.error.max_chunks", limit=settings.max_chunks, have=passages, new=len(chunks)
                ),
            )
            return
        model = ctx.model
        estimate = sum(estimate_tokens(c) for c in chunks)
        reservation = await self._reserve(ctx, model, estimate, 0)
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
                await self._say(interaction, ctx.t("knowledge.cancelled", title=new.title))
                return
            except OpenAIError as exc:
                await reporter.close()
                text = known_error_text(exc, ctx.locale) or ctx.t("error.api_server")
                await self._say(interaction, ctx.t("knowledge.error.failed", title=new.title, reason=text))
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
            await self._record(ctx, model, spent.tokens, 0, spent.estimated)
            await self._release(reservation)
        await self._say(
            interaction, ctx.t("knowledge.added", title=stored.title, id=stored.id, chunks=stored.chunks)
        )

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
            text = _fit("\n".join(lines))
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
        stale = await self.reindexing.stale_documents(guild_id, model, _wanted_dimensions(model, settings))
        if not stale:
            await self._say(interaction, ctx.t("knowledge.reindex.nothing", model=model))
            return
        if guild_id in self.reindex_runs:  # one started while the documents were read
            await self._say(interaction, ctx.t("knowledge.reindex.busy"))
            return
        await self._reindex(ctx, model, settings.dimensions, stale, interaction.edit_original_response)

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
        running = self.reindex_runs.get(guild_id)
        if running is not None:
            running.cancel()
            await running.finished.wait()
        model = ctx.model
        assert model is not None
        stale = await self.reindexing.stale_documents(guild_id, model, _wanted_dimensions(model, settings))
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
        await self._reindex(ctx, model, settings.dimensions, stale, message.edit)

    async def _reindex(
        self, ctx: InteractionContext, model: str, dimensions: int, stale: list[Document], edit: Edit
    ) -> None:
        """Embed the stale documents' passages with `model` next to the old vectors, then switch all
        at once; cancelled or failed, the new vectors are dropped and the old index stays. Progress,
        Cancel and the outcome are shown with `edit`."""
        guild_id = ctx.guild_id
        assert guild_id is not None
        run = ReindexRun(model, dimensions, sum(d.chunks for d in stale))
        self.reindex_runs[guild_id] = run
        try:
            await self._run_reindex(ctx, run, stale, edit)
        finally:
            del self.reindex_runs[guild_id]
            run.finished.set()

    async def _run_reindex(
        self, ctx: InteractionContext, run: ReindexRun, stale: list[Document], edit: Edit
    ) -> None:
        guild_id = ctx.guild_id
        assert guild_id is not None
        model, dimensions = run.model, run.dimensions
        # What the new vectors are stored with: a model without `dimensions` gives its own size.
        stored_dimensions = dimensions if asks_dimensions(model) else None

        async def say(text: str) -> None:
            await self._edit(edit, text)

        reservation = await self._reserve(ctx, model, sum(d.tokens for d in stale), 0, say)
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
            await self._record(ctx, model, spent.tokens, 0, spent.estimated)
            await self._release(reservation)
        await say(ctx.t("knowledge.reindex.done", model=model, documents=switched))

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
        found = await self._find(ctx, settings, query, SEARCH_RESULTS, -1.0)
        if found is None:
            return
        if not found:
            await self._say(interaction, ctx.t("knowledge.search.none"))
            return
        lines = [ctx.t("knowledge.search.header", query=query)]
        for number, (passage, score) in enumerate(found, start=1):
            preview = " ".join(passage.text.split())
            if len(preview) > PASSAGE_PREVIEW_CHARS:
                preview = preview[: PASSAGE_PREVIEW_CHARS - 1] + "…"
            lines.append(f"{source_line(number, passage, score)}\n> {preview}")
        await self._say(interaction, _fit("\n".join(lines)))

    async def _find(
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
        reservation = await self._reserve(ctx, model, estimate_tokens(query), 0)
        if reservation is None:
            return None
        spent = Spent()
        try:
            vectors = await self.embedder.embed([query], model, dimensions, spent, pooled=False)
        except OpenAIError as exc:
            await self._say(ctx.interaction, known_error_text(exc, ctx.locale) or ctx.t("error.api_server"))
            return None
        finally:
            await self._record(ctx, model, spent.tokens, 0, spent.estimated)
            await self._release(reservation)
        dims = int(vectors.shape[1])
        index = await self.cache.get(
            (guild_id, model, dims), lambda: self.repo.vectors(guild_id, model, dims)
        )
        hits = index.search(vectors[0], k, floor=floor, hidden=self._hidden_channels(ctx, index))
        passages = await self.repo.passages(guild_id, [h.chunk_id for h in hits])
        return used_passages(hits, passages)

    @staticmethod
    def _hidden_channels(ctx: InteractionContext, index: ServerIndex) -> set[int]:
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
        found = await self._find(ctx, settings, question, settings.top_k, settings.min_similarity)
        if found is None:
            return
        if not found:
            await self._say(interaction, ctx.t("knowledge.ask.not_found"))
            return
        passages = [p for p, _ in found]
        messages = build_messages(question, passages)
        prompt_tokens = sum(estimate_tokens(m["content"]) for m in messages)
        reservation = await self._reserve(ctx, answer_model, prompt_tokens, MAX_ANSWER_TOKENS)
        if reservation is None:
            return
        try:
            await self._stream_answer(ctx, answer_model, messages, found, prompt_tokens)
        finally:
            await self._release(reservation)

    async def _stream_answer(
        self,
        ctx: InteractionContext,
        model: str,
        messages: list[dict[str, str]],
        found: list[tuple[Passage, float]],
        prompt_tokens: int,
    ) -> None:
        interaction = ctx.interaction
        try:
            stream = await self.bot.api.chat.completions.stream(
                model=model,
                messages=list(messages),
                max_tokens=MAX_ANSWER_TOKENS,
                user=f"discord:{ctx.guild_id}:{interaction.user.id}",
            )
        except (OpenAIError, ChatParameterError) as exc:
            text = known_error_text(exc, ctx.locale) or ctx.t("knowledge.error.answer_failed", model=model)
            await self._say(interaction, text)
            return
        channel_id = interaction.channel_id or 0
        sequence: LiveTextSequence[discord.Message] = LiveTextSequence(
            InteractionSink(interaction), self.bot.edit_scheduler, channel_id
        )
        interrupted = await self._consume(stream, sequence)
        usage = stream.usage
        estimated = usage is None
        await self._record(
            ctx,
            model,
            usage.prompt_tokens if usage else prompt_tokens,
            usage.completion_tokens if usage else stream.deltas,
            estimated,
        )
        sources = "\n".join(source_line(n, p, s) for n, (p, s) in enumerate(found, start=1))
        answer = stream.text.strip() or ctx.t("knowledge.ask.empty_answer")
        if interrupted:
            answer += "\n\n" + ctx.t("knowledge.ask.interrupted")
        final = f"{answer}\n\n**{ctx.t('knowledge.ask.sources')}**\n{sources}"
        footer = f"-# {model}"
        try:
            await sequence.finish(final, footer=footer)
        except discord.HTTPException as exc:
            log.warning("Could not show an /ask answer: %s", exc.status)

    @staticmethod
    async def _consume(stream: ChatStream, sequence: LiveTextSequence[discord.Message]) -> bool:
        """Show the answer as it grows; True when the stream broke off."""
        rendered_at = 0.0
        try:
            async with stream:
                async for _ in stream:
                    now = time.monotonic()
                    if stream.text.strip() and now - rendered_at >= RENDER_INTERVAL:
                        sequence.update(stream.text)
                        rendered_at = now
        except OpenAIError as exc:
            log.warning("/ask answer stream broke: %s", type(exc).__name__)
            return True
        return False

    # -- budget, ledger, replies ----------------------------------------------------------------

    async def _reserve(
        self,
        ctx: InteractionContext,
        model: str,
        input_tokens: int,
        output_tokens: int,
        say: Callable[[str], Awaitable[None]] | None = None,
    ) -> Reservation | None:
        """Hold the call's worst-case cost; None (and the member told, in the reply or with `say`)
        when a budget refuses."""
        assert ctx.guild_id is not None and ctx.guild is not None
        user = ctx.interaction.user
        worst = self.bot.pricing.cost(model, input_tokens=input_tokens, output_tokens=output_tokens)
        try:
            return await self.bot.budgets.reserve(
                guild_id=ctx.guild_id,
                user_id=user.id,
                feature=FEATURE.name,
                amount=worst,
                settings=ctx.guild,
                role_ids=[role.id for role in getattr(user, "roles", ())],
            )
        except BudgetExceeded as refusal:
            text = budget_refusal_text(refusal, ctx.locale)
            await (say(text) if say is not None else self._say(ctx.interaction, text))
            return None

    async def _release(self, reservation: Reservation) -> None:
        try:
            await self.bot.budgets.release(reservation)
        except Exception:
            log.exception("Could not release budget reservation %s (it expires)", reservation.id)

    async def _record(
        self, ctx: InteractionContext, model: str, input_tokens: int, output_tokens: int, estimated: bool
    ) -> None:
        if not input_tokens and not output_tokens:
            return
        assert ctx.guild_id is not None
        event = UsageEvent(
            guild_id=ctx.guild_id,
            channel_id=ctx.interaction.channel_id,
            user_id=ctx.interaction.user.id,
            feature=FEATURE.name,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            estimated=estimated,
        )
        try:
            await self.bot.ledger.record(event)
        except Exception:
            log.exception("Usage of the knowledge base NOT recorded: %r", event)

    @classmethod
    async def _say(cls, interaction: discord.Interaction[Any], text: str) -> None:
        """Replace the deferred reply (progress bar, "thinking…") with `text`."""
        await cls._edit(interaction.edit_original_response, text)

    @staticmethod
    async def _edit(edit: Edit, text: str) -> None:
        try:
            await edit(content=text, view=None, allowed_mentions=NO_PINGS)
        except discord.HTTPException as exc:
            log.info("Could not deliver a knowledge base reply (interaction expired?): %s", exc.status)


def _wanted_dimensions(model: str, settings: KnowledgeSettings) -> int | None:
    """The dimensions an index with `model` should have (None: whatever the model gives)."""
    return settings.dimensions if asks_dimensions(model) else None


def _fit(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["KnowledgeCog"]
