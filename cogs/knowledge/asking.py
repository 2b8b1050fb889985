"""/ask once its passages are found: the answer's worst-case cost held, the model's answer streamed
into the reply as it grows, its usage recorded, and the numbered sources added by the bot at the end."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import discord

from bot.discord_io.interaction_sink import InteractionSink
from bot.discord_io.live_text import LiveTextSequence
from bot.error_handler import known_error_text
from bot.openai_api import ChatParameterError, ChatStream, OpenAIError
from bot.usage.estimate import estimate_tokens
from cogs.knowledge.answer import build_messages, source_line
from cogs.knowledge.feature import MAX_ANSWER_TOKENS
from cogs.knowledge.metering import Metering
from cogs.knowledge.replies import say
from cogs.knowledge.store import Passage

if TYPE_CHECKING:
    from bot.app import OpenAIBot
    from bot.context import InteractionContext

log = logging.getLogger(__name__)

# The growing answer is shown at most this often (seconds).
RENDER_INTERVAL = 0.5


class Answerer:
    def __init__(self, bot: OpenAIBot, metering: Metering) -> None:
        self.bot = bot
        self.metering = metering

    async def answer(
        self, ctx: InteractionContext, model: str, question: str, found: list[tuple[Passage, float]]
    ) -> None:
        """Answer `question` from the passages `found` with the chat `model`, in the deferred reply."""
        messages = build_messages(question, [p for p, _ in found])
        prompt_tokens = sum(estimate_tokens(m["content"]) for m in messages)
        reservation = await self.metering.reserve(ctx, model, prompt_tokens, MAX_ANSWER_TOKENS)
        if reservation is None:
            return
        try:
            await self._stream_answer(ctx, model, messages, found, prompt_tokens)
        finally:
            await self.metering.release(reservation)

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
            await say(interaction, text)
            return
        channel_id = interaction.channel_id or 0
        sequence: LiveTextSequence[discord.Message] = LiveTextSequence(
            InteractionSink(interaction), self.bot.edit_scheduler, channel_id
        )
        interrupted = await _consume(stream, sequence)
        usage = stream.usage
        estimated = usage is None
        await self.metering.record(
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
