"""The allowed-mentions policy: nobody is pinged unless named explicitly."""

from __future__ import annotations

import discord

from bot.discord_io.mentions import NO_PINGS, ping_only


def test_no_pings_blocks_everything() -> None:
    # An empty parse list with no users/roles lists is how Discord is told "ping nobody".
    assert NO_PINGS.to_dict() == {"parse": []}


def test_ping_only_names_users_and_never_everyone_or_roles() -> None:
    user = discord.Object(id=1234)
    assert ping_only([user]).to_dict() == {"parse": [], "users": [1234]}
    assert ping_only([user], replied_user=True).to_dict() == {
        "parse": [],
        "users": [1234],
        "replied_user": True,
    }
    assert ping_only().to_dict() == NO_PINGS.to_dict()
