"""What the knowledge base's API calls cost: each call's worst case held against the server's
budgets before it starts, released after, and the tokens it really used recorded in the ledger."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.usage import UsageEvent
from bot.usage.budgets import BudgetExceeded, Reservation
from bot.usage.refusal import budget_refusal_text
from cogs.knowledge.feature import FEATURE
from cogs.knowledge.replies import say as say_in_reply

if TYPE_CHECKING:
    from bot.app import OpenAIBot
    from bot.context import InteractionContext

log = logging.getLogger(__name__)


class Metering:
    def __init__(self, bot: OpenAIBot) -> None:
        self.bot = bot

    async def reserve(
        self,
        ctx: InteractionContext,
        model: str,
        input_tokens: int,
        output_tokens: int,
        say: Callable[[str], Awaitable[None]] | None = None,
    ) -> Reservation | None:
        """Hold the call's worst-case cost; None (and the member told, in the reply or with `say`)
        when a budget refuses."""
        worst = self.bot.pricing.cost(model, input_tokens=input_tokens, output_tokens=output_tokens)
        try:
            return await ctx.reserve(self.bot.budgets, worst)
        except BudgetExceeded as refusal:
            text = budget_refusal_text(refusal, ctx.locale)
            await (say(text) if say is not None else say_in_reply(ctx.interaction, text))
            return None

    async def release(self, reservation: Reservation) -> None:
        try:
            await self.bot.budgets.release(reservation)
        except Exception:
            log.exception("Could not release budget reservation %s (it expires)", reservation.id)

    async def record(
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
