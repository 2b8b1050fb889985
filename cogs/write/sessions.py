"""/write sessions: the parameters and output of one answer, for its Regenerate/Continue buttons.
Keyed by guild id in every query, so a button can never reach another server's session; rows older
than the server's retention are purged."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.db import Database


class WriteSession(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    guild_id: int
    channel_id: int
    user_id: int
    model: str
    prompt: str
    temperature: float | None
    max_tokens: int
    output: str
    finish_reason: str | None


def _from_row(row: sqlite3.Row) -> WriteSession:
    return WriteSession(**{key: row[key] for key in WriteSession.model_fields})


class WriteSessionRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        model: str,
        prompt: str,
        temperature: float | None,
        max_tokens: int,
    ) -> WriteSession:
        now = int(datetime.now(UTC).timestamp())
        async with self._db.transaction() as conn:
            row = await conn.execute_insert(
                "INSERT INTO write_sessions (guild_id, channel_id, user_id, model, prompt, temperature,"
                " max_tokens, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (guild_id, channel_id, user_id, model, prompt, temperature, max_tokens, now),
            )
        assert row is not None
        session_id = int(row[0])
        return WriteSession(
            id=session_id,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            model=model,
            prompt=prompt,
            temperature=temperature,
            max_tokens=max_tokens,
            output="",
            finish_reason=None,
        )

    async def get(self, guild_id: int, session_id: int) -> WriteSession | None:
        row = await self._db.fetchone(
            "SELECT * FROM write_sessions WHERE guild_id = ? AND id = ?", (guild_id, session_id)
        )
        return None if row is None else _from_row(row)

    async def finish(self, guild_id: int, session_id: int, output: str, finish_reason: str | None) -> None:
        async with self._db.transaction() as conn:
            await conn.execute_fetchall(
                "UPDATE write_sessions SET output = ?, finish_reason = ? WHERE guild_id = ? AND id = ?",
                (output, finish_reason, guild_id, session_id),
            )

    async def purge(self, now: datetime, default_days: int, days_by_guild: Mapping[int, int]) -> int:
        """Delete sessions older than each server's retention; return how many were deleted.

        `days_by_guild` lists the servers whose admins chose another retention than the default.
        """
        deleted = 0
        async with self._db.transaction() as conn:
            for guild_id, days in days_by_guild.items():
                cutoff = int((now - timedelta(days=days)).timestamp())
                await conn.execute_fetchall(
                    "DELETE FROM write_sessions WHERE guild_id = ? AND created_at < ?", (guild_id, cutoff)
                )
                deleted += await _changes(conn)
            cutoff = int((now - timedelta(days=default_days)).timestamp())
            others = tuple(days_by_guild)
            await conn.execute_fetchall(
                "DELETE FROM write_sessions WHERE created_at < ?"
                f" AND guild_id NOT IN ({', '.join('?' * len(others))})",
                (cutoff, *others),
            )
            deleted += await _changes(conn)
        return deleted


async def _changes(conn: Any) -> int:
    """Rows changed by the connection's last statement."""
    rows = await conn.execute_fetchall("SELECT changes()")
    return int(next(iter(rows))[0])
