"""Budgets enforced before spending: a call reserves its worst-case cost, runs only if that fits what
is left of the server's month and the member's day, and releases the reservation once its real cost
is in the ledger (or it failed). Reservations a crash left behind stop counting when they expire."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

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


@dataclass(slots=True)
class _Ask:
    """A reservation waiting for the worker."""

    guild_id: int
    user_id: int
    feature: str
    amount: Decimal
    monthly: Decimal | None
    daily: Decimal | None
    ttl: timedelta | None
    future: asyncio.Future[Reservation]


@dataclass(slots=True)
class _Drop:
    """A release waiting for the worker."""

    reservation: Reservation
    future: asyncio.Future[None]


def _delete(drops: list[_Drop], now_us: int) -> tuple[str, list[int]]:
    """One DELETE of the released reservations and of their servers' expired ones (left by a crash)."""
    ids = [d.reservation.id for d in drops if d.reservation.id is not None]
    guilds = sorted({d.reservation.guild_id for d in drops})
    sql = (
        f"DELETE FROM budget_reservations WHERE id IN ({', '.join('?' * len(ids))})"
        f" OR (guild_id IN ({', '.join('?' * len(guilds))}) AND expires_at_us <= ?)"
    )
    return sql, [*ids, *guilds, now_us]


def _used_query(guild_id: int, users: list[int], now: datetime) -> tuple[str, list[int]]:
    """What the server spent this month and holds (user NULL), and each member's day (spent + held)."""
    now_us = to_epoch_us(now)
    sql = (
        "SELECT NULL, SUM(cost_e10) FROM usage_events WHERE guild_id = ? AND created_at_us >= ?"
        " UNION ALL SELECT NULL, SUM(cost_e10) FROM budget_reservations"
        " WHERE guild_id = ? AND expires_at_us > ?"
    )
    params = [guild_id, to_epoch_us(month_start(now)), guild_id, now_us]
    if users:
        marks = ", ".join("?" * len(users))
        sql += (
            " UNION ALL SELECT user_id, SUM(cost_e10) FROM usage_events"
            f" WHERE guild_id = ? AND created_at_us >= ? AND user_id IN ({marks}) GROUP BY user_id"
            " UNION ALL SELECT user_id, SUM(cost_e10) FROM budget_reservations"
            f" WHERE guild_id = ? AND expires_at_us > ? AND user_id IN ({marks}) GROUP BY user_id"
        )
        params += [guild_id, to_epoch_us(day_start(now)), *users, guild_id, now_us, *users]
    return sql, params


# ?1 guild, ?2 member, ?3 feature, ?4 cost, ?5 now, ?6 expiry, ?7 monthly limit or NULL, ?8 month
# start, ?9 member's daily limit or NULL (exempt or unset), ?10 day start; amounts in 1e-10 USD.
_RESERVE_IF_IT_FITS = (
    "INSERT INTO budget_reservations (guild_id, user_id, feature, cost_e10, created_at_us, expires_at_us)"
    " SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE"
    " (?7 IS NULL OR ?4 + (SELECT COALESCE(SUM(cost_e10), 0) FROM usage_events"
    "   WHERE guild_id = ?1 AND created_at_us >= ?8)"
    "  + (SELECT COALESCE(SUM(cost_e10), 0) FROM budget_reservations"
    "   WHERE guild_id = ?1 AND expires_at_us > ?5) <= ?7)"
    " AND (?9 IS NULL OR ?4 + (SELECT COALESCE(SUM(cost_e10), 0) FROM usage_events"
    "   WHERE guild_id = ?1 AND user_id = ?2 AND created_at_us >= ?10)"
    "  + (SELECT COALESCE(SUM(cost_e10), 0) FROM budget_reservations"
    "   WHERE guild_id = ?1 AND user_id = ?2 AND expires_at_us > ?5) <= ?9)"
    " RETURNING id"
)

# Reservations and releases decided in one transaction at most; the rest wait for the next.
_MAX_BATCH = 500


class Budgets:
    """Reserves and releases against each server's budgets; every query is keyed by guild id.

    Atomic under concurrency: one worker decides queued reservations one after the other, against
    what the ledger holds plus what earlier ones already reserved, and stores them in the same
    `BEGIN IMMEDIATE` transaction. Everything queued while a transaction runs goes in the next one
    (group commit), so two hundred members reserving at once cost a few transactions, not hundreds.
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
        self._queue: list[_Ask | _Drop] = []
        self._worker: asyncio.Task[None] | None = None

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
        ttl: timedelta | None = None,
    ) -> Reservation:
        """Hold `amount` USD, or raise BudgetExceeded naming the budget it does not fit. `ttl`
        replaces the default lifetime for work that outlives a call (a fine-tuning job)."""
        monthly = settings.monthly_budget_usd
        daily = None if self.member_is_exempt(settings, role_ids) else settings.member_daily_budget_usd
        if monthly is None and daily is None:
            return Reservation(None, guild_id, amount)
        future: asyncio.Future[Reservation] = asyncio.get_running_loop().create_future()
        self._submit(_Ask(guild_id, user_id, feature, amount, monthly, daily, ttl, future))
        return await future

    async def release(self, reservation: Reservation) -> None:
        """Stop holding the reservation: call once the real cost is in the ledger, or nothing was
        spent. Also forgets this server's expired reservations (left by a crash)."""
        if reservation.id is None:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._submit(_Drop(reservation, future))
        await future

    # -- the worker -----------------------------------------------------------------------------

    def _submit(self, item: _Ask | _Drop) -> None:
        self._queue.append(item)
        # Like the ledger's writer, the worker exits when the queue is empty (simcord's settle step
        # counts an idle wait as unfinished work) and the next request starts a new one.
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run(), name="budget-reservations")

    async def _run(self) -> None:
        batch: list[_Ask | _Drop] = []
        try:
            while self._queue:
                batch, self._queue = self._queue[:_MAX_BATCH], self._queue[_MAX_BATCH:]
                try:
                    decided = await self._decide(batch)
                except Exception as exc:  # storage failed: every caller of this batch hears it
                    log.warning("budget batch of %d failed: %s", len(batch), exc)
                    for item in batch:
                        if not item.future.done():
                            item.future.set_exception(exc)
                    continue
                for item, outcome in decided:
                    if item.future.done():
                        # The caller gave up (cancelled) while this was decided: hold nothing for it.
                        if isinstance(outcome, Reservation) and outcome.id is not None:
                            dropped: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                            self._queue.append(_Drop(outcome, dropped))
                        continue
                    if isinstance(outcome, BaseException):
                        item.future.set_exception(outcome)
                    else:
                        item.future.set_result(outcome)  # type: ignore[arg-type]
                batch = []
        finally:
            # Cancelled (shutdown): nobody may be left waiting.
            error = RuntimeError("the budget worker stopped before deciding this request")
            for item in [*batch, *self._queue]:
                if not item.future.done():
                    item.future.set_exception(error)

    async def _decide(self, batch: list[_Ask | _Drop]) -> list[tuple[_Ask | _Drop, object]]:
        # Each call below is one round trip to SQLite's thread, the cost that dominates a turn: a
        # batch of releases is one statement, and so is a lone reservation that fits. Otherwise
        # BEGIN, one DELETE, one query of sums per server, one INSERT ... RETURNING and COMMIT.
        now = self._clock()
        now_us = to_epoch_us(now)
        asks = [item for item in batch if isinstance(item, _Ask)]
        drops = [item for item in batch if isinstance(item, _Drop)]
        decided: list[tuple[_Ask | _Drop, object]] = [(drop, None) for drop in drops]
        if drops and len(asks) <= 1:
            await self._db.write(*_delete(drops, now_us))
            drops = []
        if not asks:
            return decided
        if len(asks) == 1:
            (ask,) = asks
            reserved = await self._reserve_if_it_fits(ask, now)
            if reserved is not None:
                return [*decided, (ask, reserved)]
            # Refused: decided again below, in a transaction that also finds which budget and what is left.
        async with self._db.transaction() as conn:
            if drops:
                # Releases first: what they free is available to this batch's reservations.
                await conn.execute_fetchall(*_delete(drops, now_us))
            accepted: list[_Ask] = []
            for guild_id in dict.fromkeys(ask.guild_id for ask in asks):
                mine = [ask for ask in asks if ask.guild_id == guild_id]
                for ask, outcome in await self._decide_guild(conn, guild_id, mine, now):
                    decided.append((ask, outcome))
                    if outcome is None:
                        accepted.append(ask)
            ids: dict[int, int] = {}
            if accepted:
                rows = [
                    (a.guild_id, a.user_id, a.feature, _units(a.amount), now_us, self._expiry(now, a))
                    for a in accepted
                ]
                inserted = await conn.execute_fetchall(
                    "INSERT INTO budget_reservations"
                    " (guild_id, user_id, feature, cost_e10, created_at_us, expires_at_us)"
                    f" VALUES {', '.join(['(?, ?, ?, ?, ?, ?)'] * len(rows))} RETURNING id",
                    [value for row in rows for value in row],
                )
                # One connection holds the write lock, so one statement's ids are consecutive and in
                # insertion order; RETURNING does not promise to list them in that order, so sort them.
                ids = {
                    id(ask): row_id
                    for ask, row_id in zip(accepted, sorted(int(r[0]) for r in inserted), strict=True)
                }
        return [
            (item, Reservation(ids[id(item)], item.guild_id, item.amount))
            if isinstance(item, _Ask) and outcome is None
            else (item, outcome)
            for item, outcome in decided
        ]

    def _expiry(self, now: datetime, ask: _Ask) -> int:
        return to_epoch_us(now + (ask.ttl or self._ttl))

    async def _reserve_if_it_fits(self, ask: _Ask, now: datetime) -> Reservation | None:
        """One statement, so one transaction: insert the reservation only where it fits both budgets
        (None when it does not). SQLite runs a lone statement under the write lock from its reads to
        its insert, so a concurrent writer cannot slip between the check and the hold."""
        rows = await self._db.write(
            _RESERVE_IF_IT_FITS,
            (
                ask.guild_id,
                ask.user_id,
                ask.feature,
                _units(ask.amount),
                to_epoch_us(now),
                self._expiry(now, ask),
                None if ask.monthly is None else _units(ask.monthly),
                to_epoch_us(month_start(now)),
                None if ask.daily is None else _units(ask.daily),
                to_epoch_us(day_start(now)),
            ),
        )
        return Reservation(int(rows[0][0]), ask.guild_id, ask.amount) if rows else None

    async def _decide_guild(
        self, conn: Any, guild_id: int, asks: list[_Ask], now: datetime
    ) -> list[tuple[_Ask, BudgetExceeded | None]]:
        """Each reservation in order against the server's month and its member's day, counting the
        ones accepted before it; None means accepted."""
        users = sorted({ask.user_id for ask in asks if ask.daily is not None})
        guild_used = 0
        user_used: dict[int, int] = dict.fromkeys(users, 0)
        # One query: the server's month (spent and held) in rows without a user, then the members'.
        for user_id, units in await conn.execute_fetchall(*_used_query(guild_id, users, now)):
            if user_id is None:
                guild_used += int(units or 0)
            else:
                user_used[int(user_id)] += int(units or 0)
        decided: list[tuple[_Ask, BudgetExceeded | None]] = []
        for ask in asks:
            needed = _units(ask.amount)
            refusal: BudgetExceeded | None = None
            if ask.monthly is not None and needed > _units(ask.monthly) - guild_used:
                left = _usd(max(0, _units(ask.monthly) - guild_used))
                refusal = BudgetExceeded("server_month", ask.monthly, left, ask.amount, next_month_start(now))
            elif ask.daily is not None and needed > _units(ask.daily) - user_used[ask.user_id]:
                left = _usd(max(0, _units(ask.daily) - user_used[ask.user_id]))
                resets = day_start(now) + timedelta(days=1)
                refusal = BudgetExceeded("member_day", ask.daily, left, ask.amount, resets)
            if refusal is None:
                guild_used += needed
                if ask.daily is not None:
                    user_used[ask.user_id] += needed
            decided.append((ask, refusal))
        return decided

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
