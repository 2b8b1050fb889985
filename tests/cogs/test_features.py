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
    # /help and /write read no message content: without moderation and chat nothing privileged.
    plain = new_bot(extensions=("cogs.help", "cogs.write"))
    assert not plain.requested_privileged_intents
    assert plain.features.permissions() == discord.Permissions(
        view_channel=True, send_messages=True, send_messages_in_threads=True, attach_files=True
    )
    bot: OpenAIBot = simcord_env.bot
    # Moderation needs message content; /chat uses it when granted and can run without.
    assert bot.requested_privileged_intents == {"message_content"}
    assert [f.name for f in bot.features if f.intents] == ["moderation"]
    assert [f.name for f in bot.features if f.optional_intents] == ["chat", "transcribe"]
    # Reading and replying (in threads too), plus what each loaded feature declares: nothing else.
    expected = discord.Permissions(view_channel=True, send_messages=True, send_messages_in_threads=True)
    for feature in bot.features:
        expected.update(**dict.fromkeys(feature.permissions, True))
    assert bot.features.permissions() == expected
    assert expected.manage_messages and expected.moderate_members  # moderation deletes and times out
    assert bot.invite_url() == (
        f"https://discord.com/oauth2/authorize?client_id={bot.application_id}"
        f"&scope=bot+applications.commands&permissions={expected.value}"
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
        assert "moderation, listener" in caplog.text

        channel, alice = _world(env)
        embed = (await alice.slash(channel, "help")).response.embeds[0]
        # Every field within Discord's 1,024 characters; the features continue across fields.
        assert all(len(field.value) <= 1024 for field in embed.fields)
        lines = [line for field in embed.fields for line in field.value.splitlines()]
        assert any(line.startswith("✅ Conversations") and "mention the bot" in line for line in lines)
        assert any(
            line.startswith("✅ Transcription") and "automatic transcription is off" in line for line in lines
        )
        assert "✅ Text writing — /write completes your prompt, streamed as it is written" in lines
        unavailable = [line for line in lines if line.startswith("⚠️")]
        assert len(unavailable) == 2  # moderation and the test's listener; nothing else
        assert unavailable[0].startswith("⚠️ Automatic moderation — ")
        assert unavailable[1] == "⚠️ Listening (unavailable: Discord did not grant the bot an intent it needs)"
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


def test_readmes_invite_links_ask_for_what_the_loaded_features_need() -> None:
    """README's invite URL must follow the features: a new feature's permission shows up here."""
    import re
    from pathlib import Path

    from bot.features import FeatureRegistry

    needed = FeatureRegistry.from_extensions(EXTENSIONS).permissions().value
    root = Path(__file__).resolve().parents[2]
    for readme in ("README.md", "README.zh-CN.md"):
        text = (root / readme).read_text(encoding="utf-8")
        assert re.findall(r"permissions=(\d+)", text) == [str(needed)], readme
