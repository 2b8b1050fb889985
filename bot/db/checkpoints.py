"""WAL checkpoints in the background, on a connection and thread of their own: the database file
catches up with the write-ahead log while the bot's connection goes on writing, never in a commit.

Left to SQLite, the commit that pushes the WAL past 1,000 pages copies them all into the database
before it returns: every few thousand writes, one member's message waits about 10 ms more. On the
bot's connection a checkpoint would still hold up every statement queued behind it; on a second
connection a PASSIVE checkpoint runs beside the writes, which WAL allows. A plain thread rather
than an asyncio task: it has nothing to await, and it keeps a timer off the event loop.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from bot.db.database import Database

log = logging.getLogger(__name__)

# Seconds between looks; a look that finds new commits checkpoints them.
CHECK_EVERY = 1.0


class WalCheckpoints:
    """Every `every` seconds, copies what `db` committed since the last look into the database file."""

    def __init__(self, db: Database, *, every: float = CHECK_EVERY) -> None:
        self._db = db
        self._every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._checkpointed_at = -1  # the database's commit count at the last checkpoint

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="wal-checkpoints", daemon=True)
            self._thread.start()

    async def close(self) -> None:
        """Stop the thread; it wakes at once, unless in a checkpoint (milliseconds)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join()

    def look(self, conn: sqlite3.Connection) -> bool:
        """Checkpoint through `conn` if something was committed since the last checkpoint; whether
        it did."""
        commits = self._db.commits  # an int the event loop's thread bumps; reading it is safe
        if commits == self._checkpointed_at:
            return False
        # PASSIVE: copy what no reader still needs, without waiting for anyone; the rest next time.
        _busy, wal_pages, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self._checkpointed_at = commits
        if copied < wal_pages:
            log.debug("WAL checkpoint copied %d of %d pages", copied, wal_pages)
        return True

    def _run(self) -> None:
        conn = sqlite3.connect(self._db.path, isolation_level=None)
        try:
            while not self._stop.wait(self._every):
                try:
                    self.look(conn)
                except sqlite3.Error:  # retried next time; SQLite's own high mark bounds the WAL
                    log.exception("WAL checkpoint failed")
        finally:
            conn.close()
