"""Read-only views of the ledger for reports: totals by model, top members, daily cost by feature,
and the raw rows for export. Every query is keyed by guild id and bounded by a period."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bot.db import Database
from bot.usage.events import UsageSums, from_epoch_us, to_epoch_us
from bot.usage.pricing import COST_PLACES

#: Rows per query while exporting, so a large ledger is never held in memory at once.
_EXPORT_PAGE = 2000
_SUMS = (
    "COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(images), SUM(audio_seconds),"
    " SUM(cost_e10), SUM(estimated)"
)


def _cost(units: int | None) -> Decimal:
    return Decimal(units or 0).scaleb(-COST_PLACES)


def _sums(row: Any, offset: int = 1) -> UsageSums:
    r = row
    return UsageSums(
        count=r[offset],
        input_tokens=r[offset + 1] or 0,
        output_tokens=r[offset + 2] or 0,
        images=r[offset + 3] or 0,
        audio_seconds=r[offset + 4] or 0.0,
        cost_usd=_cost(r[offset + 5]),
        estimated_count=r[offset + 6] or 0,
    )


@dataclass(frozen=True, slots=True)
class Scope:
    guild_id: int
    user_id: int | None
    since: datetime | None
    until: datetime | None

    def where(self) -> tuple[str, list[Any]]:
        clauses, params = ["guild_id = ?"], [self.guild_id]
        if self.user_id is not None:
            clauses.append("user_id = ?")
            params.append(self.user_id)
        if self.since is not None:
            clauses.append("created_at_us >= ?")
            params.append(to_epoch_us(self.since))
        if self.until is not None:
            clauses.append("created_at_us < ?")
            params.append(to_epoch_us(self.until))
        return " AND ".join(clauses), params


class UsageReports:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def by_model(self, scope: Scope) -> dict[str, UsageSums]:
        where, params = scope.where()
        rows = await self._db.fetchall(
            f"SELECT model, {_SUMS} FROM usage_events WHERE {where}"
            " GROUP BY model ORDER BY SUM(cost_e10) DESC, model",
            params,
        )
        return {str(r[0]): _sums(r) for r in rows}

    async def top_members(self, scope: Scope, limit: int = 5) -> list[tuple[int, UsageSums]]:
        where, params = scope.where()
        rows = await self._db.fetchall(
            f"SELECT user_id, {_SUMS} FROM usage_events WHERE {where}"
            " GROUP BY user_id ORDER BY SUM(cost_e10) DESC, user_id LIMIT ?",
            [*params, limit],
        )
        return [(int(r[0]), _sums(r)) for r in rows]

    async def daily_cost_by_feature(self, scope: Scope) -> dict[date, dict[str, Decimal]]:
        """UTC day -> feature -> cost, for days with usage."""
        where, params = scope.where()
        rows = await self._db.fetchall(
            "SELECT date(created_at_us / 1000000, 'unixepoch') AS day, feature, SUM(cost_e10)"
            f" FROM usage_events WHERE {where} GROUP BY day, feature ORDER BY day",
            params,
        )
        days: dict[date, dict[str, Decimal]] = {}
        for day, feature, units in rows:
            days.setdefault(date.fromisoformat(day), {})[str(feature)] = _cost(units)
        return days

    async def rows(self, scope: Scope) -> AsyncIterator[dict[str, Any]]:
        """Every ledger row of the scope, oldest first, a page at a time."""
        where, params = scope.where()
        last_id = 0
        while True:
            page = await self._db.fetchall(
                "SELECT id, created_at_us, user_id, channel_id, feature, model, request_id, input_tokens,"
                " output_tokens, images, image_size, image_quality, audio_seconds, cost_e10, estimated"
                f" FROM usage_events WHERE {where} AND id > ? ORDER BY id LIMIT ?",
                [*params, last_id, _EXPORT_PAGE],
            )
            for r in page:
                yield {
                    "id": r[0],
                    "created_at": from_epoch_us(r[1]).isoformat(),
                    "user_id": r[2],
                    "channel_id": r[3],
                    "feature": r[4],
                    "model": r[5],
                    "request_id": r[6],
                    "input_tokens": r[7],
                    "output_tokens": r[8],
                    "images": r[9],
                    "image_size": r[10],
                    "image_quality": r[11],
                    "audio_seconds": r[12],
                    "cost_usd": str(_cost(r[13])),
                    "estimated": bool(r[14]),
                }
            if len(page) < _EXPORT_PAGE:
                return
            last_id = int(page[-1][0])


__all__ = ["Scope", "UsageReports"]
