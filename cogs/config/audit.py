"""The /config audit table: one row per changed setting (who, what, old, new, when), per server.
Written by /config after each change; read back by /config history."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.db import Database
from bot.usage.events import from_epoch_us, to_epoch_us


@dataclass(frozen=True, slots=True)
class Change:
    user_id: int
    feature: str
    setting: str
    old: Any
    new: Any
    changed_at: datetime


class ConfigAudit:
    """Records and lists setting changes; every query is keyed by guild id."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, guild_id: int, user_id: int, changes: Sequence[tuple[str, str, Any, Any]]) -> None:
        """Store (feature, setting, old, new) changes made together by one member."""
        if not changes:
            return
        now = to_epoch_us(datetime.now(UTC))
        async with self._db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO config_audit"
                " (guild_id, user_id, feature, setting, old_json, new_json, changed_at_us)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (guild_id, user_id, feature, setting, json.dumps(old), json.dumps(new), now)
                    for feature, setting, old, new in changes
                ],
            )

    async def recent(self, guild_id: int, *, feature: str | None = None, limit: int = 15) -> list[Change]:
        where = "guild_id = ?"
        params: list[int | str] = [guild_id]
        if feature is not None:
            where += " AND feature = ?"
            params.append(feature)
        rows = await self._db.fetchall(
            "SELECT user_id, feature, setting, old_json, new_json, changed_at_us FROM config_audit"
            f" WHERE {where} ORDER BY id DESC LIMIT ?",
            [*params, limit],
        )
        return [
            Change(int(r[0]), str(r[1]), str(r[2]), json.loads(r[3]), json.loads(r[4]), from_epoch_us(r[5]))
            for r in rows
        ]


__all__ = ["Change", "ConfigAudit"]
