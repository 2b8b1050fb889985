"""Allowed-mentions policy: nothing we send pings anyone unless a feature asks for it explicitly.
Model output can contain @everyone or role mentions; Discord must render them as text only."""

from __future__ import annotations

from collections.abc import Iterable

import discord

NO_PINGS = discord.AllowedMentions.none()


def ping_only(
    users: Iterable[discord.abc.Snowflake] = (), *, replied_user: bool = False
) -> discord.AllowedMentions:
    """Allowed mentions that ping exactly the given users (never @everyone or roles)."""
    listed = list(users)
    return discord.AllowedMentions(
        everyone=False, roles=False, users=listed if listed else False, replied_user=replied_user
    )
