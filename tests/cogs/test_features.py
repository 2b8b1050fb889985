"""The feature seams under simcord: intents and invite permissions from the loaded features, a
privileged intent Discord refuses, and one context per interaction."""

from __future__ import annotations

from typing import Any

import discord
import pytest
from simcord import Env

from bot.app import EXTENSIONS, OpenAIBot, run_with_granted_intents
from tests.cogs.conftest import assert_errors

LISTENER = "tests.cogs.listener_ext"


def _world(env: Any) -> tuple[Any, Any]:
    guild = env.create_guild()
    channel = guild.create_text_channel("general")
    return channel, guild.add_member(env.create_user("alice"))


async def test_the_bot_asks_only_for_what_its_features_need(simcord_env: Any, new_bot: Any) -> None:
    bot: OpenAIBot = new_bot(extensions=("cogs.help", "cogs.write"))
    # /help and /write read no message content: no privileged intent is requested.
    assert not bot.requested_privileged_intents
    assert bot.features.permissions() == discord.Permissions(
        view_channel=True, send_messages=True, send_messages_in_threads=True, attach_files=True
    )
    assert bot.invite_url() == (
        f"https://discord.com/oauth2/authorize?client_id={bot.application_id or 0}"
        "&scope=bot+applications.commands&permissions=274877942784"
    )
    listening = new_bot(extensions=("cogs.help", "cogs.write", LISTENER))
    assert listening.requested_privileged_intents == {"message_content"}
    assert listening.features.permissions().read_message_history
    # Transcription's automatic mode asks for message content; the feature runs without it.
    assert simcord_env.bot.requested_privileged_intents == {"message_content"}


async def test_a_refused_privileged_intent_turns_off_only_the_features_needing_it(
    new_bot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[frozenset[str]] = []
    envs: list[Env] = []

    def make(refused: frozenset[str]) -> OpenAIBot:
        attempts.append(refused)
        bot: OpenAIBot = new_bot(extensions=(*EXTENSIONS, LISTENER), refused_intents=refused)
        return bot

    async def connect(bot: OpenAIBot) -> None:
        # A simulated developer portal where the Message Content intent is not enabled.
        envs.append(Env(bot, approved_intents=discord.Intents.default()))
        await envs[-1].start()

    bot = await run_with_granted_intents(make, connect)
    env = envs[-1]
    try:
        assert attempts == [frozenset(), frozenset({"message_content"})]
        assert not bot.intents.message_content
        assert "Discord refused the privileged intents ['message_content']" in caplog.text
        assert "listener" in caplog.text

        channel, alice = _world(env)
        embed = (await alice.slash(channel, "help")).response.embeds[0]
        assert embed.fields[0].value.splitlines() == [
            "✅ Text writing — /write completes your prompt, streamed as it is written",
            "✅ Transcription — /transcribe and the Transcribe message menu turn audio into text; "
            "automatic replies in chosen channels need the Message Content intent",
            "⚠️ Listening (unavailable: Discord did not grant the bot an intent it needs)",
        ]
        result = await alice.slash(channel, "listen")
        assert result.ephemeral
        assert result.response.content.startswith("Listening is unavailable: Discord did not grant the bot")
        assert_errors(env, "FeatureUnavailable")
        # /write is untouched by the missing intent; transcription only loses its automatic mode.
        assert bot.features.is_available("write")
        assert bot.features.is_available("transcribe")
    finally:
        await env.shutdown()


async def test_one_interaction_reads_the_settings_once(
    simcord_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot: OpenAIBot = simcord_env.bot
    channel, alice = _world(simcord_env)
    reads: list[str] = []
    guild_get, feature_get = bot.guild_settings.get, bot.feature_settings.get

    async def counting_guild_get(guild_id: int) -> Any:
        reads.append("guild")
        return await guild_get(guild_id)

    async def counting_feature_get(guild_id: int, feature: Any) -> Any:
        reads.append(feature.name)
        return await feature_get(guild_id, feature)

    monkeypatch.setattr(bot.guild_settings, "get", counting_guild_get)
    monkeypatch.setattr(bot.feature_settings, "get", counting_feature_get)
    # A refused /write builds its context, raises, and the error handler reuses it for the locale.
    await bot.feature_settings.update(channel.guild.id, bot.features["write"], enabled=False)
    await alice.slash(channel, "write", prompt="hi")
    assert reads == ["guild", "write"]
    assert_errors(simcord_env, "FeatureDisabled")
