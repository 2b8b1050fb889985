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


async def _write_notes(db: Database, count: int) -> None:
    for index in range(count):
        await db.write("INSERT INTO notes (body) VALUES (?)", (f"note {index} " + "x" * 2000,))


async def test_commits_leave_pages_in_the_wal_until_the_checkpointer_runs(db: Database) -> None:
    row = await db.fetchone("PRAGMA wal_autocheckpoint")
    assert row is not None and row[0] == WAL_AUTOCHECKPOINT_PAGES
    # Over SQLite's default threshold (1,000 pages): that would have checkpointed inside a commit.
    await _write_notes(db, 1200)
    assert _rows_in_database_file(db) == 0

    checkpoints = WalCheckpoints(db)
    await checkpoints.start()
    try:
        await checkpoints.look()
        assert _rows_in_database_file(db) == 1200
    finally:
        await checkpoints.close()
    # The bot's connection carries on after the checkpointer's is closed.
    await _write_notes(db, 1)
    count = await db.fetchone("SELECT COUNT(*) FROM notes")
    assert count is not None and count[0] == 1201


async def _passes(checkpoints: WalCheckpoints, count: int) -> None:
    """Wait for `count` more iterations of the loop (discord.py counts them)."""
    target = checkpoints.loop.current_loop + count
    async with asyncio.timeout(10):
        while checkpoints.loop.current_loop < target:
            await asyncio.sleep(0.005)


async def test_the_loop_checkpoints_after_writes_and_leaves_an_idle_database_alone(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoints = WalCheckpoints(db, every=0.02)
    checkpointed: list[int] = []
    look = checkpoints.look

    async def watched_look() -> None:
        before = checkpoints._checkpointed_at
        await look()
        if checkpoints._checkpointed_at != before:
            checkpointed.append(checkpoints._checkpointed_at)

    monkeypatch.setattr(checkpoints, "look", watched_look)
    await checkpoints.start()
    try:
        await _passes(checkpoints, 2)
        assert checkpointed == [1]  # the table's creation
        await _write_notes(db, 3)
        await _passes(checkpoints, 2)
        assert _rows_in_database_file(db) == 3 and checkpointed[-1] == db.commits == 4
        seen = len(checkpointed)
        await _passes(checkpoints, 3)  # nothing written since: SQLite is left alone
        assert len(checkpointed) == seen
    finally:
        await checkpoints.close()
    assert not checkpoints.loop.is_running()
