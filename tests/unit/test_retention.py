"""bot/retention.py: each server's retention reaches the purge; a failing purge is logged, not raised."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import Field

from bot.db import Database, FeatureSettingsRepo
from bot.features import Feature, FeatureSettings
from bot.retention import purge_past_retention


class KeepSettings(FeatureSettings):
    keep_days: int = Field(30, ge=1)


KEEP = Feature(name="keep", settings=KeepSettings)


@pytest.fixture
async def repo(tmp_path: Path) -> AsyncIterator[FeatureSettingsRepo]:
    db = await Database.open(tmp_path / "bot.sqlite3")
    try:
        yield FeatureSettingsRepo(db)
    finally:
        await db.close()


async def test_the_default_and_each_customised_server_reach_the_purge(repo: FeatureSettingsRepo) -> None:
    await repo.update(1, KEEP, keep_days=7)
    await repo.update(2, KEEP, keep_days=90)
    seen: list[tuple[int, dict[int, int]]] = []

    async def purge(default: int, days: dict[int, int]) -> int:
        seen.append((default, days))
        return 4

    assert await purge_past_retention(repo, KEEP, "keep_days", purge, "notes") == 4
    assert seen == [(30, {1: 7, 2: 90})]


async def test_a_failing_purge_is_logged_and_reported_as_nothing_deleted(
    repo: FeatureSettingsRepo, caplog: pytest.LogCaptureFixture
) -> None:
    async def purge(default: int, days: dict[int, int]) -> int:
        raise OSError("disk full")

    with caplog.at_level(logging.ERROR, logger="bot.retention"):
        assert await purge_past_retention(repo, KEEP, "keep_days", purge, "notes") == 0
    assert "Could not purge old notes" in caplog.text and "disk full" in caplog.text
