"""/help through the real bot (create_bot) in simcord: both languages, features, privacy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.app import OpenAIBot


def _world(env: Any) -> tuple[Any, Any, Any]:
    guild = env.create_guild()
    channel = guild.create_text_channel("general")
    member = guild.add_member(env.create_user("alice"))
    return guild, channel, member


async def test_help_in_english_lists_commands_and_features(simcord_env: Any) -> None:
    _guild, channel, alice = _world(simcord_env)
    result = await alice.slash(channel, "help")
    assert result.ephemeral
    embed = result.response.embeds[0]
    assert embed.title == "What I can do"
    assert "`/help` — Show the bot's commands and this server's features" in embed.description
    assert "`/write` — Write text with the AI model, streamed as it is generated" in embed.description
    features = embed.fields[0]
    assert features.name == "Features in this server"
    assert "✅ Text writing (/write)" in features.value


async def test_help_follows_the_servers_reply_language(simcord_env: Any) -> None:
    guild, channel, alice = _world(simcord_env)
    bot: OpenAIBot = simcord_env.bot
    await bot.guild_settings.update(guild.id, reply_locale="zh-CN", features={"write": False})
    result = await alice.slash(channel, "help")
    embed = result.response.embeds[0]
    assert embed.title == "我能做什么"
    assert "`/help` — 显示机器人的命令和本服务器启用的功能" in embed.description
    assert "⛔ 文本写作（/write）（已关闭）" in embed.fields[0].value
    assert embed.footer.text == "回答由 AI 模型生成，可能有误。"


async def test_help_follows_the_members_client_language(
    simcord_env: Any, user_locale: Callable[[str], None]
) -> None:
    _guild, channel, alice = _world(simcord_env)
    user_locale("zh-CN")
    result = await alice.slash(channel, "help")
    assert result.response.embeds[0].title == "我能做什么"
    assert result.response.embeds[0].fields[0].name == "本服务器的功能"


async def test_help_commands_are_synced_with_chinese_localizations(simcord_env: Any) -> None:
    puts = [r for r in simcord_env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]
    assert len(puts) == 1
    help_command = next(c for c in puts[0].json if c["name"] == "help")
    assert help_command["name_localizations"]["zh-CN"] == "帮助"
    assert help_command["description_localizations"]["zh-CN"] == "显示机器人的命令和本服务器启用的功能"
