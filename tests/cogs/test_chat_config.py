"""/config changes reach /chat at the very next message or command, although server and feature
settings are kept in memory between reads: every /config write drops what was kept."""

from __future__ import annotations

from typing import Any

import discord

from tests.cogs.test_chat import World
from tests.cogs.test_chat import world as world  # the fixture


def _admin(world: World) -> Any:
    admins = world.guild.create_role("admins", permissions=discord.Permissions(manage_guild=True))
    return world.guild.add_member(world.env.create_user("ada"), roles=[admins])


async def _config(world: World, admin: Any, feature: str, setting: str, value: str) -> None:
    result = await admin.slash(world.channel, "config set", feature=feature, setting=setting, value=value)
    assert result.response.content.startswith("Saved:"), result.response.content


async def test_switching_chat_off_and_on_takes_effect_at_the_next_message(world: World) -> None:
    admin = _admin(world)
    thread = await world.start(world.alice, message="First [[words:3]]")
    assert len(world.chat_requests()) == 1  # the server's chat settings have been read (and kept)

    await _config(world, admin, "chat", "enabled", "off")
    await world.alice.send(thread, "Second [[words:3]]")
    assert len(world.chat_requests()) == 1  # turned off: not answered

    await _config(world, admin, "chat", "enabled", "on")
    await world.alice.send(thread, "Third [[words:3]]")
    assert len(world.chat_requests()) == 2
    assert world.chat_requests()[-1].json["messages"][-1]["content"] == "alice: Third [[words:3]]"


async def test_a_context_budget_set_by_config_shapes_the_next_turn(world: World) -> None:
    admin = _admin(world)
    thread = await world.start(world.alice)
    # About 480 tokens: alone it fits the smallest budget (500), with the later turns it does not.
    await world.alice.send(thread, "One " + "word " * 380 + "[[words:3]]")
    await world.alice.send(thread, "Two [[words:3]]")
    assert len(world.chat_requests()[-1].json["messages"]) == 3  # the whole history so far

    await _config(world, admin, "chat", "max_context_tokens", "500")
    await world.alice.send(thread, "Three [[words:3]]")
    sent = world.chat_requests()[-1].json["messages"]
    assert sent[-1]["content"] == "alice: Three [[words:3]]"
    assert all("word word" not in m["content"] for m in sent)  # the long first message no longer fits


async def test_a_server_budget_set_by_config_refuses_the_next_turn_and_lifting_it_allows_the_one_after(
    world: World,
) -> None:
    admin = _admin(world)
    thread = await world.start(world.alice, message="First [[words:3]]")
    assert len(world.chat_requests()) == 1  # the server's settings have been read (and kept)

    await _config(world, admin, "server", "monthly_budget_usd", "0.0001")
    await world.alice.send(thread, "Second [[words:3]]")
    assert len(world.chat_requests()) == 1
    assert world.bot_messages(thread)[-1].content.startswith("⚠️ This server's monthly AI budget")

    await _config(world, admin, "server", "monthly_budget_usd", "none")
    await world.alice.send(thread, "Third [[words:3]]")
    assert len(world.chat_requests()) == 2


async def test_a_reply_language_set_by_config_answers_the_next_command_in_it(world: World) -> None:
    admin = _admin(world)
    first = await world.alice.slash(world.channel, "chat new")
    assert "started a conversation" in first.response.content

    await _config(world, admin, "server", "reply_locale", "zh-CN")
    second = await world.alice.slash(world.channel, "chat new")
    assert "开始了一个对话" in second.response.content
