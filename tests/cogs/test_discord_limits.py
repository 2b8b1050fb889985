"""Discord's global limits with the real bot in simcord: remembered 403s, cached permissions, budget.

The bot's own DiscordLimits (installed in setup_hook) is under test; the budget tests restart the
bot with a small DISCORD_REST_PER_SECOND so a burst shows.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import discord
import pytest

from bot.discord_io.action_gate import RememberedForbidden
from bot.settings import Settings


def posts_to(env: Any, channel_id: int) -> int:
    return sum(
        1 for r in env.http_requests if r.method == "POST" and r.path == f"/channels/{channel_id}/messages"
    )


async def test_a_403_is_remembered_not_retried_and_forgotten_on_a_permission_change(simcord_env: Any) -> None:
    env = simcord_env
    guild = env.create_guild()
    handle = guild.create_text_channel("general")
    limits = env.bot.discord_limits
    channel = env.bot.get_channel(handle.id)
    env.inject_error(
        "POST",
        f"/channels/{handle.id}/messages",
        status=403,
        code=50013,
        message="Missing Permissions",
        times=None,
    )

    with pytest.raises(discord.Forbidden):
        await channel.send("first")
    assert limits.may(channel, "send") is False
    with pytest.raises(RememberedForbidden) as refused:
        await channel.send("second")
    assert refused.value.code == 50013  # what Discord said the first time
    assert posts_to(env, handle.id) == 1  # the second never reached Discord
    assert limits.invalid_requests.count == 0  # simcord has no HTTP session: nothing to trace

    # An admin grants the permission (a channel update arrives): the refusal is forgotten.
    env.backend.faults.clear()
    await channel.set_permissions(channel.guild.default_role, send_messages=True)
    await env.settle()
    assert limits.may(channel, "send") is True
    await channel.send("third")
    assert [m.content for m in handle.history()] == ["third"]
    assert posts_to(env, handle.id) == 2


async def test_may_reads_cached_permissions_before_anything_is_sent(simcord_env: Any) -> None:
    env = simcord_env
    guild = env.create_guild()
    bot_member = env.bot.get_guild(guild.id).me
    quiet = guild.create_text_channel(
        "announcements", overwrites={bot_member: discord.PermissionOverwrite(send_messages=False)}
    )
    open_ = guild.create_text_channel("general")
    limits = env.bot.discord_limits
    requests_before = len(env.http_requests)

    assert limits.may(env.bot.get_channel(quiet.id), "send") is False
    assert limits.may(env.bot.get_channel(open_.id), "send") is True
    assert limits.may(env.bot.get_channel(open_.id), "edit") is True
    assert len(env.http_requests) == requests_before  # asking costs no request


async def test_may_time_out_follows_the_role_hierarchy(simcord_env: Any) -> None:
    env = simcord_env
    owner = env.create_user("owner")
    guild = env.create_guild(owner=owner)
    admins = guild.create_role("admins", permissions=discord.Permissions(administrator=True))
    alice = guild.add_member(env.create_user("alice"))
    # Same top role as the bot: Discord lets a bot act only on members strictly below it.
    peer = guild.add_member(env.create_user("peer"), roles=[guild.roles["TestBot"]])
    carol = guild.add_member(env.create_user("carol"), roles=[admins])
    cached = env.bot.get_guild(guild.id)
    limits = env.bot.discord_limits
    assert cached.me.guild_permissions.moderate_members

    assert limits.may(await cached.fetch_member(alice.id), "timeout") is True
    assert limits.may(await cached.fetch_member(peer.id), "timeout") is False
    assert limits.may(await cached.fetch_member(carol.id), "timeout") is False
    assert limits.may(await cached.fetch_member(owner.id), "timeout") is False
    assert limits.may(env.bot.get_channel(guild.create_text_channel("general").id), "timeout") is False


async def _bot_with_budget(env: Any, new_bot: Any, bot_settings: Settings, per_second: int) -> None:
    await env.restart_bot(new_bot(bot_settings.model_copy(update={"discord_rest_per_second": per_second})))


async def test_the_budget_spreads_a_burst_over_seconds_in_simcord_too(
    simcord_env: Any, new_bot: Any, bot_settings: Settings
) -> None:
    env = simcord_env
    await _bot_with_budget(env, new_bot, bot_settings, 2)
    guild = env.create_guild()
    handle = guild.create_text_channel("general")
    alice = guild.add_member(env.create_user("alice"))
    sent_at: list[float] = []

    # The bot answers a message with five at once, as a feature would (in the bot's own task).
    async def burst(message: discord.Message) -> None:
        async def one(n: int) -> None:
            await message.channel.send(f"m{n}")
            sent_at.append(time.monotonic())  # simcord's virtual clock

        if message.author.id == alice.id:
            start = time.monotonic()
            await asyncio.gather(*(one(n) for n in range(5)))
            sent_at[:] = [round(t - start, 3) for t in sent_at]

    env.bot.add_listener(burst, "on_message")
    await alice.send(handle, "go")

    assert sorted(m.content for m in handle.history() if m.author.bot) == [f"m{n}" for n in range(5)]
    assert sent_at == [0.0, 0.0, 1.0, 1.0, 2.0]


async def test_interaction_responses_are_outside_the_budget(
    simcord_env: Any, new_bot: Any, bot_settings: Settings
) -> None:
    env = simcord_env
    await _bot_with_budget(env, new_bot, bot_settings, 1)
    guild = env.create_guild()
    handle = guild.create_text_channel("general")
    alice = guild.add_member(env.create_user("alice"))

    start = time.monotonic()
    await env.bot.get_channel(handle.id).send("uses this second's one request")
    result = await alice.slash(handle, "help")

    assert result.acknowledged
    assert time.monotonic() - start < 1.0  # /help's answer did not wait for the next second
