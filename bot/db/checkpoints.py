"""WAL checkpoints in the background, on a connection of their own: the database file catches up
with the write-ahead log while the bot's own connection goes on writing, never inside a commit.

Left to SQLite, the commit that pushes the WAL past 1,000 pages copies them all into the database
before it returns: every few thousand writes, one member's message waits about 10 ms more. On the
bot's connection a checkpoint would still hold up every statement queued behind it; on a second
connection (its own thread) a PASSIVE checkpoint runs beside the writes, which WAL allows.
"""

from __future__ import annotations

import asyncio
import logging

import aiosqlite
from discord.ext import tasks

from bot.db.database import Database

log = logging.getLogger(__name__)

# Seconds between looks; a look that finds new commits checkpoints them.
CHECK_EVERY = 1.0


class WalCheckpoints:
    """Every `every` seconds, copies what `db` committed since the last pass into the database file.

    A discord.ext.tasks loop, like the features' purges: the bot starts it and closes it on shutdown.
    """

    def __init__(self, db: Database, *, every: float = CHECK_EVERY) -> None:
        self._db = db
        self._conn: aiosqlite.Connection | None = None
        self._checkpointed_at = -1  # the database's commit count at the last checkpoint
        self.loop = tasks.loop(seconds=every)(self._pass)

    async def start(self) -> None:
        if self._conn is None:
            self._conn = await aiosqlite.connect(self._db.path, isolation_level=None)
        if not self.loop.is_running():
            self.loop.start()

    async def close(self) -> None:
        task = self.loop.get_task()
        self.loop.cancel()
        if task is not None:
            # wait() rather than await: a cancellation of the caller itself must not be swallowed.
            await asyncio.wait({task})
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def look(self) -> None:
        """Checkpoint if something was committed since the last checkpoint."""
        commits = self._db.commits
        if commits == self._checkpointed_at or self._db.closed or self._conn is None:
            return
        # PASSIVE: copy what no reader still needs, without waiting for anyone; the rest next time.
        rows = list(await self._conn.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)"))
        _busy, wal_pages, copied = rows[0]
        self._checkpointed_at = commits
        if copied < wal_pages:
            log.debug("WAL checkpoint copied %d of %d pages", copied, wal_pages)

    async def _pass(self) -> None:
        try:
            await self.look()
        except Exception:  # the loop must go on; SQLite's own high mark bounds the WAL meanwhile
            log.exception("WAL checkpoint failed")
