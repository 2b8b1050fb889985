"""Telling a server what moderation needs it to know: its log channel, the language to write in, and
incidents (unchecked messages, a missing permission) reported once per quiet period, not per message."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import discord

from bot.discord_io.mentions import NO_PINGS
from bot.i18n import t

if TYPE_CHECKING:
    from bot.app import OpenAIBot

log = logging.getLogger(__name__)

# An incident is reported once, then not again for this long.
INCIDENT_QUIET_SECONDS = 600.0

Spawn = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]


class ServerNotices:
    """Where and in which language moderation speaks to a server's moderators."""

    def __init__(self, bot: OpenAIBot, spawn: Spawn) -> None:
        self.bot = bot
        self._spawn = spawn
        self._incidents: dict[tuple[int, str], float] = {}

    def report(self, guild_id: int, kind: str, key: str, *, to_owner: bool = False, **params: Any) -> None:
        """Tell the server once per incident: a new report of the same kind waits INCIDENT_QUIET_SECONDS."""
        now = time.monotonic()
        last = self._incidents.get((guild_id, kind))
        self._incidents[(guild_id, kind)] = now
        if last is not None and now - last < INCIDENT_QUIET_SECONDS:
            return
        self._spawn(self._send_report(guild_id, key, to_owner, params))

    async def _send_report(self, guild_id: int, key: str, to_owner: bool, params: dict[str, Any]) -> None:
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            return
        locale = await self.guild_locale(guild)
        text = t(key, locale, **params)
        channel = None if to_owner else await self.log_channel(guild)
        try:
            if channel is not None:
                await channel.send(text, allowed_mentions=NO_PINGS)
                return
        except discord.HTTPException:
            pass
        owner = guild.owner or (await guild.fetch_member(guild.owner_id) if guild.owner_id else None)
        if owner is None:
            return
        try:
            await owner.send(t("moderation.incident.owner", locale, server=guild.name, text=text))
        except discord.HTTPException:
            log.warning("moderation: could not tell guild %d about an incident (%s)", guild_id, key)

    async def report_when_ready(self, guild_id: int, count: int) -> None:
        """After a restart: `count` messages were queued when the bot stopped and were never checked."""
        await self.bot.wait_until_ready()
        self.report(guild_id, "unchecked", "moderation.incident.restart", count=count)

    async def log_channel(self, guild: discord.Guild) -> discord.TextChannel | discord.Thread | None:
        """The server's log channel if one is set and the bot may post there (else the owner hears)."""
        settings = await self.bot.guild_settings.get(guild.id)
        if settings.log_channel_id is None:
            return None
        channel = guild.get_channel_or_thread(settings.log_channel_id)
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            return None
        if not self.bot.discord_limits.may(channel, "send"):
            self.report(guild.id, "missing:log", "moderation.incident.missing_log", to_owner=True)
            return None
        return channel

    async def guild_locale(self, guild: discord.Guild) -> str:
        """The language for messages nobody in particular asked for: the server's reply language,
        else its community language."""
        settings = await self.bot.guild_settings.get(guild.id)
        if settings.reply_locale:
            return settings.reply_locale
        return "zh-CN" if str(guild.preferred_locale).startswith("zh") else "en-US"
