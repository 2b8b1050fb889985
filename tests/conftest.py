"""Shared fixtures: the fake OpenAI server, bot settings on a temp database, and the simcord bot.

Cog tests get a real bot from `create_bot` talking to the fake server on loopback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.app import OpenAIBot, create_bot
from bot.discord_io.edit_scheduler import EditPacing
from bot.settings import Settings, load_settings

pytest_plugins = ["tests.fakes.pytest_fixtures"]

# Discord's edit limits at a tenth of their intervals (5 sends per 0.5 s, one edit per 0.1 s per
# message), so cog tests see the same pacing without waiting real seconds for it. The window keeps
# production's quarter-second margin unscaled: it absorbs the lag between the scheduler counting a
# send and the send reaching (simulated) Discord, which does not shrink with the intervals.
TEST_PACING = EditPacing(per_message_interval=0.1, channel_window=0.75, channel_max_edits=5)
TEST_RULE_WINDOW = 0.5

SHARED_SPECS = Path(__file__).resolve().parents[1].parent / "shared" / "specs"


def make_settings(tmp_path: Path, fake: Any, **overrides: Any) -> Settings:
    """Settings for a test bot: fake tokens, the fake server, a database in tmp_path."""
    values: dict[str, Any] = {
        "discord_token": "simcord-fake-discord-token",
        "openai_api_key": fake.api_key,
        "openai_base_url": fake.base_url,
        "database_path": tmp_path / "bot.db",
        "max_retries": 0,
        "request_timeout": 10.0,
        "log_level": "DEBUG",
    }
    values.update(overrides)
    return load_settings(None, **values)


@pytest.fixture
def bot_settings(tmp_path: Path, fake_openai_threaded: Any) -> Settings:
    return make_settings(tmp_path, fake_openai_threaded)


@pytest.fixture
async def simcord_bot(bot_settings: Settings) -> AsyncIterator[OpenAIBot]:
    # simcord detaches the bot without calling close(); release its database and session here.
    async with closing_bots() as bots:
        yield bots(create_bot(bot_settings, edit_pacing=TEST_PACING))


@asynccontextmanager
async def closing_bots() -> AsyncIterator[Callable[[OpenAIBot], OpenAIBot]]:
    """Collects bots (e.g. from env.restart_bot) and closes them all at the end."""
    made: list[OpenAIBot] = []

    def track(bot: OpenAIBot) -> OpenAIBot:
        made.append(bot)
        return bot

    try:
        yield track
    finally:
        for bot in made:
            await bot.close()


@pytest.fixture
async def new_bot(bot_settings: Settings) -> AsyncIterator[Callable[..., OpenAIBot]]:
    """A factory for extra bots (restarts) that are closed after the test."""
    async with closing_bots() as track:

        def make(settings: Settings | None = None, **kwargs: Any) -> OpenAIBot:
            kwargs.setdefault("edit_pacing", TEST_PACING)
            return track(create_bot(settings or bot_settings, **kwargs))

        yield make
