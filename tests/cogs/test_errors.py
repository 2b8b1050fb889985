"""The tree-level error handler and extension loading, through a bot with a test-only extension."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.app import OpenAIBot, create_bot
from bot.settings import Settings
from tests.conftest import closing_bots

BOOM = "tests.cogs.boom_ext"


def _world(env: Any) -> tuple[Any, Any]:
    guild = env.create_guild()
    channel = guild.create_text_channel("general")
    return channel, guild.add_member(env.create_user("alice"))


@pytest.fixture
async def simcord_bot(bot_settings: Settings) -> AsyncIterator[OpenAIBot]:
    async with closing_bots() as track:
        yield track(create_bot(bot_settings, extensions=("cogs.help", "tests.cogs.no_such_extension", BOOM)))


async def test_a_broken_extension_is_logged_and_the_others_load(simcord_env: Any) -> None:
    bot: OpenAIBot = simcord_env.bot
    assert set(bot.failed_extensions) == {"tests.cogs.no_such_extension"}
    assert {c.name for c in bot.tree.get_commands()} >= {"help", "boom"}


async def test_unexpected_error_gets_an_id_and_leaks_nothing(
    simcord_env: Any, caplog: pytest.LogCaptureFixture
) -> None:
    channel, alice = _world(simcord_env)
    with caplog.at_level(logging.DEBUG):
        result = await alice.slash(channel, "boom")
    [error] = simcord_env.errors  # the handler saw it; simcord recorded it
    assert isinstance(error.__cause__ or getattr(error, "original", None), RuntimeError)
    assert result.ephemeral
    text = result.response.content
    assert text.startswith("Something went wrong on our side.")
    error_id = text.split("`")[1]
    assert len(error_id) == 8
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and logged[0].levelno == logging.ERROR
    assert "boom" in logged[0].getMessage() and str(alice.id) in logged[0].getMessage()
    # Nothing sent to Discord carries the exception text, a traceback or the key.
    for request in simcord_env.http_requests:
        payload = repr(request.json)
        assert "sk-test-key" not in payload
        assert "Traceback" not in payload and "database exploded" not in payload


async def test_known_errors_become_localized_short_messages(simcord_env: Any) -> None:
    channel, alice = _world(simcord_env)
    quota = await alice.slash(channel, "quota")
    assert quota.ephemeral
    assert "quota for this bot is used up" in quota.response.content
    off = await alice.slash(channel, "off")
    assert off.response.content == "Explosions is turned off in this server. A server admin can turn it on."
    denied = await alice.slash(channel, "admin")
    assert denied.ephemeral
    assert denied.response.content == "You need these permissions to do that: Manage Server."
    errors = simcord_env.errors
    assert [type(getattr(e, "original", e)).__name__ for e in errors] == [
        "QuotaExceededError",
        "FeatureDisabled",
        "MissingPermissions",
    ]


async def test_discord_failing_the_reply_is_logged_not_crashed(
    simcord_env: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Discord answers 500 to the reply itself: the handler logs it and nothing leaks or crashes."""
    channel, alice = _world(simcord_env)
    simcord_env.inject_error("POST", "/interactions/*/callback", status=500, times=2)
    with caplog.at_level(logging.DEBUG):
        await alice.slash(channel, "help")
    errors = simcord_env.errors
    assert errors, "the failed reply reached the tree handler"
    unexpected = [r for r in caplog.records if r.getMessage().startswith("Unexpected error")]
    assert len(unexpected) == 1 and "help" in unexpected[0].getMessage()
    assert any("Could not deliver a private reply" in r.getMessage() for r in caplog.records)
    # The bot still works afterwards.
    result = await alice.slash(channel, "help")
    assert result.response.embeds[0].title == "What I can do"
    for record in caplog.records:
        assert "sk-test-key" not in record.getMessage()
