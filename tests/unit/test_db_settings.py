"""Guild settings (defaults when no row, overrides, validation) and command-sync state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.db import DEFAULT_FEATURES, CommandSyncRepo, Database, GuildDefaults, GuildSettingsRepo

DEFAULTS = GuildDefaults.from_models(
    completion="gpt-3.5-turbo-instruct",
    image="gpt-image-2",
    transcription="whisper-1",
    embedding="text-embedding-3-small",
    moderation="omni-moderation-latest",
)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bot.db")
    yield database
    await database.close()


async def test_guild_without_row_gets_code_defaults(db: Database) -> None:
    settings = await GuildSettingsRepo(db, DEFAULTS).get(1)
    assert settings.guild_id == 1
    assert not settings.customised
    assert settings.enabled_features == set(DEFAULT_FEATURES)
    assert all(settings.is_enabled(f) for f in DEFAULT_FEATURES)
    assert not settings.is_enabled("no_such_feature")
    assert settings.model_for("write") == "gpt-3.5-turbo-instruct"
    assert settings.model_for("imagine") == "gpt-image-2"
    assert settings.model_for("transcribe") == "whisper-1"
    assert settings.model_for("embeddings") == "text-embedding-3-small"
    assert settings.model_for("moderation") == "omni-moderation-latest"
    with pytest.raises(KeyError, match="files"):
        settings.model_for("files")
    assert settings.reply_locale is None
    assert settings.write_cooldown_seconds == 5.0
    assert settings.write_max_tokens == 1024
    assert settings.allowed_models == {}
    assert settings.is_model_allowed("write", "anything")


async def test_updates_persist_per_guild_and_across_reopen(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.db")
    repo = GuildSettingsRepo(db, DEFAULTS)
    updated = await repo.update(
        7,
        features={"imagine": False},
        models={"write": "davinci-002"},
        reply_locale="zh-CN",
        write_cooldown_seconds=2.5,
        write_max_tokens=256,
        allowed_models={"write": ["davinci-002", "babbage-002"]},
    )
    await db.close()

    db = await Database.open(tmp_path / "bot.db")
    repo = GuildSettingsRepo(db, DEFAULTS)
    stored = await repo.get(7)
    other = await repo.get(8)
    await db.close()
    assert stored == updated
    assert stored.customised
    assert not stored.is_enabled("imagine") and stored.is_enabled("write")
    assert stored.model_for("write") == "davinci-002"
    assert stored.model_for("imagine") == "gpt-image-2"  # untouched feature keeps its default
    assert stored.reply_locale == "zh-CN"
    assert stored.write_cooldown_seconds == 2.5
    assert stored.write_max_tokens == 256
    assert stored.allowed_models_for("write") == ["babbage-002", "davinci-002"]
    assert stored.is_model_allowed("write", "davinci-002")
    assert not stored.is_model_allowed("write", "gpt-3.5-turbo-instruct")
    assert stored.is_model_allowed("imagine", "dall-e-3")
    assert other.model_for("write") == "gpt-3.5-turbo-instruct" and other.is_enabled("imagine")


async def test_overrides_follow_new_defaults_for_untouched_fields(db: Database) -> None:
    await GuildSettingsRepo(db, DEFAULTS).update(1, models={"write": "davinci-002"})
    newer = DEFAULTS.model_copy(update={"models": {**DEFAULTS.models, "imagine": "dall-e-3"}})
    settings = await GuildSettingsRepo(db, newer).get(1)
    assert settings.model_for("imagine") == "dall-e-3"
    assert settings.model_for("write") == "davinci-002"


async def test_resetting_values_with_none_and_enabled_set(db: Database) -> None:
    repo = GuildSettingsRepo(db, DEFAULTS)
    await repo.update(
        3, models={"write": "babbage-002"}, write_max_tokens=10, allowed_models={"write": ["x"]}
    )
    settings = await repo.update(
        3, models={"write": None}, write_max_tokens=None, allowed_models={"write": []}
    )
    assert settings.model_for("write") == "gpt-3.5-turbo-instruct"
    assert settings.write_max_tokens == 1024
    assert settings.allowed_models == {}

    settings = await repo.update(3, enabled_features={"write", "moderation"})
    assert settings.enabled_features == {"write", "moderation"}
    settings = await repo.update(3, features={"imagine": True})
    assert settings.enabled_features == {"write", "moderation", "imagine"}

    settings = await repo.reset(3)
    assert not settings.customised and settings.enabled_features == set(DEFAULT_FEATURES)
    assert await repo.get(3) == settings


async def test_defaults_can_disable_a_feature(db: Database) -> None:
    defaults = DEFAULTS.model_copy(update={"enabled_features": frozenset({"write"})})
    repo = GuildSettingsRepo(db, defaults)
    assert (await repo.get(1)).enabled_features == {"write"}
    assert (await repo.update(1, features={"fine_tuning": True})).enabled_features == {"write", "fine_tuning"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"colour": "red"}, "unknown guild setting"),
        ({"features": {"telepathy": True}}, "unknown feature 'telepathy'"),
        ({"features": {"write": "yes"}}, "true or false"),
        ({"models": {"write": ""}}, "non-empty"),
        ({"enabled_features": "write"}, "collection"),
        ({"write_cooldown_seconds": -1}, ">= 0"),
        ({"write_cooldown_seconds": float("nan")}, ">= 0"),
        ({"write_max_tokens": 0}, ">= 1"),
        ({"write_max_tokens": 1.5}, ">= 1"),
        ({"reply_locale": ""}, "locale code"),
    ],
)
async def test_invalid_updates_are_rejected_and_store_nothing(
    db: Database, changes: dict[str, object], message: str
) -> None:
    repo = GuildSettingsRepo(db, DEFAULTS)
    with pytest.raises(ValueError, match=message):
        await repo.update(5, **changes)
    assert not (await repo.get(5)).customised


async def test_concurrent_updates_do_not_lose_each_other(db: Database) -> None:
    repo = GuildSettingsRepo(db, DEFAULTS)
    features = [f for f in DEFAULT_FEATURES]
    await asyncio.gather(*(repo.update(9, features={f: False}) for f in features))
    assert (await repo.get(9)).enabled_features == set()


def test_defaults_reject_unknown_features() -> None:
    with pytest.raises(ValueError, match="unknown features"):
        GuildDefaults(models={"telepathy": "m"})


async def test_command_sync_hash_per_scope(db: Database) -> None:
    sync = CommandSyncRepo(db)
    assert await sync.get_hash("global") is None
    await sync.set_hash("global", "h1")
    await sync.set_hash("123", "g1")
    await sync.set_hash("global", "h2")
    assert await sync.get_hash("global") == "h2"
    assert await sync.get_hash("123") == "g1"
