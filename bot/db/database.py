"""The Database: one aiosqlite connection per process, its pragmas, migrations and transactions.
Repositories and the usage ledger share it; all writes go through `transaction()`."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from bot.db import migrations as _migrations

log = logging.getLogger(__name__)

# How long a statement waits for another *process* holding the write lock (e.g. a backup).
_BUSY_TIMEOUT_MS = 5000
# SQLite copies the WAL back into the database inside whichever commit pushes the WAL past this many
# pages. The bot checkpoints in the background instead (bot/db/checkpoints.py), so no member's
# message pays for that copy; this high mark (about 40 MB) only bounds the WAL if that stops, or
# for scripts that never start it.
WAL_AUTOCHECKPOINT_PAGES = 10_000


class Database:
    """One connection, WAL, synchronous=NORMAL, foreign keys on; open with `await Database.open()`.

    aiosqlite runs sqlite3 in its own thread, so queries never block the event loop. Because the
    connection is shared, a transaction must not interleave with another coroutine's statements:
    `transaction()` and the read helpers take one asyncio lock, which keeps a repository's write
    from landing inside the ledger's batch (and readers from seeing uncommitted rows).
    """

    def __init__(self, conn: aiosqlite.Connection, path: Path, schema_version: int) -> None:
        self._conn = conn
        self.path = path
        self._schema_version = schema_version
        self._lock = asyncio.Lock()
        self._closed = False
        self._holder: asyncio.Task[object] | None = None
        #: Transactions committed (through `transaction()` or `write()`); the checkpointer reads it.
        self.commits = 0

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        migrations_dir: Path | None = None,
        target_version: int | None = None,
    ) -> Database:
        """Open (creating parent directories) and migrate to the newest schema.

        `migrations_dir` and `target_version` exist for tests: building a database at an old
        version, or proving a broken migration rolls back.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        found = _migrations.discover(migrations_dir or _migrations.MIGRATIONS_DIR)
        # isolation_level=None: no implicit BEGINs; every transaction here is explicit.
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            await conn.execute_fetchall("PRAGMA journal_mode = WAL")
            # NORMAL under WAL survives application crashes; only power loss can drop the last commits.
            await conn.execute_fetchall("PRAGMA synchronous = NORMAL")
            await conn.execute_fetchall("PRAGMA foreign_keys = ON")
            await conn.execute_fetchall(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            await conn.execute_fetchall(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
            version = await _migrations.apply(conn, found, target_version)
        except BaseException:
            await conn.close()
            raise
        log.info("opened database %s at schema version %d", path, version)
        return cls(conn, path, version)

    async def migrate_feature(self, feature: str, directory: Path) -> int:
        """Apply a feature's own migrations (NNNN_name.sql in `directory`); return its version."""
        found = _migrations.discover(directory)
        async with self._locked():
            return await _migrations.apply_feature(self._conn, feature, found)

    @property
    def schema_version(self) -> int:
        return self._schema_version

    @property
    def closed(self) -> bool:
        return self._closed

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back if the block raises; serialised by the lock."""
        async with self._locked():
            await self._conn.execute_fetchall("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                # A RAISE(ROLLBACK) or an I/O error may already have ended the transaction.
                if self._conn.in_transaction:
                    await self._conn.execute_fetchall("ROLLBACK")
                raise
            try:
                await self._conn.execute_fetchall("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    await self._conn.execute_fetchall("ROLLBACK")
                raise
            self.commits += 1

    @asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        # asyncio.Lock is not re-entrant: calling a helper inside transaction() would wait forever.
        if self._holder is not None and self._holder is asyncio.current_task():
            raise RuntimeError("use the connection yielded by transaction() inside it, not the Database")
        async with self._lock:
            self._holder = asyncio.current_task()
            try:
                yield
            finally:
                self._holder = None

    async def write(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """One write statement as its own transaction (SQLite commits a lone statement atomically):
        one round trip to SQLite's thread instead of BEGIN, the statement and COMMIT."""
        async with self._locked():
            rows = list(await self._conn.execute_fetchall(sql, tuple(params)))
        self.commits += 1
        return rows

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        async with self._locked():
            return list(await self._conn.execute_fetchall(sql, tuple(params)))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def close(self) -> None:
        """Close the connection; idempotent. Close the UsageLedger first so its queue is flushed."""
        if self._closed:
            return
        self._closed = True
        async with self._locked():
            await self._conn.close()
        log.info("closed database %s", self.path)
