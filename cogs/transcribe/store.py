"""Stored transcripts, one per (guild, attachment): a second request is answered from here.
Every query is keyed by guild id, so one server never reads another's transcripts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict

from bot.db import Database

#: (start seconds, end seconds, text)
Segment = tuple[float, float, str]


class StoredTranscript(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str
    text: str
    language: str | None = None
    duration: float | None = None
    #: None when the model gave no timestamps (gpt-4o*-transcribe).
    segments: tuple[Segment, ...] | None = None


class TranscriptRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, guild_id: int, attachment_id: int) -> StoredTranscript | None:
        row = await self._db.fetchone(
            "SELECT model, text, language, duration, segments FROM transcripts"
            " WHERE guild_id = ? AND attachment_id = ?",
            (guild_id, attachment_id),
        )
        if row is None:
            return None
        segments = None
        if row["segments"] is not None:
            segments = tuple((float(s), float(e), str(t)) for s, e, t in json.loads(row["segments"]))
        return StoredTranscript(
            model=row["model"],
            text=row["text"],
            language=row["language"],
            duration=row["duration"],
            segments=segments,
        )

    async def put(
        self, guild_id: int, attachment_id: int, message_id: int | None, transcript: StoredTranscript
    ) -> None:
        segments = None if transcript.segments is None else json.dumps([list(s) for s in transcript.segments])
        async with self._db.transaction() as conn:
            await conn.execute_fetchall(
                "INSERT INTO transcripts (guild_id, attachment_id, message_id, model, text, language,"
                " duration, segments, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (guild_id, attachment_id) DO UPDATE SET model = excluded.model,"
                " text = excluded.text, language = excluded.language, duration = excluded.duration,"
                " segments = excluded.segments, created_at = excluded.created_at",
                (
                    guild_id,
                    attachment_id,
                    message_id,
                    transcript.model,
                    transcript.text,
                    transcript.language,
                    transcript.duration,
                    segments,
                    int(datetime.now(UTC).timestamp()),
                ),
            )

    async def purge(self, now: datetime, default_days: int, days_by_guild: Mapping[int, int]) -> int:
        """Delete transcripts older than each server's retention; `days_by_guild` lists the servers
        whose admins chose another retention than the default. Returns how many were deleted."""
        deleted = 0
        async with self._db.transaction() as conn:
            for guild_id, days in days_by_guild.items():
                cutoff = int((now - timedelta(days=days)).timestamp())
                cursor = await conn.execute(
                    "DELETE FROM transcripts WHERE guild_id = ? AND created_at < ?", (guild_id, cutoff)
                )
                deleted += cursor.rowcount
            others = tuple(days_by_guild)
            cutoff = int((now - timedelta(days=default_days)).timestamp())
            cursor = await conn.execute(
                "DELETE FROM transcripts WHERE created_at < ?"
                f" AND guild_id NOT IN ({', '.join('?' * len(others))})",
                (cutoff, *others),
            )
            deleted += cursor.rowcount
        return deleted
