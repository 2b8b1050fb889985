"""Migrations: fresh databases, upgrades from every earlier version, and atomic failure."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from bot.db import Database, MigrationError
from bot.db.migrations import MIGRATIONS_DIR, discover, split_statements
from cogs.write.feature import FEATURE as WRITE

LATEST = len(discover())
assert WRITE.migrations is not None
WRITE_MIGRATIONS = WRITE.migrations


def _versions(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


async def _pragma(db: Database, name: str) -> object:
    row = await db.fetchone(f"PRAGMA {name}")
    assert row is not None
    return row[0]


async def test_fresh_database_reaches_latest_version_with_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "bot.db"
    db = await Database.open(path)
    try:
        assert LATEST >= 2
        assert db.schema_version == LATEST
        assert _versions(path) == list(range(1, LATEST + 1))
        assert {"guild_settings", "feature_settings", "command_sync", "usage_events"} <= _tables(path)
        # A feature's tables come with the feature (its own migrations), not with the core.
        assert "write_sessions" not in _tables(path)
        assert await _pragma(db, "journal_mode") == "wal"
        assert await _pragma(db, "synchronous") == 1  # NORMAL
        assert await _pragma(db, "foreign_keys") == 1
    finally:
        await db.close()


async def test_reopening_applies_nothing_and_keeps_version(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    await (await Database.open(path)).close()
    db = await Database.open(path)
    await db.close()
    assert db.schema_version == LATEST
    assert _versions(path) == list(range(1, LATEST + 1))


@pytest.mark.parametrize("start", range(1, LATEST))
async def test_upgrade_from_every_earlier_version_keeps_data(tmp_path: Path, start: int) -> None:
    path = tmp_path / "bot.db"
    old = await Database.open(path, target_version=start)
    assert old.schema_version == start
    async with old.transaction() as conn:
        if start < 4:  # the shape guild_settings had before features owned their settings
            await conn.execute(
                "INSERT INTO guild_settings"
                " (guild_id, models_json, write_max_tokens, reply_locale, updated_at) VALUES"
                " (42, '{\"write\": \"davinci-002\"}', 300, 'zh-CN', 'then')"
            )
        else:  # features own their settings; guild_settings holds only server-wide ones
            await conn.execute(
                "INSERT INTO feature_settings VALUES"
                " (42, 'write', '{\"model\":\"davinci-002\",\"max_tokens\":300}', 'then')"
            )
            await conn.execute(
                "INSERT INTO guild_settings (guild_id, reply_locale, updated_at) VALUES (42, 'zh-CN', 'then')"
            )
        await conn.execute("INSERT INTO command_sync VALUES ('global', 'abc123', 'then')")
    await old.close()
    assert ("usage_events" in _tables(path)) == (start >= 2)

    db = await Database.open(path)
    try:
        assert db.schema_version == LATEST
        rows = await db.fetchall("SELECT guild_id, feature, overrides_json FROM feature_settings")
        assert [tuple(r) for r in rows] == [(42, "write", '{"model":"davinci-002","max_tokens":300}')]
        row = await db.fetchone("SELECT reply_locale FROM guild_settings WHERE guild_id = 42")
        assert row is not None and row[0] == "zh-CN"
        row = await db.fetchone("SELECT tree_hash FROM command_sync WHERE scope = 'global'")
        assert row is not None and row[0] == "abc123"
    finally:
        await db.close()


async def test_old_settings_of_every_kind_become_feature_overrides(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    old = await Database.open(path, target_version=3)
    async with old.transaction() as conn:
        await conn.execute(
            'INSERT INTO guild_settings VALUES (1, \'{"write": false, "imagine": true}\','
            ' \'{"write": "m1"}\', \'{"write": ["a", "b"], "imagine": []}\', NULL, 2.5, NULL, \'t\')'
        )
        await conn.execute("INSERT INTO guild_settings VALUES (2, '{}', '{}', '{}', NULL, NULL, NULL, 't')")
        # Databases of that age had /write's table from the core (0003 created it then).
        for statement in split_statements((WRITE_MIGRATIONS / "0001_write_sessions.sql").read_text()):
            await conn.execute(statement)
        await conn.execute(
            "INSERT INTO write_sessions"
            " (guild_id, channel_id, user_id, model, prompt, max_tokens, created_at) VALUES"
            " (1, 2, 3, 'm', 'p', 5, 0)"
        )
    await old.close()

    db = await Database.open(path)
    try:
        rows = await db.fetchall(
            "SELECT guild_id, feature, overrides_json FROM feature_settings ORDER BY 1, 2"
        )
        assert [(r[0], r[1], json.loads(r[2])) for r in rows] == [
            (1, "imagine", {"enabled": True}),
            (
                1,
                "write",
                {"enabled": False, "model": "m1", "allowed_models": ["a", "b"], "cooldown_seconds": 2.5},
            ),
        ]
        # Server 2 had changed nothing: no rows at all, in either table.
        assert await db.fetchall("SELECT * FROM guild_settings") == []
        # /write's table, created by the core before features owned their tables, is kept with its rows
        # when the feature's own migration runs.
        assert await db.migrate_feature("write", WRITE_MIGRATIONS) == 1
        row = await db.fetchone("SELECT prompt FROM write_sessions WHERE guild_id = 1")
        assert row is not None and row[0] == "p"
    finally:
        await db.close()


async def test_feature_migrations_apply_once_per_feature_and_roll_back_on_failure(tmp_path: Path) -> None:
    directory = tmp_path / "poll"
    directory.mkdir()
    (directory / "0001_votes.sql").write_text("CREATE TABLE poll_votes (x INTEGER);\n", encoding="utf-8")
    db = await Database.open(tmp_path / "bot.db")
    try:
        assert await db.migrate_feature("poll", directory) == 1
        assert await db.migrate_feature("poll", directory) == 1  # nothing left to apply
        (directory / "0002_broken.sql").write_text(
            "CREATE TABLE half (x INTEGER);\nINSERT INTO nowhere VALUES (1);\n", encoding="utf-8"
        )
        with pytest.raises(MigrationError, match=r"0002_broken of 'poll' failed"):
            await db.migrate_feature("poll", directory)
        assert "half" not in _tables(tmp_path / "bot.db")
        rows = await db.fetchall("SELECT feature, version FROM feature_migrations")
        assert [tuple(r) for r in rows] == [("poll", 1)]
    finally:
        await db.close()


def _copy_migrations(tmp_path: Path, extra: str) -> Path:
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory)
    (directory / f"{LATEST + 1:04d}_broken.sql").write_text(extra, encoding="utf-8")
    return directory


async def test_failing_migration_rolls_back_to_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    await (await Database.open(path, target_version=1)).close()
    # The first statement succeeds, the second fails: nothing of 0002.. or the broken one may stay.
    directory = _copy_migrations(
        tmp_path, "CREATE TABLE half_done (x INTEGER);\nINSERT INTO nowhere VALUES (1);\n"
    )

    with pytest.raises(MigrationError, match=r"broken.*no such table: nowhere"):
        await Database.open(path, migrations_dir=directory)

    assert _versions(path) == [1]
    tables = _tables(path)
    assert "half_done" not in tables and "usage_events" not in tables
    db = await Database.open(path)  # the real migrations still apply afterwards
    assert db.schema_version == LATEST
    await db.close()


async def test_database_newer_than_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    directory = _copy_migrations(tmp_path, "CREATE TABLE future (x INTEGER);\n")
    await (await Database.open(path, migrations_dir=directory)).close()
    with pytest.raises(MigrationError, match="newer than this code"):
        await Database.open(path)


def test_migration_files_must_be_numbered_without_gaps(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="without gaps"):
        discover(tmp_path)
    (tmp_path / "0003_c.sql").unlink()
    (tmp_path / "2_bad.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"2_bad\.sql"):
        discover(tmp_path)


def test_split_statements_handles_triggers_strings_and_comments() -> None:
    sql = (
        "-- leading comment\n"
        "CREATE TABLE t (x TEXT DEFAULT 'a;b');\n\n"
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  UPDATE t SET x = 'y;';\nEND;\n"
        "-- trailing comment\n"
    )
    statements = list(split_statements(sql))
    assert len(statements) == 2
    assert statements[0] == "CREATE TABLE t (x TEXT DEFAULT 'a;b');"
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")
    with pytest.raises(MigrationError, match="incomplete"):
        list(split_statements("CREATE TABLE t (x)"))


async def test_using_the_database_inside_its_own_transaction_fails_fast(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.db")
    try:
        with pytest.raises(RuntimeError, match="inside it"):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO command_sync VALUES ('global', 'h', 'now')")
                await db.fetchone("SELECT 1")
        # ...and the transaction was rolled back, the lock released.
        assert await db.fetchone("SELECT * FROM command_sync") is None
        async with db.transaction():
            pass
        assert db.commits == 1
    finally:
        await db.close()
