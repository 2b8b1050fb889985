"""DiscordLimits: Discord's global limits in one place, installed once around the bot's REST client.
Every REST call waits for the shared budget, skips actions Discord refused, and 403s are remembered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
from discord.ext import commands
from discord.http import Route

from bot.discord_io.action_gate import Action, ActionGate, action_of
from bot.discord_io.invalid_requests import InvalidRequestCounter
from bot.discord_io.rest_budget import RestBudget

Request = Callable[..., Awaitable[Any]]


class DiscordLimits:
    """Built with the bot (its trace must reach discord.py's session), installed in setup_hook.

    Interaction responses, follow-ups and their edits never pass through `HTTPClient.request`
    (discord.py sends them through its webhook adapter), so they are outside the budget, as
    Discord's global limit leaves them.
    """

    def __init__(self, per_second: int) -> None:
        self.budget = RestBudget(per_second)
        self.gate = ActionGate()
        self.invalid_requests = InvalidRequestCounter()

    @property
    def http_trace(self) -> aiohttp.TraceConfig:
        """Pass as `http_trace=` to the discord.py client: it sees every response Discord sends."""
        return self.invalid_requests.trace_config

    def may(self, target: discord.abc.Snowflake, action: Action) -> bool:
        """May the bot `action` ("send", "edit", "delete" in a channel; "timeout" a member) here?"""
        return self.gate.may(target, action)

    def install(self, bot: commands.Bot) -> None:
        """Route the bot's REST calls through the budget and the gate.

        Call in setup_hook: by then `bot.http` is the client that will carry the requests (simcord
        swaps in its own before login). discord.py's own helpers call `self.request`, so an
        instance attribute reaches every caller.
        """
        original: Request = bot.http.request

        async def request(route: Route, **kwargs: Any) -> Any:
            return await self._send(bot, original, route, kwargs)

        bot.http.request = request  # type: ignore[method-assign]
        for event in (
            "on_guild_channel_update",
            "on_thread_update",
            "on_guild_role_update",
            "on_guild_role_delete",
            "on_member_update",
            "on_guild_update",
            "on_guild_remove",
        ):
            bot.add_listener(getattr(self.gate, event), event)

    async def _send(
        self, bot: discord.Client, original: Request, route: Route, kwargs: dict[str, Any]
    ) -> Any:
        gated = action_of(route, kwargs.get("json"))
        if gated is not None:
            self.gate.refuse_if_remembered(*gated)
        # Servers share the budget in turns; DMs and uncached channels share one lane.
        guild_id = _guild_of(bot, route)
        await self.budget.acquire(guild_id)
        try:
            return await original(route, **kwargs)
        except discord.Forbidden as exc:
            if gated is not None:
                self.gate.remember(*gated, guild_id, exc.code)
            raise


def _guild_of(bot: discord.Client, route: Route) -> int | None:
    if route.guild_id is not None:
        return int(route.guild_id)
    if route.channel_id is None:
        return None
    guild = getattr(bot.get_channel(int(route.channel_id)), "guild", None)
    return guild.id if guild is not None else None
