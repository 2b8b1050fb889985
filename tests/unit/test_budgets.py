"""Budgets: reservations before the call, atomic under concurrency, released or replaced by the
recorded cost, daily reset at UTC midnight, exempt roles, reservations a crash left expiring."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot.db import Database, GuildSettings
from bot.usage import PricingTable, UsageEvent, UsageLedger
from bot.usage.budgets import BudgetExceeded, Budgets, Reservation

NOON = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bot.db")
    yield database
    await database.close()


@pytest.fixture
async def ledger(db: Database) -> AsyncIterator[UsageLedger]:
    async with UsageLedger(db, PricingTable.load()) as made:
        yield made


def _spend(user_id: int, cost: str, when: datetime = NOON) -> UsageEvent:
    return UsageEvent(
        guild_id=1, user_id=user_id, feature="write", model="m", cost_usd=Decimal(cost), created_at=when
    )


async def _held(db: Database) -> int:
    row = await db.fetchone("SELECT COUNT(*) FROM budget_reservations")
    assert row is not None
    return int(row[0])


async def test_fifty_concurrent_reservations_at_the_edge_never_overshoot(
    db: Database, ledger: UsageLedger
) -> None:
    budgets = Budgets(db, clock=Clock(NOON))
    settings = GuildSettings(monthly_budget_usd=Decimal("1.00"))
    await ledger.record(_spend(9, "0.75"))

    async def one(user_id: int) -> bool:
        try:
            reservation = await budgets.reserve(
                guild_id=1, user_id=user_id, feature="write", amount=Decimal("0.02"), settings=settings
            )
        except BudgetExceeded:
            return False
        await asyncio.sleep(0)  # the call runs; then its real (smaller) cost is recorded
        await ledger.record(_spend(user_id, "0.01"))
        await budgets.release(reservation)
        return True

    results = await asyncio.gather(*(one(user) for user in range(50)))
    spent = (await ledger.totals(1)).cost_usd
    assert spent <= Decimal("1.00")
    # 0.25 left and each call may cost 0.02: twelve fit while earlier ones still hold theirs.
    assert sum(results) >= 12
    assert await _held(db) == 0


async def test_a_refusal_names_the_budget_what_is_left_and_when_it_resets(
    db: Database, ledger: UsageLedger
) -> None:
    budgets = Budgets(db, clock=Clock(NOON))
    settings = GuildSettings(monthly_budget_usd=Decimal("5"), member_daily_budget_usd=Decimal("0.10"))
    await ledger.record(_spend(7, "0.08"))
    with pytest.raises(BudgetExceeded) as refused:
        await budgets.reserve(
            guild_id=1, user_id=7, feature="write", amount=Decimal("0.05"), settings=settings
        )
    assert refused.value.scope == "member_day"
    assert refused.value.left == Decimal("0.02")
    assert refused.value.resets_at == datetime(2026, 3, 15, tzinfo=UTC)
    # Another member still has their own day.
    await budgets.reserve(guild_id=1, user_id=8, feature="write", amount=Decimal("0.05"), settings=settings)

    tight = GuildSettings(monthly_budget_usd=Decimal("0.10"))
    with pytest.raises(BudgetExceeded) as month:
        await budgets.reserve(guild_id=1, user_id=8, feature="write", amount=Decimal("0.01"), settings=tight)
    assert month.value.scope == "server_month"
    assert month.value.left == Decimal("0.00")  # 0.08 spent + 0.05 held of 0.10
    assert month.value.resets_at == datetime(2026, 4, 1, tzinfo=UTC)


async def test_released_reservation_frees_the_budget_and_recorded_cost_replaces_it(
    db: Database, ledger: UsageLedger
) -> None:
    budgets = Budgets(db, clock=Clock(NOON))
    settings = GuildSettings(member_daily_budget_usd=Decimal("0.10"))
    held = await budgets.reserve(
        guild_id=1, user_id=7, feature="write", amount=Decimal("0.08"), settings=settings
    )
    with pytest.raises(BudgetExceeded):
        await budgets.reserve(
            guild_id=1, user_id=7, feature="write", amount=Decimal("0.05"), settings=settings
        )
    # The API call failed: nothing spent, the reservation goes.
    await budgets.release(held)
    assert await _held(db) == 0
    again = await budgets.reserve(
        guild_id=1, user_id=7, feature="write", amount=Decimal("0.08"), settings=settings
    )
    # The call cost less than its worst case: the ledger's 0.03 replaces the 0.08 held.
    await ledger.record(_spend(7, "0.03"))
    await budgets.release(again)
    (status,) = await budgets.status(1, 7, settings)
    assert (status.spent, status.held, status.left) == (Decimal("0.03"), Decimal(0), Decimal("0.07"))
    await budgets.reserve(guild_id=1, user_id=7, feature="write", amount=Decimal("0.07"), settings=settings)


async def test_member_budget_resets_at_utc_midnight(db: Database, ledger: UsageLedger) -> None:
    clock = Clock(datetime(2026, 3, 14, 23, 59, tzinfo=UTC))
    budgets = Budgets(db, clock=clock)
    settings = GuildSettings(member_daily_budget_usd=Decimal("0.10"))
    await ledger.record(_spend(7, "0.10", clock.now))
    with pytest.raises(BudgetExceeded):
        await budgets.reserve(
            guild_id=1, user_id=7, feature="write", amount=Decimal("0.01"), settings=settings
        )
    clock.now = datetime(2026, 3, 15, 0, 0, tzinfo=UTC)
    await budgets.reserve(guild_id=1, user_id=7, feature="write", amount=Decimal("0.10"), settings=settings)


async def test_exempt_roles_skip_the_member_budget_but_not_the_servers(
    db: Database, ledger: UsageLedger
) -> None:
    budgets = Budgets(db, clock=Clock(NOON))
    settings = GuildSettings(
        monthly_budget_usd=Decimal("1"), member_daily_budget_usd=Decimal("0.01"), budget_exempt_role_ids=(55,)
    )
    await budgets.reserve(
        guild_id=1, user_id=7, feature="write", amount=Decimal("0.50"), settings=settings, role_ids=[3, 55]
    )
    with pytest.raises(BudgetExceeded) as member:
        await budgets.reserve(
            guild_id=1, user_id=8, feature="write", amount=Decimal("0.50"), settings=settings
        )
    assert member.value.scope == "member_day"
    with pytest.raises(BudgetExceeded) as server:
        await budgets.reserve(
            guild_id=1, user_id=7, feature="write", amount=Decimal("0.60"), settings=settings, role_ids=[55]
        )
    assert server.value.scope == "server_month"


async def test_a_reservation_left_by_a_crash_expires(db: Database) -> None:
    clock = Clock(NOON)
    settings = GuildSettings(monthly_budget_usd=Decimal("1"))
    crashed = Budgets(db, clock=clock, ttl=timedelta(minutes=30))
    await crashed.reserve(guild_id=1, user_id=7, feature="write", amount=Decimal("1"), settings=settings)
    restarted = Budgets(db, clock=clock, ttl=timedelta(minutes=30))
    with pytest.raises(BudgetExceeded):
        await restarted.reserve(
            guild_id=1, user_id=8, feature="write", amount=Decimal("0.01"), settings=settings
        )
    clock.now = NOON + timedelta(minutes=31)
    fresh = await restarted.reserve(
        guild_id=1, user_id=8, feature="write", amount=Decimal("1"), settings=settings
    )
    await restarted.release(fresh)  # also forgets the expired row
    assert await _held(db) == 0


async def test_no_budget_holds_nothing(db: Database) -> None:
    budgets = Budgets(db, clock=Clock(NOON))
    reservation = await budgets.reserve(
        guild_id=1, user_id=7, feature="write", amount=Decimal("100"), settings=GuildSettings()
    )
    assert reservation.id is None and await _held(db) == 0
    await budgets.release(reservation)


async def test_budget_settings_validate_and_round_trip(db: Database) -> None:
    from bot.db import GuildSettingsRepo

    repo = GuildSettingsRepo(db)
    with pytest.raises(ValueError, match="monthly_budget_usd"):
        await repo.update(1, monthly_budget_usd="-1")
    saved = await repo.update(1, monthly_budget_usd="12.50", budget_exempt_role_ids=[9, 3, 9])
    assert await repo.get(1) == saved
    assert saved.monthly_budget_usd == Decimal("12.50") and saved.budget_exempt_role_ids == (3, 9)


async def test_a_caller_cancelled_while_waiting_holds_nothing(db: Database) -> None:
    budgets = Budgets(db, clock=Clock(NOON))
    settings = GuildSettings(monthly_budget_usd=Decimal("1"))
    waiting = asyncio.ensure_future(
        budgets.reserve(guild_id=1, user_id=7, feature="write", amount=Decimal("1"), settings=settings)
    )
    await asyncio.sleep(0)  # queued; the worker is deciding it
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    # The whole budget is available again once the worker has dropped the orphan.
    fresh = await budgets.reserve(
        guild_id=1, user_id=8, feature="write", amount=Decimal("1"), settings=settings
    )
    assert fresh.id is not None
    await budgets.release(fresh)
    assert await _held(db) == 0


async def test_one_reservation_at_a_time_fits_to_the_last_unit_and_is_refused_past_it(
    db: Database, ledger: UsageLedger
) -> None:
    """A lone reservation is decided by one conditional INSERT: the same edges as a batch."""
    budgets = Budgets(db, clock=Clock(NOON))
    settings = GuildSettings(monthly_budget_usd=Decimal("1.00"), member_daily_budget_usd=Decimal("0.50"))
    tiny = Decimal("0.0000000001")  # the smallest unit held

    async def reserve(user_id: int, amount: Decimal) -> Reservation:
        return await budgets.reserve(
            guild_id=1, user_id=user_id, feature="write", amount=amount, settings=settings
        )

    await ledger.record(_spend(1, "0.40"))
    commits = db.commits
    member_last = await reserve(1, Decimal("0.10"))  # member 1's last 0.10 today
    assert db.commits == commits + 1, "the exact fit was decided by the one statement, not the fallback"
    with pytest.raises(BudgetExceeded) as member_day:
        await reserve(1, tiny)
    assert member_day.value.scope == "member_day" and member_day.value.left == 0
    commits = db.commits
    server_last = await reserve(2, Decimal("0.50"))  # the server's last 0.50 this month
    assert db.commits == commits + 1
    with pytest.raises(BudgetExceeded) as month:
        await reserve(3, tiny)
    assert month.value.scope == "server_month" and month.value.left == 0
    await budgets.release(member_last)
    await budgets.release(server_last)
    assert await _held(db) == 0
