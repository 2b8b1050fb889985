"""One /write answer: stream the completion into Discord, then footer, buttons and the ledger.

Whatever ends the stream (done, Stop, an error mid-way), the text so far is kept and the usage
that was produced is recorded exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import discord

from bot.discord_io.live_text import LONG_TEXT_THRESHOLD, LiveTextSequence, long_text_file
from bot.i18n import t
from bot.openai_api import OpenAIError
from bot.usage import UsageEvent
from bot.usage.cost import compute_cost, format_usd
from bot.usage.estimate import estimate_tokens
from cogs.write.endpoints import AnswerStream, open_answer_stream
from cogs.write.sink import AnswerSink
from cogs.write.views import finished_view, streaming_view

if TYPE_CHECKING:
    from bot.app import OpenAIBot
    from cogs.write.sessions import WriteSession

log = logging.getLogger(__name__)

# The first render waits for this many characters, or this long after the first token.
FIRST_RENDER_MIN_CHARS = 24
FIRST_RENDER_MAX_WAIT = 0.4


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """How one answer ended and what it used (exact from the server, or estimated)."""

    text: str
    finish_reason: str | None
    interrupted: bool
    stopped: bool
    input_tokens: int
    output_tokens: int
    estimated: bool
    request_id: str | None
    #: Ended because the bot was shutting down (an interruption the member did not ask for).
    shutdown: bool = False


class AnswerRun:
    """Streams one session's completion; `stop()` may be called from the Stop button."""

    def __init__(
        self,
        bot: OpenAIBot,
        interaction: discord.Interaction[Any],
        session: WriteSession,
        locale: str,
        *,
        first_is_original: bool,
    ) -> None:
        self.bot = bot
        self.interaction = interaction
        self.session = session
        self.locale = locale
        self.sink = AnswerSink(interaction, first_is_original=first_is_original)
        # The Stop button rides on the first message while the answer streams.
        self.sequence: LiveTextSequence[discord.Message] = LiveTextSequence(
            self.sink, bot.edit_scheduler, session.channel_id, first_view=streaming_view(session.id, locale)
        )
        self.stopped = False
        self.shutting_down = False
        self._consumer: asyncio.Task[None] | None = None
        self._chunks = 0

    def stop(self, *, shutdown: bool = False) -> None:
        """End the answer now: the member's Stop button, or the bot shutting down (`shutdown`)."""
        self.stopped = True
        self.shutting_down = shutdown
        if self._consumer is not None:
            self._consumer.cancel()

    async def open(self) -> AnswerStream:
        """Start the request on the model's endpoint; errors here (nothing produced yet) propagate."""
        return await open_answer_stream(self.bot, self.session)

    async def run(self, stream: AnswerStream) -> Outcome:
        interrupted = False
        self._consumer = asyncio.create_task(self._consume(stream), name=f"write-{self.session.id}")
        try:
            await self._consumer
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not self.stopped or (current is not None and current.cancelling()):
                raise  # the bot is shutting down, not the member pressing Stop
        except OpenAIError as exc:
            log.warning("Stream of write session %s broke: %s", self.session.id, type(exc).__name__)
            interrupted = True
        outcome = self._outcome(stream, interrupted)
        await self._record(outcome)
        return outcome

    async def abandon(self, stream: AnswerStream) -> None:
        """Close a stream nobody will see and record the estimate of what it used."""
        await stream.aclose()
        await self._record(self._outcome(stream, interrupted=True))

    async def _consume(self, stream: AnswerStream) -> None:
        first_token_at: float | None = None
        shown = False
        async with stream:
            async for chunk in stream:
                if not any(choice.text for choice in chunk.choices):
                    continue
                self._chunks += 1
                text = stream.text
                if not shown:
                    visible = text.strip()
                    if not visible:
                        continue
                    # The first message is worth a few words, not one: in a busy channel it costs
                    # one of the five sends per five seconds.
                    now = time.monotonic()
                    first_token_at = first_token_at if first_token_at is not None else now
                    if len(visible) < FIRST_RENDER_MIN_CHARS and now - first_token_at < FIRST_RENDER_MAX_WAIT:
                        continue
                    shown = True
                # Cheap per token: the sequence re-splits only the live tail and renders it when
                # an edit can go out.
                self.sequence.update(text)

    def _outcome(self, stream: AnswerStream, interrupted: bool) -> Outcome:
        usage = stream.usage
        if stream.usage_reported and usage is not None and not interrupted and not self.stopped:
            return Outcome(
                text=stream.text,
                finish_reason=stream.finish_reason,
                interrupted=False,
                stopped=False,
                input_tokens=usage.prompt_tokens,
                output_tokens=usage.completion_tokens or 0,
                estimated=False,
                request_id=stream.meta.request_id,
            )
        # No usage from the server (compatible server, Stop, or a broken stream): estimate what
        # was produced; each streamed chunk is about one token.
        return Outcome(
            text=stream.text,
            finish_reason=None if (interrupted or self.stopped) else stream.finish_reason,
            interrupted=interrupted or self.shutting_down,
            stopped=self.stopped and not self.shutting_down,
            shutdown=self.shutting_down,
            input_tokens=estimate_tokens(self.session.prompt),
            output_tokens=self._chunks,
            estimated=True,
            request_id=stream.meta.request_id,
        )

    async def _record(self, outcome: Outcome) -> None:
        """Record the usage once; a ledger failure is logged loudly but does not hide the answer."""
        session = self.session
        event = UsageEvent(
            guild_id=session.guild_id,
            channel_id=session.channel_id,
            user_id=session.user_id,
            feature="write",
            model=session.model,
            request_id=outcome.request_id,
            input_tokens=outcome.input_tokens,
            output_tokens=outcome.output_tokens,
            estimated=outcome.estimated,
        )
        try:
            self.recorded = await self.bot.ledger.record(event)
        except Exception:
            log.exception("Usage of write session %s NOT recorded: %r", session.id, event)
            # The footer still shows what the ledger would have charged.
            self.recorded = event.model_copy(update={"cost_usd": compute_cost(self.bot.pricing, event)})

    def footer(self, outcome: Outcome) -> str:
        locale = self.locale
        lines = []
        if outcome.stopped:
            lines.append(t("write.note.stopped", locale))
        elif outcome.shutdown:
            lines.append(t("write.note.shutdown", locale))
        elif outcome.interrupted:
            lines.append(t("write.note.interrupted", locale))
        elif outcome.finish_reason == "length":
            lines.append(t("write.note.length", locale, max_tokens=self.session.max_tokens))
        elif outcome.finish_reason == "content_filter":
            lines.append(t("write.note.content_filter", locale))
        tokens = outcome.input_tokens + outcome.output_tokens
        cost = self.recorded.cost_usd if self.recorded.cost_usd is not None else Decimal(0)
        lines.append(
            t(
                "write.footer",
                locale,
                model=self.session.model,
                tokens=f"~{tokens}" if outcome.estimated else str(tokens),
                cost=format_usd(cost),
            )
        )
        return "\n".join(f"-# {line}" for line in lines)

    async def finish(self, outcome: Outcome) -> None:
        footer = self.footer(outcome)
        text = outcome.text
        # The server's rules may forbid what the model wrote: then the answer is not left on screen.
        forbidden = await self.bot.output_review.forbidden_categories(self.session.guild_id, text)
        if forbidden:
            text = t("write.withheld", self.locale, categories=", ".join(forbidden))
        can_continue = (
            outcome.finish_reason != "content_filter" and bool(outcome.text.strip()) and not forbidden
        )
        view = finished_view(self.session.id, self.locale, can_continue=can_continue)
        file = long_text_file(text) if len(text) > LONG_TEXT_THRESHOLD else None
        await self.sequence.finish(text, footer=footer, view=view, file=file)
