"""One /chat answer: stream the chat completion into the thread, then footer, buttons, storage, ledger.

Whatever ends the stream (done, Stop, an error mid-way), the text so far is kept and stored as the
answer, and the usage produced is recorded exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

import discord

from bot.discord_io.live_text import LONG_TEXT_THRESHOLD, LiveTextSequence, long_text_file
from bot.discord_io.mentions import NO_PINGS
from bot.error_handler import known_error_text
from bot.i18n import t
from bot.openai_api import BadRequestError, ChatParameterError, ChatStream, NotFoundError, OpenAIError
from bot.usage import UsageEvent
from bot.usage.budgets import BudgetExceeded, Reservation
from bot.usage.cost import format_usd
from bot.usage.refusal import budget_refusal_text
from cogs.chat.conversations import Conversation, ConversationRepo, StoredMessage
from cogs.chat.feature import FEATURE, MAX_ANSWER_TOKENS
from cogs.chat.sink import ThreadSink
from cogs.chat.views import finished_view, streaming_view

if TYPE_CHECKING:
    from bot.app import OpenAIBot
    from cogs.chat.context import TurnContext

log = logging.getLogger(__name__)

# Seconds between re-renders of the growing text; the first render waits for a few words.
RENDER_INTERVAL = 0.25
FIRST_RENDER_MIN_CHARS = 24
FIRST_RENDER_MAX_WAIT = 0.4


@dataclass(slots=True)
class TurnOutcome:
    text: str
    finish_reason: str | None
    interrupted: bool
    stopped: bool
    input_tokens: int
    output_tokens: int
    estimated: bool
    request_id: str | None


class ChatTurn:
    """Answers one stored user message; `stop()` may be called from the Stop button."""

    def __init__(
        self,
        bot: OpenAIBot,
        repo: ConversationRepo,
        conversation: Conversation,
        thread: discord.Thread,
        trigger: StoredMessage,
        context: TurnContext,
        locale: str,
    ) -> None:
        self.bot = bot
        self.repo = repo
        self.conversation = conversation
        self.thread = thread
        self.trigger = trigger
        self.context = context
        self.locale = locale
        self.sink = ThreadSink(thread)
        # The first message carries the Stop button while the answer streams; the sequence clears it.
        self.sequence: LiveTextSequence[discord.Message] = LiveTextSequence(
            self.sink, bot.edit_scheduler, thread.id, first_view=streaming_view(conversation.id, locale)
        )
        self.stopped = False
        #: The stored answer, once the turn has one.
        self.answer: StoredMessage | None = None
        self._consumer: asyncio.Task[None] | None = None

    def stop(self) -> None:
        self.stopped = True
        if self._consumer is not None:
            self._consumer.cancel()

    async def open(self) -> ChatStream:
        conversation = self.conversation
        return await self.bot.api.chat.completions.stream(
            model=conversation.model,
            messages=self.context.messages,
            max_tokens=MAX_ANSWER_TOKENS,
            user=f"discord:{conversation.guild_id}:{self.trigger.author_id}",
        )

    async def run(self) -> TurnOutcome | None:
        """The whole turn; None when a budget or the API refused before answering (the thread is
        told why). The member's worst-case cost is held until the ledger has the real one."""
        reservation = await self._reserve()
        if reservation is None:
            return None
        try:
            return await self._run()
        finally:
            try:
                await self.bot.budgets.release(reservation)
            except Exception:
                log.exception("Could not release budget reservation %s (it expires)", reservation.id)

    async def _reserve(self) -> Reservation | None:
        """Hold the turn's worst case (the context in, the longest answer out); None when refused."""
        conversation = self.conversation
        member = self.thread.guild.get_member(self.trigger.author_id)
        worst = self.bot.pricing.cost(
            conversation.model, input_tokens=self.context.tokens, output_tokens=MAX_ANSWER_TOKENS
        )
        try:
            return await self.bot.budgets.reserve(
                guild_id=conversation.guild_id,
                user_id=self.trigger.author_id,
                feature=FEATURE.name,
                amount=worst,
                settings=await self.bot.guild_settings.get(conversation.guild_id),
                role_ids=[role.id for role in member.roles] if member is not None else [],
            )
        except BudgetExceeded as refusal:
            await self._say(budget_refusal_text(refusal, self.locale))
            return None

    async def _run(self) -> TurnOutcome | None:
        try:
            stream = await self.open()
        except (OpenAIError, ChatParameterError) as exc:
            await self._say(self._refusal_text(exc))
            return None
        outcome = await self._stream(stream)
        recorded = await self._record(outcome)
        shown = await self._finish(outcome, recorded)
        me = self.bot.user
        # Stored after it is shown: the next turn of this thread waits for this one anyway.
        self.answer = await self.repo.add_message(
            self.conversation,
            role="assistant",
            author_id=me.id if me else 0,
            author_name=me.display_name if me else "assistant",
            content=outcome.text,
            reply_to=self.trigger.id,
            message_id=shown,
        )
        return outcome

    async def _stream(self, stream: ChatStream) -> TurnOutcome:
        interrupted = False
        self._consumer = asyncio.create_task(self._consume(stream), name=f"chat-{self.conversation.id}")
        try:
            await self._consumer
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not self.stopped or (current is not None and current.cancelling()):
                raise  # the bot is shutting down, not a member pressing Stop
        except OpenAIError as exc:
            log.warning("Chat stream of conversation %s broke: %s", self.conversation.id, type(exc).__name__)
            interrupted = True
        return self._outcome(stream, interrupted)

    async def _consume(self, stream: ChatStream) -> None:
        rendered_at: float | None = None
        first_token_at: float | None = None
        async with stream:
            async for _ in stream:
                now = time.monotonic()
                # Most tokens arrive between two renders: they cost a clock read, not a join of the text.
                if rendered_at is not None and now - rendered_at < RENDER_INTERVAL:
                    continue
                text = stream.text
                visible = text.strip()
                if not visible:
                    continue
                if rendered_at is None:
                    first_token_at = first_token_at if first_token_at is not None else now
                    if len(visible) < FIRST_RENDER_MIN_CHARS and now - first_token_at < FIRST_RENDER_MAX_WAIT:
                        continue
                self.sequence.update(text)
                rendered_at = now

    def _outcome(self, stream: ChatStream, interrupted: bool) -> TurnOutcome:
        usage = stream.usage
        if usage is not None and not interrupted and not self.stopped:
            return TurnOutcome(
                stream.text,
                stream.finish_reason,
                False,
                False,
                usage.prompt_tokens,
                usage.completion_tokens,
                False,
                stream.meta.request_id,
            )
        # No usage from the server (compatible server, Stop, a broken stream): estimate.
        return TurnOutcome(
            stream.text,
            None if (interrupted or self.stopped) else stream.finish_reason,
            interrupted,
            self.stopped,
            self.context.tokens,
            stream.deltas,
            True,
            stream.meta.request_id,
        )

    async def _record(self, outcome: TurnOutcome) -> UsageEvent:
        conversation = self.conversation
        event = UsageEvent(
            guild_id=conversation.guild_id,
            channel_id=conversation.thread_id,
            user_id=self.trigger.author_id,
            feature=FEATURE.name,
            model=conversation.model,
            request_id=outcome.request_id,
            input_tokens=outcome.input_tokens,
            output_tokens=outcome.output_tokens,
            estimated=outcome.estimated,
        )
        try:
            return await self.bot.ledger.record(event)
        except Exception:
            log.exception("Usage of chat conversation %s NOT recorded: %r", conversation.id, event)
            return event

    def footer(self, outcome: TurnOutcome, recorded: UsageEvent) -> str:
        locale = self.locale
        lines = []
        if outcome.stopped:
            lines.append(t("chat.note.stopped", locale))
        elif outcome.interrupted:
            lines.append(t("chat.note.interrupted", locale))
        elif outcome.finish_reason == "length":
            lines.append(t("chat.note.length", locale))
        elif outcome.finish_reason == "content_filter":
            lines.append(t("chat.note.content_filter", locale))
        tokens = outcome.input_tokens + outcome.output_tokens
        cost = recorded.cost_usd if recorded.cost_usd is not None else Decimal(0)
        lines.append(
            t(
                "chat.footer",
                locale,
                model=self.conversation.model,
                tokens=f"~{tokens}" if outcome.estimated else str(tokens),
                cost=format_usd(cost),
            )
        )
        return "\n".join(f"-# {line}" for line in lines)

    async def _finish(self, outcome: TurnOutcome, recorded: UsageEvent) -> int | None:
        """Show the final answer; the id of its last message (with the buttons), None if not shown."""
        footer = self.footer(outcome, recorded)
        view = finished_view(self.conversation.id, self.locale)
        text = outcome.text
        # The server's rules may forbid what the model wrote: then the answer is not left on screen.
        forbidden = await self.bot.output_review.forbidden_categories(self.conversation.guild_id, text)
        if forbidden:
            text = t("chat.withheld", self.locale, categories=", ".join(forbidden))
        file = long_text_file(text) if len(text) > LONG_TEXT_THRESHOLD else None
        try:
            refs = await self.sequence.finish(text, footer=footer, view=view, file=file)
        except discord.HTTPException as exc:
            log.warning("Could not show a chat answer in thread %s: %s", self.thread.id, exc.status)
            return None
        return refs[-1].id if refs else None

    def _refusal_text(self, exc: BaseException) -> str:
        locale, model = self.locale, self.conversation.model
        if isinstance(exc, ChatParameterError):
            return t("chat.error.parameters", locale, model=model)
        if isinstance(exc, BadRequestError) and exc.code == "context_length_exceeded":
            return t("chat.error.context_length", locale, model=model)
        if isinstance(exc, NotFoundError) and exc.code in (None, "model_not_found"):
            return t("chat.error.unknown_model", locale, model=model)
        return known_error_text(exc, locale) or t("error.api_server", locale)

    async def _say(self, text: str) -> None:
        try:
            await self.thread.send(f"⚠️ {text}", allowed_mentions=NO_PINGS)
        except discord.HTTPException as exc:
            log.info("Could not post a note in thread %s: %s", self.thread.id, exc.status)
