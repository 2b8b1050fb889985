"""Migrations: fresh databases, upgrades from every earlier version, and atomic failure."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from bot.db import Database, MigrationError
from bot.db.migrations import MIGRATIONS_DIR, discover, split_statements

LATEST = len(discover())


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
        assert {"guild_settings", "command_sync", "usage_events", "write_sessions"} <= _tables(path)
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
        await conn.execute(
            "INSERT INTO guild_settings (guild_id, models_json, write_max_tokens, updated_at)"
            " VALUES (42, '{\"write\": \"davinci-002\"}', 300, 'then')"
        )
        await conn.execute("INSERT INTO command_sync VALUES ('global', 'abc123', 'then')")
    await old.close()
    before = _tables(path)
    assert ("usage_events" in before) == (start >= 2)
    assert "write_sessions" not in before

    db = await Database.open(path)
    try:
        assert db.schema_version == LATEST
        row = await db.fetchone(
            "SELECT models_json, write_max_tokens FROM guild_settings WHERE guild_id = 42"
        )
        assert row is not None and tuple(row) == ('{"write": "davinci-002"}', 300)
        row = await db.fetchone("SELECT tree_hash FROM command_sync WHERE scope = 'global'")
        assert row is not None and row[0] == "abc123"
        assert {"usage_events", "write_sessions"} <= _tables(path)
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
