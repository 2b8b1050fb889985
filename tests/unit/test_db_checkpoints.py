"""WAL checkpoints run in the background after writes, not inside a member's commit: SQLite's own
threshold is only a high safety mark, and the timer copies the log back when something was written."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.db import Database, WalCheckpoints
from bot.db.database import WAL_AUTOCHECKPOINT_PAGES


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bot.db")
    await database.write("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    yield database
    await database.close()


def _rows_in_database_file(db: Database) -> int:
    """What a reader sees from the database file alone, ignoring the WAL (`immutable` skips it)."""
    with sqlite3.connect(f"file:{db.path}?immutable=1", uri=True) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM notes").fetchone()[0])
        except sqlite3.OperationalError:  # the table itself is still only in the WAL
            return 0
        except sqlite3.DatabaseError:  # read while a checkpoint was writing the file: ask again
            return -1


async def _write_notes(db: Database, count: int) -> None:
    for index in range(count):
        await db.write("INSERT INTO notes (body) VALUES (?)", (f"note {index} " + "x" * 2000,))


async def test_commits_leave_pages_in_the_wal_until_the_checkpointer_runs(db: Database) -> None:
    row = await db.fetchone("PRAGMA wal_autocheckpoint")
    assert row is not None and row[0] == WAL_AUTOCHECKPOINT_PAGES
    # Over SQLite's default threshold (1,000 pages): that would have checkpointed inside a commit.
    await _write_notes(db, 1200)
    assert _rows_in_database_file(db) == 0

    checkpoints = WalCheckpoints(db, every=0.02)
    checkpoints.start()
    try:
        async with asyncio.timeout(10):
            while _rows_in_database_file(db) != 1200:
                await asyncio.sleep(0.01)
        await _write_notes(db, 1)  # the bot's connection writes on beside it
    finally:
        await checkpoints.close()
    assert _rows_in_database_file(db) in (1200, 1201)  # the last write may be checkpointed too
    count = await db.fetchone("SELECT COUNT(*) FROM notes")
    assert count is not None and count[0] == 1201


async def test_a_look_checkpoints_only_what_is_new(db: Database) -> None:
    checkpoints = WalCheckpoints(db)
    conn = sqlite3.connect(db.path, isolation_level=None)
    try:
        assert checkpoints.look(conn)  # the table's creation
        assert not checkpoints.look(conn)  # nothing written since: SQLite is left alone
        await _write_notes(db, 3)
        assert _rows_in_database_file(db) == 0
        assert checkpoints.look(conn)
        assert _rows_in_database_file(db) == 3
        assert not checkpoints.look(conn)
    finally:
        conn.close()
