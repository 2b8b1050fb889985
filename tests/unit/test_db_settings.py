"""Server settings and per-feature settings: defaults without a row, overrides only, validation by
the feature's model, stored values that stop validating, isolation between servers; command sync."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from bot.db import CommandSyncRepo, Database, FeatureSettingsRepo, GuildSettings, GuildSettingsRepo
from bot.features import Feature, FeatureSettings


class PollSettings(FeatureSettings):
    """A feature of the tests' own, so these tests follow no real feature's defaults."""

    cooldown_seconds: float = Field(default=5.0, ge=0, allow_inf_nan=False)
    max_votes: int = Field(default=3, ge=1, le=10)


POLL = Feature(name="poll", settings=PollSettings, model_setting="completion_model")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bot.db")
    yield database
    await database.close()


async def _stored(db: Database, guild_id: int, feature: str) -> dict[str, object] | None:
    row = await db.fetchone(
        "SELECT overrides_json FROM feature_settings WHERE guild_id = ? AND feature = ?", (guild_id, feature)
    )
    return None if row is None else json.loads(row[0])


async def test_server_without_rows_gets_the_features_defaults(db: Database) -> None:
    settings = await FeatureSettingsRepo(db).get(1, POLL)
    assert settings == PollSettings()
    assert settings.enabled and settings.model is None and settings.allowed_models == ()
    assert await GuildSettingsRepo(db).get(1) == GuildSettings()
    assert await _stored(db, 1, "poll") is None


async def test_a_row_holds_only_overrides_so_new_defaults_reach_the_server(db: Database) -> None:
    repo = FeatureSettingsRepo(db)
    updated = await repo.update(1, POLL, max_votes=7, allowed_models=["b", "a", "a"])
    assert updated.max_votes == 7 and updated.allowed_models == ("a", "b")
    assert await _stored(db, 1, "poll") == {"allowed_models": ["a", "b"], "max_votes": 7}

    class NewDefaults(PollSettings):
        cooldown_seconds: float = 30.0

    changed = Feature(name="poll", settings=NewDefaults)
    after = await repo.get(1, changed)
    assert after.cooldown_seconds == 30.0  # followed the new default
    assert isinstance(after, NewDefaults) and after.max_votes == 7  # kept the override


async def test_updates_persist_per_server_and_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = await Database.open(path)
    await FeatureSettingsRepo(db).update(1, POLL, enabled=False, model="m-1")
    await GuildSettingsRepo(db).update(1, reply_locale="zh-CN", log_channel_id=55)
    await db.close()

    db = await Database.open(path)
    try:
        first = await FeatureSettingsRepo(db).get(1, POLL)
        assert not first.enabled and first.model == "m-1"
        assert await FeatureSettingsRepo(db).get(2, POLL) == PollSettings()  # another server
        assert await GuildSettingsRepo(db).get(1) == GuildSettings(reply_locale="zh-CN", log_channel_id=55)
        assert await GuildSettingsRepo(db).get(2) == GuildSettings()
    finally:
        await db.close()


async def test_none_resets_a_field_and_an_empty_row_is_deleted(db: Database) -> None:
    repo = FeatureSettingsRepo(db)
    await repo.update(3, POLL, max_votes=9, model="m")
    assert (await repo.update(3, POLL, max_votes=None)).max_votes == 3
    assert await _stored(db, 3, "poll") == {"model": "m"}
    await repo.update(3, POLL, model=None)
    assert await _stored(db, 3, "poll") is None
    guilds = GuildSettingsRepo(db)
    await guilds.update(3, reply_locale="zh-CN")
    assert (await guilds.update(3, reply_locale=None)).reply_locale is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_votes": 0}, "max_votes"),
        ({"max_votes": "many"}, "max_votes"),
        ({"cooldown_seconds": float("nan")}, "cooldown_seconds"),
        ({"enabled": "sometimes"}, "enabled"),
        ({"model": "  "}, "model"),
        ({"telepathy": True}, "telepathy"),
        ({"allowed_models": "gpt"}, "allowed_models"),
    ],
)
async def test_invalid_feature_updates_are_rejected_and_store_nothing(
    db: Database, changes: dict[str, object], message: str
) -> None:
    repo = FeatureSettingsRepo(db)
    await repo.update(5, POLL, max_votes=4)
    with pytest.raises(ValueError, match=message):
        await repo.update(5, POLL, **changes)
    assert await _stored(db, 5, "poll") == {"max_votes": 4}


@pytest.mark.parametrize(("changes", "message"), [({"reply_locale": "fr"}, "reply_locale"), ({"x": 1}, "x")])
async def test_invalid_server_updates_are_rejected(
    db: Database, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await GuildSettingsRepo(db).update(5, **changes)
    assert await GuildSettingsRepo(db).get(5) == GuildSettings()


async def test_a_stored_value_that_no_longer_validates_falls_back_to_its_default(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    async with db.transaction() as conn:
        await conn.execute_fetchall(
            "INSERT INTO feature_settings VALUES (6, 'poll', ?, 'then')",
            (json.dumps({"max_votes": 99, "retired_field": 1, "model": "kept"}),),
        )
    with caplog.at_level(logging.WARNING):
        settings = await FeatureSettingsRepo(db).get(6, POLL)
    assert settings.max_votes == 3 and settings.model == "kept"
    assert "max_votes" in caplog.text and "retired_field" in caplog.text


async def test_concurrent_updates_do_not_lose_each_other(db: Database) -> None:
    repo = FeatureSettingsRepo(db)
    await asyncio.gather(
        repo.update(9, POLL, max_votes=2),
        repo.update(9, POLL, enabled=False),
        repo.update(9, POLL, model="m"),
        repo.update(9, POLL, cooldown_seconds=1.5),
    )
    assert await repo.get(9, POLL) == PollSettings(
        max_votes=2, enabled=False, model="m", cooldown_seconds=1.5
    )


async def test_customised_lists_only_servers_with_overrides(db: Database) -> None:
    repo = FeatureSettingsRepo(db)
    await repo.update(1, POLL, max_votes=2)
    await repo.update(2, POLL, max_votes=3)
    await repo.update(2, POLL, max_votes=None)
    assert await repo.customised(POLL) == {1: PollSettings(max_votes=2)}


async def test_command_sync_hash_per_scope(db: Database) -> None:
    sync = CommandSyncRepo(db)
    assert await sync.get_hash("global") is None
    await sync.set_hash("global", "h1")
    await sync.set_hash("123", "g1")
    await sync.set_hash("global", "h2")
    assert await sync.get_hash("global") == "h2"
    assert await sync.get_hash("123") == "g1"


async def test_settings_are_kept_between_reads_and_every_write_is_seen_by_the_next_read(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    features, guilds = FeatureSettingsRepo(db), GuildSettingsRepo(db)
    assert await features.get(3, POLL) == PollSettings()
    assert await guilds.get(3) == GuildSettings()
    reads: list[str] = []
    real_fetchall = db.fetchall

    async def counting(sql: str, params: Any = ()) -> Any:
        reads.append(sql)
        return await real_fetchall(sql, params)

    monkeypatch.setattr(db, "fetchall", counting)
    assert await features.get(3, POLL) == PollSettings()
    assert await guilds.get(3) == GuildSettings()
    assert reads == []  # both kept from the first read

    await features.update(3, POLL, max_votes=8)
    await guilds.update(3, reply_locale="zh-CN")
    assert (await features.get(3, POLL)).max_votes == 8  # type: ignore[attr-defined]
    assert (await guilds.get(3)).reply_locale == "zh-CN"
    await features.reset(3, POLL)
    await guilds.reset(3)
    assert await features.get(3, POLL) == PollSettings()
    assert await guilds.get(3) == GuildSettings()
    # A refused write changes nothing, and what is read after it is still the stored value.
    with pytest.raises(ValueError):
        await features.update(3, POLL, max_votes=99)
    assert await features.get(3, POLL) == PollSettings()
    # Another server's entry is untouched by these writes.
    assert await features.get(4, POLL) == PollSettings()


async def test_a_read_overlapping_a_write_does_not_keep_the_old_value(db: Database) -> None:
    features, guilds = FeatureSettingsRepo(db), GuildSettingsRepo(db)
    old_feature, _, old_guild, _ = await asyncio.gather(
        features.get(5, POLL),
        features.update(5, POLL, enabled=False),
        guilds.get(5),
        guilds.update(5, member_daily_budget_usd="1.5"),
    )
    assert old_feature.enabled and old_guild.member_daily_budget_usd is None  # read before the write
    assert not (await features.get(5, POLL)).enabled
    assert str((await guilds.get(5)).member_daily_budget_usd) == "1.5"


async def test_the_cache_keeps_at_most_its_size_and_drops_the_oldest(db: Database) -> None:
    features, guilds = FeatureSettingsRepo(db, max_cached=2), GuildSettingsRepo(db, max_cached=2)
    await features.update(1, POLL, max_votes=4)
    await guilds.update(1, reply_locale="zh-CN")
    for guild_id in (1, 2, 3):
        await features.get(guild_id, POLL)
        await guilds.get(guild_id)
    assert len(features._cache) == 2 and len(guilds._cache) == 2
    # Dropped from memory is not lost: read again from storage.
    assert (await features.get(1, POLL)).max_votes == 4  # type: ignore[attr-defined]
    assert (await guilds.get(1)).reply_locale == "zh-CN"
