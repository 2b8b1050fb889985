"""/help through the real bot (create_bot) in simcord: both languages, loaded commands only, feature
states from the registry and each server's own settings, privacy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.app import OpenAIBot
from cogs.write import FEATURE as WRITE


def _world(env: Any) -> tuple[Any, Any, Any]:
    guild = env.create_guild()
    channel = guild.create_text_channel("general")
    member = guild.add_member(env.create_user("alice"))
    return guild, channel, member


async def test_help_in_english_lists_loaded_commands_and_features(simcord_env: Any) -> None:
    _guild, channel, alice = _world(simcord_env)
    result = await alice.slash(channel, "help")
    assert result.ephemeral
    embed = result.response.embeds[0]
    assert embed.title == "What I can do"
    assert embed.description.splitlines() == [
        "`/ask` — Ask a question answered from the server's knowledge base",
        "`/chat` — Conversations with the AI model in threads",
        "`/config` — Show and change this server's bot settings",
        "`/files` — This server's files at OpenAI",
        "`/finetune` — Train a model on this server's examples",
        "`/help` — Show the bot's commands and this server's features",
        "`/imagine` — Draw images from a prompt, or edit an image you attach",
        "`/kb` — The server's knowledge base",
        "`/moderate` — See how the moderation model scores a text (only you see it)",
        "`/moderation` — Automatic moderation of this server",
        "`/transcribe` — Turn an audio file into text",
        "`/usage` — AI usage and cost in this server",
        "`/write` — Write text with the AI model, streamed as it is generated",
    ]
    assert embed.fields[0].name == "Features in this server"
    # The features continue in untitled fields when they outgrow one field's 1,024 characters.
    assert all(len(field.value) <= 1024 for field in embed.fields)
    assert all(field.name == "\u200b" for field in embed.fields[1:])
    lines = [line for field in embed.fields for line in field.value.splitlines()]
    # Only what is loaded: no feature this bot does not have is listed as enabled.
    assert lines == [
        "✅ Text writing — /write completes your prompt, streamed as it is written",
        "✅ Conversations — /chat new opens a thread where the model answers every message",
        "✅ Image generation — /imagine draws or edits images, shown as they form",
        "✅ Transcription — /transcribe and the Transcribe message menu turn audio into text; automatic "
        "replies in chosen channels need the Message Content intent",
        # Moderation reads every message: off until a server's admins turn it on.
        "⛔ Automatic moderation — Checks channel messages with the moderation model and acts as the"
        " server's admins chose; /moderate shows a text's scores (turned off)",
        "✅ Server settings — /config shows and changes this server's settings (Manage Server)",
        "✅ Usage reports — /usage shows what the AI cost, with budgets and a chart",
        "✅ Fine-tuning — /files and /finetune (Manage Server): train a model on this server's examples,"
        " then use it in /write and /chat",
        "✅ Knowledge base — /kb add builds the server's knowledge base; /ask answers from it with sources",
    ]


async def test_help_follows_the_servers_language_and_settings_and_no_other_servers(simcord_env: Any) -> None:
    guild, channel, alice = _world(simcord_env)
    other = simcord_env.create_guild(name="Other")
    other_channel = other.create_text_channel("general")
    bob = other.add_member(simcord_env.create_user("bob"))
    bot: OpenAIBot = simcord_env.bot
    await bot.guild_settings.update(guild.id, reply_locale="zh-CN")
    await bot.feature_settings.update(guild.id, WRITE, enabled=False)

    result = await alice.slash(channel, "help")
    embed = result.response.embeds[0]
    assert embed.title == "我能做什么"
    # Commands are named as a zh-CN client shows them.
    assert embed.description.splitlines() == [
        "`/提问` — 提问，由服务器知识库回答",
        "`/对话` — 在子区中与 AI 模型对话",
        "`/设置` — 查看和修改本服务器的机器人设置",
        "`/文件` — 本服务器在 OpenAI 的文件",
        "`/微调` — 用本服务器的示例训练模型",
        "`/帮助` — 显示机器人的命令和本服务器启用的功能",
        "`/绘图` — 根据提示生成图片，或编辑你附加的图片",
        "`/知识库` — 服务器知识库",
        "`/审核` — 查看审核模型对一段文字的评分（仅你可见）",
        "`/自动审核` — 本服务器的自动审核",
        "`/转写` — 把音频文件转成文字",
        "`/用量` — 本服务器的 AI 用量和费用",
        "`/写作` — 用 AI 模型写作，生成过程实时显示",
    ]
    written = embed.fields[0].value.splitlines()[0]
    assert written == "⛔ 文本写作 — /write 补全你的提示词，边生成边显示（已关闭）"
    assert embed.footer.text == "回答由 AI 模型生成，可能有误。"

    # The other server changed nothing: English (its member's client) and /write on.
    elsewhere = (await bob.slash(other_channel, "help")).response.embeds[0]
    assert elsewhere.title == "What I can do"
    assert elsewhere.fields[0].value.startswith("✅ Text writing")


async def test_help_follows_the_members_client_language(
    simcord_env: Any, user_locale: Callable[[str], None]
) -> None:
    _guild, channel, alice = _world(simcord_env)
    user_locale("zh-CN")
    result = await alice.slash(channel, "help")
    assert result.response.embeds[0].title == "我能做什么"
    assert result.response.embeds[0].fields[0].name == "本服务器的功能"
    assert "`/帮助` — 显示机器人的命令和本服务器启用的功能" in result.response.embeds[0].description


async def test_help_commands_are_synced_with_chinese_localizations(simcord_env: Any) -> None:
    puts = [r for r in simcord_env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]
    assert len(puts) == 1
    help_command = next(c for c in puts[0].json if c["name"] == "help")
    assert help_command["name_localizations"]["zh-CN"] == "帮助"
    assert help_command["description_localizations"]["zh-CN"] == "显示机器人的命令和本服务器启用的功能"
