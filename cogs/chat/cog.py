"""/chat: conversations in threads. `/chat new` opens a thread, then every member message there gets
a streamed answer with the thread's history as context, one at a time and in order.

Without the Message Content intent the bot reads only messages that mention it (Discord delivers
their text), and answers those.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands, tasks

from bot.cooldowns import Cooldowns
from bot.discord_io.mentions import NO_PINGS
from bot.discord_io.replies import reply_privately
from bot.discord_io.splitting import DISCORD_LIMIT
from bot.error_handler import handle_app_command_error
from bot.errors import Cooldown, UserFacingError
from bot.i18n import t
from bot.retention import purge_past_retention
from cogs.chat.answer import ChatTurn
from cogs.chat.context import ContextWindow, accepts_images, build_context
from cogs.chat.conversations import Conversation, ConversationRepo, StoredMessage
from cogs.chat.feature import (
    FEATURE,
    MAX_IMAGE_BYTES,
    MAX_IMAGES_PER_MESSAGE,
    MAX_INSTRUCTIONS_CHARS,
    MAX_MESSAGE_CHARS,
    ChatSettings,
)
from cogs.chat.views import Action

if TYPE_CHECKING:
    from bot.app import OpenAIBot
    from bot.context import InteractionContext

log = logging.getLogger(__name__)

# A public thread archives itself after a day without messages; the conversation can go on after.
AUTO_ARCHIVE_MINUTES: Literal[1440] = 1440
THREAD_NAME_CHARS = 90
SHUTDOWN_GRACE_SECONDS = 5.0
PURGE_INTERVAL_HOURS = 6.0
# Conversations whose recent messages are kept in memory (each at most twice its context budget).
MAX_WINDOWS = 500


class ChatError(UserFacingError):
    """A /chat refusal whose text is the catalog key given."""

    def __init__(self, key: str, **params: Any) -> None:
        self.key = key
        super().__init__(**params)


def thread_name(user: discord.abc.User, message: str | None) -> str:
    text = " ".join((message or "").split())
    if not text:
        return f"💬 {user.display_name}"
    return "💬 " + (text if len(text) <= THREAD_NAME_CHARS else text[: THREAD_NAME_CHARS - 1] + "…")


def quoted(message: str, limit: int) -> str:
    """The member's opening message as a quote of at most `limit` characters (a message may hold
    4,000, a Discord message 2,000 with the welcome); the model still gets all of it."""
    text = "\n".join(f"> {line}" for line in message.splitlines())
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


class ChatCog(commands.Cog, name="Chat"):
    chat = app_commands.Group(
        name=locale_str("chat", key="cmd.chat.name"),
        description=locale_str("Conversations with the AI model in threads", key="cmd.chat.description"),
        guild_only=True,
    )

    def __init__(self, bot: OpenAIBot) -> None:
        self.bot = bot
        self.repo = ConversationRepo(bot.db)
        self.cooldowns = Cooldowns()
        #: conversation id -> the answer streaming now
        self.running: dict[int, ChatTurn] = {}
        #: thread id -> user messages waiting for their answer, in order; and the task answering them
        self._pending: dict[int, deque[tuple[Conversation, StoredMessage]]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        #: conversation id -> its newest messages, so a turn reads no rows (see ContextWindow)
        self._windows: dict[int, ContextWindow] = {}

    async def cog_load(self) -> None:
        self._purge_old.start()

    @property
    def reads_all_messages(self) -> bool:
        """With the Message Content intent every member message is read; without, only mentions."""
        return bool(self.bot.intents.message_content)

    # -- commands -------------------------------------------------------------------------------

    @chat.command(
        name=locale_str("new", key="cmd.chat.new.name"),
        description=locale_str("Start a conversation in a new thread", key="cmd.chat.new.description"),
    )
    @app_commands.rename(
        message=locale_str("message", key="cmd.chat.new.opt.message.name"),
        model=locale_str("model", key="cmd.chat.new.opt.model.name"),
        instructions=locale_str("instructions", key="cmd.chat.new.opt.instructions.name"),
    )
    @app_commands.describe(
        message=locale_str("Your first message (optional)", key="cmd.chat.new.opt.message.description"),
        model=locale_str(
            "Model to use (the server's default if empty)", key="cmd.chat.new.opt.model.description"
        ),
        instructions=locale_str(
            "How the assistant should behave in this conversation",
            key="cmd.chat.new.opt.instructions.description",
        ),
    )
    async def new(
        self,
        interaction: discord.Interaction[Any],
        message: app_commands.Range[str, 1, MAX_MESSAGE_CHARS] | None = None,
        model: app_commands.Range[str, 1, 100] | None = None,
        instructions: app_commands.Range[str, 1, MAX_INSTRUCTIONS_CHARS] | None = None,
    ) -> None:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        settings, channel, chosen = self._check_new(ctx, model)
        assert ctx.guild_id is not None
        self.cooldowns.start(ctx.guild_id, interaction.user.id, settings.cooldown_seconds)
        # Creating a thread is a REST call that can be slow: acknowledge first.
        await interaction.response.defer(thinking=True)
        kind = (
            discord.ChannelType.private_thread
            if settings.private_threads
            else discord.ChannelType.public_thread
        )
        thread = await channel.create_thread(
            name=thread_name(interaction.user, message),
            type=kind,
            auto_archive_duration=AUTO_ARCHIVE_MINUTES,
        )
        if settings.private_threads:
            await thread.add_user(interaction.user)
        conversation = await self.repo.create(
            guild_id=ctx.guild_id,
            channel_id=channel.id,
            thread_id=thread.id,
            user_id=interaction.user.id,
            model=chosen,
            instructions=instructions or "",
            locale=ctx.locale,
        )
        await interaction.edit_original_response(
            content=ctx.t("chat.started", user=interaction.user.mention, thread=thread.mention),
            allowed_mentions=NO_PINGS,
        )
        how = "chat.welcome.all" if self.reads_all_messages else "chat.welcome.mentions"
        intro = ctx.t("chat.welcome", user=interaction.user.mention, model=chosen)
        intro += "\n" + ctx.t(how, bot=self.bot.user.mention if self.bot.user else "@bot")
        if message:
            intro += "\n\n" + quoted(message, DISCORD_LIMIT - len(intro) - 2)
        await thread.send(intro, allowed_mentions=NO_PINGS)
        if message:
            stored = await self.repo.add_message(
                conversation,
                role="user",
                author_id=interaction.user.id,
                author_name=interaction.user.display_name,
                content=message,
            )
            self._enqueue(thread, conversation, stored)

    def _check_new(
        self, ctx: InteractionContext, model: str | None
    ) -> tuple[ChatSettings, discord.TextChannel, str]:
        """Everything that can refuse /chat new before anything is spent."""
        channel = ctx.interaction.channel
        if not isinstance(channel, discord.TextChannel):
            raise ChatError("chat.error.not_text_channel")
        settings = ctx.require_feature(
            "view_channel", "send_messages", "send_messages_in_threads", "create_public_threads"
        )
        assert isinstance(settings, ChatSettings) and ctx.guild_id is not None
        if settings.private_threads:
            ctx.require_feature("create_private_threads")
        chosen = model or ctx.model
        assert chosen is not None, "chat declares a default model setting"
        if not settings.is_model_allowed(chosen):
            raise ChatError(
                "chat.error.model_not_allowed", model=chosen, allowed=", ".join(settings.allowed_models)
            )
        known = self.bot.model_catalog.ids()
        if known is not None and chosen not in known:
            raise ChatError("chat.error.unknown_model", model=chosen)
        remaining = self.cooldowns.remaining(ctx.guild_id, ctx.interaction.user.id)
        if remaining > 0:
            raise Cooldown(remaining)
        return settings, channel, chosen

    @new.autocomplete("model")
    async def _model_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        ids = self.bot.model_catalog.ids() or []
        needle = current.lower()
        return [
            app_commands.Choice(name=m, value=m)
            for m in ids
            if needle in m.lower()
            and (ctx.settings is None or ctx.settings.is_model_allowed(m))
            and _is_chat_model(m)
        ][:25]

    @chat.command(
        name=locale_str("end", key="cmd.chat.end.name"),
        description=locale_str("End the conversation in this thread", key="cmd.chat.end.description"),
    )
    async def end(self, interaction: discord.Interaction[Any]) -> None:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        conversation = None
        if ctx.guild_id is not None and isinstance(interaction.channel, discord.Thread):
            conversation = await self.repo.by_thread(ctx.guild_id, interaction.channel.id)
        if conversation is None:
            await reply_privately(interaction, ctx.t("chat.error.not_a_conversation"))
            return
        await self._end(interaction, ctx, conversation)

    async def _end(
        self, interaction: discord.Interaction[Any], ctx: InteractionContext, conversation: Conversation
    ) -> None:
        if interaction.user.id != conversation.user_id and not ctx.member_permissions.manage_threads:
            await reply_privately(
                interaction, ctx.t("chat.error.not_yours", user=f"<@{conversation.user_id}>")
            )
            return
        ended = await self.repo.end(conversation)
        self._forget_thread(conversation)
        if not ended:
            await reply_privately(interaction, ctx.t("chat.already_ended"))
            return
        await interaction.response.send_message(
            ctx.t("chat.ended", user=interaction.user.mention), allowed_mentions=NO_PINGS
        )
        thread = interaction.channel
        if isinstance(thread, discord.Thread):
            try:
                await thread.edit(archived=True)
            except discord.HTTPException as exc:  # no Manage Threads: the thread just stays open
                log.info("Could not archive ended conversation thread %s: %s", thread.id, exc.status)

    # -- messages in conversation threads --------------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        thread = message.channel
        if message.author.bot or message.guild is None or not isinstance(thread, discord.Thread):
            return
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        me = self.bot.user
        mentioned = me is not None and me in message.mentions
        if not self.reads_all_messages and not mentioned:
            return  # Discord withholds the text of messages that do not mention the bot
        conversation = await self.repo.by_thread(message.guild.id, thread.id)
        if conversation is None or conversation.ended:
            return
        if not self.bot.features.is_available(FEATURE.name):
            return
        settings = await self.bot.feature_settings.get(message.guild.id, FEATURE)
        assert isinstance(settings, ChatSettings)
        if not settings.enabled:
            return
        content = message.content
        if me is not None:
            content = re.sub(rf"<@!?{me.id}>", "", content).strip()
        images = tuple(
            a.url
            for a in message.attachments
            if (a.content_type or "").startswith("image/") and a.size <= MAX_IMAGE_BYTES
        )[:MAX_IMAGES_PER_MESSAGE]
        if not content and not images:
            return
        if conversation.turns + self._queued(thread.id) >= settings.max_turns:
            await self._note(thread, t("chat.turn_limit", conversation.locale, turns=settings.max_turns))
            return
        stored = await self.repo.add_message(
            conversation,
            role="user",
            author_id=message.author.id,
            author_name=message.author.display_name,
            content=content[:MAX_MESSAGE_CHARS],
            images=images,
            message_id=message.id,
        )
        window = self._windows.get(conversation.id)
        if window is not None:
            window.add(stored)
        self._enqueue(thread, conversation, stored)

    @commands.Cog.listener()
    async def on_thread_update(self, before: discord.Thread, after: discord.Thread) -> None:
        if after.archived and not before.archived:
            conversation = await self.repo.by_thread(after.guild.id, after.id)
            if conversation is not None and not conversation.ended:
                await self.repo.end(conversation)
                self._forget_thread(conversation)

    def _queued(self, thread_id: int) -> int:
        return len(self._pending.get(thread_id, ()))

    def _enqueue(self, thread: discord.Thread, conversation: Conversation, trigger: StoredMessage) -> None:
        """Answer `trigger` after whatever this thread is already answering, in arrival order."""
        self._pending.setdefault(thread.id, deque()).append((conversation, trigger))
        worker = self._workers.get(thread.id)
        if worker is None or worker.done():
            self._workers[thread.id] = asyncio.create_task(
                self._work(thread), name=f"chat-thread-{thread.id}"
            )

    async def _work(self, thread: discord.Thread) -> None:
        queue = self._pending.get(thread.id)
        try:
            while queue:
                conversation, trigger = queue.popleft()
                try:
                    await self._answer(thread, conversation, trigger)
                except Exception:  # one failed turn must not stop the thread's later answers
                    log.exception("Chat turn for message %s in thread %s failed", trigger.id, thread.id)
        finally:
            if self._workers.get(thread.id) is asyncio.current_task():
                self._workers.pop(thread.id, None)
                if not self._pending.get(thread.id):
                    self._pending.pop(thread.id, None)

    async def _answer(
        self, thread: discord.Thread, conversation: Conversation, trigger: StoredMessage
    ) -> None:
        """Answer `trigger`. `conversation` is as the caller read it; its window in memory means it is
        still open (every way a conversation ends drops the window), else the row is read again."""
        if conversation.id not in self._windows:
            fresh = await self.repo.get(conversation.guild_id, conversation.id)
            if fresh is None or fresh.ended:
                return
            conversation = fresh
        settings = await self.bot.feature_settings.get(conversation.guild_id, FEATURE)
        assert isinstance(settings, ChatSettings)
        window = await self._window(conversation, settings.max_context_tokens)
        # A message posted while the window was being loaded may have missed it; its turn adds it
        # (every earlier message's turn came first, so the context before it is complete).
        window.add(trigger)
        context = build_context(
            window.up_to(trigger.id),
            conversation.instructions,
            settings.max_context_tokens,
            with_images=accepts_images(conversation.model),
        )
        turn = ChatTurn(self.bot, self.repo, conversation, thread, trigger, context, conversation.locale)
        self.running[conversation.id] = turn
        try:
            await turn.run()
        finally:
            self.running.pop(conversation.id, None)
        if turn.answer is not None:
            window.add(turn.answer)

    async def _window(self, conversation: Conversation, budget: int) -> ContextWindow:
        window = self._windows.get(conversation.id)
        if window is None or window.budget != budget:
            window = ContextWindow(await self.repo.history(conversation, budget=2 * budget), budget)
            if len(self._windows) >= MAX_WINDOWS:
                # The longest-idle conversation goes first: dicts keep insertion order.
                self._windows.pop(next(iter(self._windows)))
            self._windows[conversation.id] = window
        else:
            self._windows[conversation.id] = self._windows.pop(conversation.id)  # most recent last
        return window

    def _forget_thread(self, conversation: Conversation) -> None:
        """Drop waiting messages and stop the answer streaming in an ended conversation."""
        waiting = self._pending.pop(conversation.thread_id, None)
        if waiting is not None:
            waiting.clear()  # the thread's worker holds this queue: it must find it empty
        self._windows.pop(conversation.id, None)
        turn = self.running.get(conversation.id)
        if turn is not None:
            turn.stop()

    async def _note(self, thread: discord.Thread, text: str) -> None:
        try:
            await thread.send(f"-# {text}", allowed_mentions=NO_PINGS)
        except discord.HTTPException as exc:
            log.info("Could not post a note in thread %s: %s", thread.id, exc.status)

    # -- buttons --------------------------------------------------------------------------------

    async def on_button(
        self, interaction: discord.Interaction[Any], action: Action, conversation_id: int
    ) -> None:
        try:
            await self._on_button(interaction, action, conversation_id)
        except Exception as exc:  # buttons have no tree handler; route them through the same one
            await handle_app_command_error(interaction, exc, await self.bot.contexts.locale(interaction))

    async def _on_button(
        self, interaction: discord.Interaction[Any], action: Action, conversation_id: int
    ) -> None:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        conversation = None
        if ctx.guild_id is not None:
            conversation = await self.repo.get(ctx.guild_id, conversation_id)
        if conversation is None or conversation.thread_id != interaction.channel_id:
            await reply_privately(interaction, ctx.t("chat.button.expired"))
            return
        if action == "end":
            await self._end(interaction, ctx, conversation)
            return
        if conversation.ended:
            await reply_privately(interaction, ctx.t("chat.already_ended"))
            return
        if action == "stop":
            turn = self.running.get(conversation.id)
            if turn is None:
                await reply_privately(interaction, ctx.t("chat.button.already_done"))
                return
            turn.stop()
            await interaction.response.defer()
            return
        await self._regenerate(interaction, ctx, conversation)

    async def _regenerate(
        self, interaction: discord.Interaction[Any], ctx: InteractionContext, conversation: Conversation
    ) -> None:
        """Replace the conversation's last answer with a new one (only the last can be regenerated)."""
        thread = interaction.channel
        assert isinstance(thread, discord.Thread)
        if conversation.id in self.running or self._queued(thread.id):
            await reply_privately(interaction, ctx.t("chat.button.busy"))
            return
        trigger = await self.repo.last_user_message(conversation)
        answer = await self.repo.answer_to(conversation, trigger.id) if trigger is not None else None
        message = interaction.message
        if trigger is None or answer is None or message is None or answer.message_id != message.id:
            await reply_privately(interaction, ctx.t("chat.button.not_last"))
            return
        ctx.require_feature("send_messages_in_threads")
        await self.repo.delete_answer(conversation, answer.id)
        window = self._windows.get(conversation.id)
        if window is not None:
            window.remove(answer.id)
        # The old answer stays readable; its buttons go, the new answer brings its own.
        await interaction.response.edit_message(view=None)
        self._enqueue(thread, conversation, trigger)

    # -- data kept ------------------------------------------------------------------------------

    @tasks.loop(hours=PURGE_INTERVAL_HOURS)
    async def _purge_old(self) -> None:
        await self.purge_old_conversations(datetime.now(UTC))

    async def purge_old_conversations(self, now: datetime) -> int:
        """Delete conversations past each server's retention (`keep_days`)."""
        deleted = await purge_past_retention(
            self.bot.feature_settings,
            FEATURE,
            "keep_days",
            lambda default, days: self.repo.purge(now, default, days),
            "/chat conversations",
        )
        if deleted:
            # A window in memory says its conversation still exists (see _answer): reload them all.
            self._windows.clear()
        return deleted

    async def cog_unload(self) -> None:
        """On shutdown, stop answers the way Stop does, so their usage is recorded and text kept."""
        self._purge_old.cancel()
        for turn in list(self.running.values()):
            turn.stop()
        self._pending.clear()
        workers = [w for w in self._workers.values() if not w.done()]
        if workers:
            _, late = await asyncio.wait(workers, timeout=SHUTDOWN_GRACE_SECONDS)
            for task in late:
                task.cancel()
            if late:
                log.warning("%d /chat answers did not finish before shutdown", len(late))


def _is_chat_model(model: str) -> bool:
    name = model.lower()
    skip = (
        "embed",
        "whisper",
        "tts",
        "dall-e",
        "image",
        "moderation",
        "transcribe",
        "instruct",
        "davinci",
        "babbage",
    )
    return not any(part in name for part in skip)
