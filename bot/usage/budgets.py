"""Budgets enforced before spending: a call reserves its worst-case cost, runs only if that fits what
is left of the server's month and the member's day, and releases the reservation once its real cost
is in the ledger (or it failed). Reservations a crash left behind stop counting when they expire."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from bot.db import Database, GuildSettings
from bot.usage.events import to_epoch_us
from bot.usage.pricing import COST_PLACES

log = logging.getLogger(__name__)

#: How long a reservation counts when nobody releases it (the bot crashed mid-call). Longer than
#: any call streams, so a live call's reservation never lapses while it still spends.
RESERVATION_TTL = timedelta(minutes=30)

Scope = Literal["server_month", "member_day"]


def _units(amount: Decimal) -> int:
    """Cost in 1e-10 USD, rounded up: a reservation errs on the side of the budget."""
    return int(-((-amount.scaleb(COST_PLACES)) // 1))


def _usd(units: int) -> Decimal:
    return Decimal(units).scaleb(-COST_PLACES)


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(now: datetime) -> datetime:
    start = month_start(now)
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


def day_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class BudgetExceeded(Exception):
    """The call's worst-case cost does not fit what is left of one budget."""

    def __init__(
        self, scope: Scope, limit: Decimal, left: Decimal, needed: Decimal, resets_at: datetime
    ) -> None:
        super().__init__(f"{scope} budget: {left} of {limit} USD left, {needed} needed")
        self.scope: Scope = scope
        self.limit = limit
        self.left = left
        self.needed = needed
        self.resets_at = resets_at


@dataclass(frozen=True, slots=True)
class Reservation:
    """A held worst-case cost; `id` is None when no budget applied (nothing was held)."""

    id: int | None
    guild_id: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """One budget's state for /usage: limit, spent (ledger), held (reservations), left, reset."""

    scope: Scope
    limit: Decimal
    spent: Decimal
    held: Decimal
    resets_at: datetime

    @property
    def left(self) -> Decimal:
        return max(Decimal(0), self.limit - self.spent - self.held)


# One statement reads all four sums, so a reservation costs one round trip to SQLite's thread.
_SUMS = (
    "SELECT"
    " (SELECT COALESCE(SUM(cost_e10), 0) FROM usage_events WHERE guild_id = ?1 AND created_at_us >= ?4),"
    " (SELECT COALESCE(SUM(cost_e10), 0) FROM budget_reservations"
    "   WHERE guild_id = ?1 AND expires_at_us > ?3),"
    " (SELECT COALESCE(SUM(cost_e10), 0) FROM usage_events"
    "   WHERE guild_id = ?1 AND user_id = ?2 AND created_at_us >= ?5),"
    " (SELECT COALESCE(SUM(cost_e10), 0) FROM budget_reservations"
    "   WHERE guild_id = ?1 AND user_id = ?2 AND expires_at_us > ?3)"
)


def _sum_params(guild_id: int, user_id: int, now: datetime) -> tuple[int, ...]:
    return (guild_id, user_id, to_epoch_us(now), to_epoch_us(month_start(now)), to_epoch_us(day_start(now)))


class Budgets:
    """Reserves and releases against each server's budgets; every query is keyed by guild id.

    Atomic under concurrency: the check and the insert run in one `BEGIN IMMEDIATE` transaction on
    the bot's one connection, so fifty simultaneous calls at the edge of a budget are decided one
    after the other against what the earlier ones already hold.
    """

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ttl: timedelta = RESERVATION_TTL,
    ) -> None:
        self._db = db
        self._clock = clock
        self._ttl = ttl

    @staticmethod
    def member_is_exempt(settings: GuildSettings, role_ids: Iterable[int]) -> bool:
        return bool(settings.budget_exempt_role_ids) and not set(settings.budget_exempt_role_ids).isdisjoint(
            role_ids
        )

    async def reserve(
        self,
        *,
        guild_id: int,
        user_id: int,
        feature: str,
        amount: Decimal,
        settings: GuildSettings,
        role_ids: Iterable[int] = (),
    ) -> Reservation:
        """Hold `amount` USD, or raise BudgetExceeded naming the budget it does not fit."""
        monthly = settings.monthly_budget_usd
        daily = None if self.member_is_exempt(settings, role_ids) else settings.member_daily_budget_usd
        if monthly is None and daily is None:
            return Reservation(None, guild_id, amount)
        now = self._clock()
        needed = _units(amount)
        async with self._db.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    _SUMS,
                    _sum_params(guild_id, user_id, now),
                )
            )
            spent_month, held_guild, spent_day, held_member = (int(v) for v in rows[0])
            if monthly is not None:
                left = _units(monthly) - spent_month - held_guild
                if needed > left:
                    raise BudgetExceeded(
                        "server_month", monthly, _usd(max(0, left)), amount, next_month_start(now)
                    )
            if daily is not None:
                left = _units(daily) - spent_day - held_member
                if needed > left:
                    raise BudgetExceeded(
                        "member_day", daily, _usd(max(0, left)), amount, day_start(now) + timedelta(days=1)
                    )
            reservation_id = await conn.execute_insert(
                "INSERT INTO budget_reservations"
                " (guild_id, user_id, feature, cost_e10, created_at_us, expires_at_us)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (guild_id, user_id, feature, needed, to_epoch_us(now), to_epoch_us(now + self._ttl)),
            )
        assert reservation_id is not None
        return Reservation(int(reservation_id[0]), guild_id, amount)

    async def release(self, reservation: Reservation) -> None:
        """Stop holding the reservation: call once the real cost is in the ledger, or nothing was
        spent. Also forgets this server's expired reservations (left by a crash)."""
        if reservation.id is None:
            return
        async with self._db.transaction() as conn:
            await conn.execute_fetchall(
                "DELETE FROM budget_reservations WHERE id = ? OR (guild_id = ? AND expires_at_us <= ?)",
                (reservation.id, reservation.guild_id, to_epoch_us(self._clock())),
            )

    async def status(self, guild_id: int, user_id: int, settings: GuildSettings) -> list[BudgetStatus]:
        """The server's and the member's budgets as they stand (only those that are set)."""
        now = self._clock()
        row = await self._db.fetchone(
            _SUMS,
            _sum_params(guild_id, user_id, now),
        )
        assert row is not None
        spent_month, held_guild, spent_day, held_member = (int(v) for v in row)
        found = []
        if settings.monthly_budget_usd is not None:
            found.append(
                BudgetStatus(
                    "server_month",
                    settings.monthly_budget_usd,
                    _usd(spent_month),
                    _usd(held_guild),
                    next_month_start(now),
                )
            )
        if settings.member_daily_budget_usd is not None:
            found.append(
                BudgetStatus(
                    "member_day",
                    settings.member_daily_budget_usd,
                    _usd(spent_day),
                    _usd(held_member),
                    day_start(now) + timedelta(days=1),
                )
            )
        return found


__all__ = [
    "RESERVATION_TTL",
    "BudgetExceeded",
    "BudgetStatus",
    "Budgets",
    "Reservation",
    "day_start",
    "month_start",
    "next_month_start",
]
