"""ActionGate: "may the bot do this here?" from cached permissions, and a memory of 403 answers.
An action Discord refused is not sent again for that channel or member until permissions change."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import discord
from discord.http import Route

log = logging.getLogger(__name__)

Action = Literal["send", "edit", "delete", "timeout"]
# A channel id for channel actions; (guild id, user id) for actions on a member.
Target = int | tuple[int, int]

# Permission changes arrive as gateway events, but not all of them reach us (without the members
# intent the bot may miss its own role changes), so a remembered refusal also fades after an hour:
# at worst one more 403 per channel and action an hour.
REMEMBER_SECONDS = 3600.0

_MEMBER_URL = re.compile(r"/guilds/\d+/members/(\d+)$")


class _RefusedResponse:
    """What discord.Forbidden reads from a response, for a refusal that never reached Discord."""

    status = 403
    reason = "Forbidden (remembered)"


class RememberedForbidden(discord.Forbidden):
    """Discord answered 403 to this action here before; it was not sent again.

    A discord.Forbidden with Discord's error code of that refusal, so features handle it exactly
    like the 403 it stands for.
    """

    def __init__(self, action: Action, code: int) -> None:
        super().__init__(_RefusedResponse(), {"code": code, "message": f"{action} was refused here before"})


@dataclass(slots=True)
class _Refusal:
    guild_id: int | None
    until: float
    code: int  # Discord's JSON error code, e.g. 50013 Missing Permissions


def action_of(route: Route, payload: Any) -> tuple[Action, Target] | None:
    """Which gated action a REST call performs, and on what; None for calls that are not gated."""
    method, path = route.method, route.path
    if path == "/channels/{channel_id}/messages" and method == "POST":
        return "send", int(route.channel_id or 0)
    if path == "/channels/{channel_id}/messages/{message_id}" and method in ("PATCH", "DELETE"):
        return ("edit" if method == "PATCH" else "delete"), int(route.channel_id or 0)
    if path == "/channels/{channel_id}/messages/bulk-delete" and method == "POST":
        return "delete", int(route.channel_id or 0)
    if (
        path == "/guilds/{guild_id}/members/{user_id}"
        and method == "PATCH"
        and isinstance(payload, dict)
        and "communication_disabled_until" in payload
    ):
        match = _MEMBER_URL.search(route.url)
        if match is not None:
            return "timeout", (int(route.guild_id or 0), int(match.group(1)))
    return None


def permitted(target: discord.abc.Snowflake, action: Action) -> bool:
    """What the cached permissions say; True when the cache cannot tell (then Discord decides)."""
    if action == "timeout":
        if not isinstance(target, discord.Member):
            return False
        guild = target.guild
        me = guild.me
        if me is None:
            return True
        # Discord refuses to time out the owner, administrators and anyone at or above our top role.
        return (
            me.guild_permissions.moderate_members
            and target.id != guild.owner_id
            and not target.guild_permissions.administrator
            and target.top_role < me.top_role
        )
    if not isinstance(target, (discord.abc.GuildChannel, discord.Thread)):
        return True  # DMs and channels we do not have cached
    me = target.guild.me
    if me is None:
        return True
    perms = target.permissions_for(me)  # already empty without view_channel, and for a timed-out bot
    if action == "send":
        return perms.send_messages_in_threads if isinstance(target, discord.Thread) else perms.send_messages
    if action == "edit":
        return perms.view_channel  # the bot edits only its own messages
    return perms.manage_messages  # delete: someone else's message (own ones need no permission)


class ActionGate:
    """One per bot. `may()` before acting; the REST layer calls `refuse_if_remembered`/`remember`."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock: Callable[[], float] = clock if clock is not None else lambda: time.monotonic()
        self._refused: dict[tuple[Target, Action], _Refusal] = {}

    def may(self, target: discord.abc.Snowflake, action: Action) -> bool:
        """May the bot `action` in this channel (send, edit, delete) or on this member (timeout)?"""
        return not self._remembered(_target_key(target, action), action) and permitted(target, action)

    def refuse_if_remembered(self, action: Action, target: Target) -> None:
        refusal = self._refused.get((target, action))
        if refusal is not None and refusal.until > self._clock():
            raise RememberedForbidden(action, refusal.code)

    def remember(self, action: Action, target: Target, guild_id: int | None, code: int) -> None:
        now = self._clock()
        self._refused = {key: r for key, r in self._refused.items() if r.until > now}
        self._refused[(target, action)] = _Refusal(guild_id, now + REMEMBER_SECONDS, code)
        log.info(
            "Discord refused %s on %s (guild %s); not trying again until permissions change",
            action,
            target,
            guild_id,
        )

    def forget_guild(self, guild_id: int) -> None:
        """Permissions changed somewhere in this guild: every refusal there may be outdated."""
        self._refused = {key: r for key, r in self._refused.items() if r.guild_id != guild_id}

    def forget_member(self, guild_id: int, user_id: int) -> None:
        """A member's roles changed: whether we may act on them may have changed."""
        self._refused = {key: r for key, r in self._refused.items() if key[0] != (guild_id, user_id)}

    def _remembered(self, target: Target, action: Action) -> bool:
        refusal = self._refused.get((target, action))
        return refusal is not None and refusal.until > self._clock()

    # -- gateway events that change permissions (registered by `DiscordLimits.install`) ----------

    async def on_guild_channel_update(self, _before: Any, after: discord.abc.GuildChannel) -> None:
        # A category's overwrites reach its synced channels too, so forget the whole guild.
        self.forget_guild(after.guild.id)

    async def on_thread_update(self, _before: Any, after: discord.Thread) -> None:
        self.forget_guild(after.guild.id)

    async def on_guild_role_update(self, _before: Any, after: discord.Role) -> None:
        self.forget_guild(after.guild.id)

    async def on_guild_role_delete(self, role: discord.Role) -> None:
        self.forget_guild(role.guild.id)

    async def on_member_update(self, _before: Any, after: discord.Member) -> None:
        if after.guild.me is not None and after.id == after.guild.me.id:
            self.forget_guild(after.guild.id)
        else:
            self.forget_member(after.guild.id, after.id)

    async def on_guild_update(self, _before: Any, after: discord.Guild) -> None:
        self.forget_guild(after.id)  # e.g. a new owner

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        self.forget_guild(guild.id)


def _target_key(target: discord.abc.Snowflake, action: Action) -> Target:
    if action == "timeout" and isinstance(target, discord.Member):
        return (target.guild.id, target.id)
    return target.id
