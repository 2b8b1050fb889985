"""/imagine requests: the parameters of one request, for its Regenerate, Variation and Delete buttons.
Keyed by guild id in every query, so a button can never reach another server's request."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict

from bot.db import Database

KEEP_DAYS = 30


class ImagineRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    guild_id: int
    channel_id: int
    user_id: int
    model: str
    prompt: str
    n: int
    size: str
    quality: str
    #: An edit's source image (a Discord CDN URL); None for a generation.
    source_url: str | None = None


def _from_row(row: sqlite3.Row) -> ImagineRequest:
    return ImagineRequest(**{key: row[key] for key in ImagineRequest.model_fields})


class ImagineRequestRepo:
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
        n: int,
        size: str,
        quality: str,
        source_url: str | None,
    ) -> ImagineRequest:
        now = int(datetime.now(UTC).timestamp())
        async with self._db.transaction() as conn:
            row = await conn.execute_insert(
                "INSERT INTO imagine_requests (guild_id, channel_id, user_id, model, prompt, n, size,"
                " quality, source_url, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (guild_id, channel_id, user_id, model, prompt, n, size, quality, source_url, now),
            )
        assert row is not None
        return ImagineRequest(
            id=int(row[0]),
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            model=model,
            prompt=prompt,
            n=n,
            size=size,
            quality=quality,
            source_url=source_url,
        )

    async def get(self, guild_id: int, request_id: int) -> ImagineRequest | None:
        row = await self._db.fetchone(
            "SELECT * FROM imagine_requests WHERE guild_id = ? AND id = ?", (guild_id, request_id)
        )
        return None if row is None else _from_row(row)

    async def purge(self, now: datetime, days: int = KEEP_DAYS) -> None:
        cutoff = int((now - timedelta(days=days)).timestamp())
        async with self._db.transaction() as conn:
            await conn.execute_fetchall("DELETE FROM imagine_requests WHERE created_at < ?", (cutoff,))
