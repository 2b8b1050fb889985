"""The bot factory under simcord: command sync by hash, failing extensions, the error handler."""

from __future__ import annotations

from typing import Any

from bot.app import EXTENSIONS
from bot.settings import Settings

BOOM = "tests.cogs.boom_ext"


def _puts(env: Any) -> list[Any]:
    return [r for r in env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]


def _world(env: Any) -> tuple[Any, Any]:
    guild = env.create_guild()
    channel = guild.create_text_channel("general")
    return channel, guild.add_member(env.create_user("alice"))


async def test_unchanged_tree_is_not_synced_again_and_a_change_is(simcord_env: Any, new_bot: Any) -> None:
    assert len(_puts(simcord_env)) == 1
    assert simcord_env.bot.commands_synced

    await simcord_env.restart_bot(new_bot())  # same database, same commands
    assert len(_puts(simcord_env)) == 1
    assert not simcord_env.bot.commands_synced

    await simcord_env.restart_bot(new_bot(extensions=(*EXTENSIONS, BOOM)))
    assert len(_puts(simcord_env)) == 2
    assert {c["name"] for c in _puts(simcord_env)[-1].json} >= {"help", "boom"}

    # Commands still work after a restart that skipped the sync.
    channel, alice = _world(simcord_env)
    await simcord_env.restart_bot(new_bot(extensions=(*EXTENSIONS, BOOM)))
    assert len(_puts(simcord_env)) == 2
    result = await alice.slash(channel, "help")
    assert result.response.embeds[0].title == "What I can do"


async def test_dev_guild_sync_goes_to_that_guild(
    simcord_env: Any, bot_settings: Settings, new_bot: Any
) -> None:
    guild = simcord_env.create_guild()
    settings = bot_settings.model_copy(update={"dev_guild_id": guild.id})
    await simcord_env.restart_bot(new_bot(settings))
    guild_puts = [r for r in _puts(simcord_env) if f"/guilds/{guild.id}/commands" in r.path]
    assert len(guild_puts) == 1
    assert "help" in {c["name"] for c in guild_puts[0].json}
