"""Command-sync state: the hash of the last command tree synced to Discord, per scope.
Lets startup skip a sync (and its rate limit) when nothing changed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from bot.db.database import Database

log = logging.getLogger(__name__)


class CommandSyncRepo:
    """Scope is "global" or a guild id as text; one hash per scope."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_hash(self, scope: str) -> str | None:
        row = await self._db.fetchone("SELECT tree_hash FROM command_sync WHERE scope = ?", (str(scope),))
        return None if row is None else str(row["tree_hash"])

    async def set_hash(self, scope: str, value: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute_fetchall(
                "INSERT INTO command_sync (scope, tree_hash, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (scope) DO UPDATE SET tree_hash = excluded.tree_hash,"
                " updated_at = excluded.updated_at",
                (str(scope), value, datetime.now(UTC).isoformat()),
            )
        log.debug("command tree hash for scope %s set", scope)
