"""Moderation's tables: the audit of flagged and unchecked messages, hourly counters, the queue journal.
Counters and the journal are buffered and written in one transaction per flush; queries are keyed by guild."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bot.db import Database

# Counters are summed over the last day for status; a month is kept for a look back.
COUNTERS_KEEP_DAYS = 31
COUNTERS = ("checked", "flagged", "actions", "unchecked", "api_calls", "http_429")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    guild_id: int
    channel_id: int
    message_id: int
    author_id: int
    status: str
    reason: str | None
    scores: dict[str, float]
    actions: tuple[str, ...]
    excerpt: str | None
    log_message_id: int | None
    reviewed_by: int | None
    review: str | None
    appeal: str | None
    created_at: int


def _entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        message_id=row["message_id"],
        author_id=row["author_id"],
        status=row["status"],
        reason=row["reason"],
        scores=json.loads(row["scores_json"]),
        actions=tuple(a for a in row["actions"].split(",") if a),
        excerpt=row["excerpt"],
        log_message_id=row["log_message_id"],
        reviewed_by=row["reviewed_by"],
        review=row["review"],
        appeal=row["appeal"],
        created_at=row["created_at"],
    )


@dataclass(frozen=True, slots=True)
class PendingMessage:
    message_id: int
    guild_id: int
    channel_id: int
    author_id: int


class ModerationRecords:
    def __init__(self, db: Database, clock: Any = time.time) -> None:
        self._db = db
        self._clock = clock
        self._counts: Counter[tuple[int, int, str]] = Counter()
        self._journal_add: dict[int, PendingMessage] = {}
        self._journal_remove: set[int] = set()
        self._unchecked: list[tuple[PendingMessage, str]] = []

    # -- buffered --------------------------------------------------------------------------------

    def count(self, guild_id: int, name: str, amount: int = 1) -> None:
        self._counts[(guild_id, int(self._clock()) // 3600, name)] += amount

    def journal(self, message: PendingMessage) -> None:
        self._journal_add[message.message_id] = message
        self._journal_remove.discard(message.message_id)

    def settled(self, message_id: int) -> None:
        if self._journal_add.pop(message_id, None) is None:
            self._journal_remove.add(message_id)

    def unchecked(self, message: PendingMessage, reason: str) -> None:
        """Record a message that could not be checked (an audit row, no text)."""
        self._unchecked.append((message, reason))
        self.count(message.guild_id, "unchecked")
        self.settled(message.message_id)

    @property
    def dirty(self) -> bool:
        return bool(self._counts or self._journal_add or self._journal_remove or self._unchecked)

    async def flush(self) -> None:
        if not self.dirty:
            return
        counts, self._counts = self._counts, Counter()
        adds, self._journal_add = self._journal_add, {}
        removes, self._journal_remove = self._journal_remove, set()
        unchecked, self._unchecked = self._unchecked, []
        now = int(self._clock())
        async with self._db.transaction() as conn:
            if adds:
                await conn.executemany(
                    "INSERT OR REPLACE INTO moderation_pending"
                    " (message_id, guild_id, channel_id, author_id, queued_at) VALUES (?, ?, ?, ?, ?)",
                    [(p.message_id, p.guild_id, p.channel_id, p.author_id, now) for p in adds.values()],
                )
            if removes:
                await conn.executemany(
                    "DELETE FROM moderation_pending WHERE message_id = ?", [(m,) for m in removes]
                )
            if unchecked:
                await conn.executemany(
                    "INSERT INTO moderation_audit (guild_id, channel_id, message_id, author_id, status,"
                    " reason, created_at) VALUES (?, ?, ?, ?, 'unchecked', ?, ?)",
                    [(p.guild_id, p.channel_id, p.message_id, p.author_id, r, now) for p, r in unchecked],
                )
            for (guild_id, hour, name), amount in counts.items():
                assert name in COUNTERS
                await conn.execute(
                    f"INSERT INTO moderation_counters (guild_id, hour, {name}) VALUES (?, ?, ?)"
                    f" ON CONFLICT (guild_id, hour) DO UPDATE SET {name} = {name} + excluded.{name}",
                    (guild_id, hour, amount),
                )

    # -- direct ----------------------------------------------------------------------------------

    async def recover_pending(self) -> list[PendingMessage]:
        """Messages a previous run queued and never settled: recorded unchecked ("restart")."""
        rows = await self._db.fetchall(
            "SELECT message_id, guild_id, channel_id, author_id FROM moderation_pending"
        )
        left = [PendingMessage(*(int(v) for v in row)) for row in rows]
        for message in left:
            self.unchecked(message, "restart")
            self._journal_remove.add(message.message_id)
        await self.flush()
        return left

    async def add_flagged(
        self,
        *,
        guild_id: int,
        channel_id: int,
        message_id: int,
        author_id: int,
        scores: dict[str, float],
        actions: list[str],
        excerpt: str,
    ) -> int:
        async with self._db.transaction() as conn:
            row = await conn.execute_insert(
                "INSERT INTO moderation_audit (guild_id, channel_id, message_id, author_id, status,"
                " scores_json, actions, excerpt, created_at) VALUES (?, ?, ?, ?, 'flagged', ?, ?, ?, ?)",
                (
                    guild_id,
                    channel_id,
                    message_id,
                    author_id,
                    json.dumps(scores),
                    ",".join(actions),
                    excerpt,
                    int(self._clock()),
                ),
            )
        assert row is not None
        return int(row[0])

    async def get(self, guild_id: int, audit_id: int) -> AuditEntry | None:
        row = await self._db.fetchone(
            "SELECT * FROM moderation_audit WHERE guild_id = ? AND id = ?", (guild_id, audit_id)
        )
        return None if row is None else _entry(row)

    async def entries(self, guild_id: int) -> list[AuditEntry]:
        rows = await self._db.fetchall(
            "SELECT * FROM moderation_audit WHERE guild_id = ? ORDER BY id", (guild_id,)
        )
        return [_entry(row) for row in rows]

    async def update(self, guild_id: int, audit_id: int, **fields: Any) -> None:
        allowed = {"log_message_id", "reviewed_by", "review", "appeal", "actions"}
        assert set(fields) <= allowed, fields
        if "review" in fields:
            fields["reviewed_at"] = int(self._clock())
        sets = ", ".join(f"{name} = ?" for name in fields)
        async with self._db.transaction() as conn:
            await conn.execute(
                f"UPDATE moderation_audit SET {sets} WHERE guild_id = ? AND id = ?",
                (*fields.values(), guild_id, audit_id),
            )

    async def status(self, guild_id: int, hours: int = 24) -> dict[str, int]:
        await self.flush()
        since = int(self._clock()) // 3600 - hours + 1
        row = await self._db.fetchone(
            "SELECT "
            + ", ".join(f"COALESCE(SUM({c}), 0)" for c in COUNTERS)
            + " FROM moderation_counters WHERE guild_id = ? AND hour >= ?",
            (guild_id, since),
        )
        assert row is not None
        return {name: int(row[i]) for i, name in enumerate(COUNTERS)}

    async def purge(self, default_days: int, days: dict[int, int]) -> int:
        """Drop the text of flagged messages past each server's retention (the audit row stays), and
        counters older than COUNTERS_KEEP_DAYS. Returns how many excerpts were dropped."""
        now = int(self._clock())
        dropped = 0
        async with self._db.transaction() as conn:
            for guild_id, keep in days.items():
                cursor = await conn.execute(
                    "UPDATE moderation_audit SET excerpt = NULL WHERE guild_id = ? AND created_at < ?"
                    " AND excerpt IS NOT NULL",
                    (guild_id, now - keep * 86400),
                )
                dropped += cursor.rowcount
            others = ",".join("?" * len(days))
            cursor = await conn.execute(
                "UPDATE moderation_audit SET excerpt = NULL WHERE created_at < ? AND excerpt IS NOT NULL"
                + (f" AND guild_id NOT IN ({others})" if days else ""),
                (now - default_days * 86400, *days),
            )
            dropped += cursor.rowcount
            await conn.execute(
                "DELETE FROM moderation_counters WHERE hour < ?", (now // 3600 - COUNTERS_KEEP_DAYS * 24,)
            )
        return dropped
