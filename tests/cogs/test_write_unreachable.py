"""/write when the API cannot be reached at all (nothing listens at the base URL)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from tests.conftest import make_settings


@pytest.fixture
def bot_settings(tmp_path: Path, fake_openai_threaded: Any) -> Settings:
    with socket.socket() as probe:  # a port that was free a moment ago and is closed now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return make_settings(tmp_path, fake_openai_threaded, openai_base_url=f"http://127.0.0.1:{port}/v1")


async def test_unreachable_api_is_a_private_note_and_nothing_is_billed(simcord_env: Any) -> None:
    guild = simcord_env.create_guild()
    channel = guild.create_text_channel("general")
    alice = guild.add_member(simcord_env.create_user("alice"))
    result = await alice.slash(channel, "write", prompt="hello", max_tokens=10)
    assert result.ephemeral
    assert result.response.content == "The AI service can't be reached right now. Please try again later."
    assert [m for m in channel.history() if not m.flags.ephemeral] == []
    assert await simcord_env.bot.ledger.events(guild.id) == []
