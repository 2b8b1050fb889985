"""A reservation's own lifetime: a fine-tuning job holds its estimate for days, past the default
thirty minutes after which a call's reservation counts as left by a crash."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot.db import Database, GuildSettings
from bot.usage.budgets import BudgetExceeded, Budgets

NOON = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bot.db")
    yield database
    await database.close()


async def test_a_reservation_with_its_own_ttl_outlives_the_default(db: Database) -> None:
    now = [NOON]
    budgets = Budgets(db, clock=lambda: now[0], ttl=timedelta(minutes=30))
    settings = GuildSettings(monthly_budget_usd=Decimal("1"))
    await budgets.reserve(guild_id=1, user_id=7, feature="write", amount=Decimal("0.3"), settings=settings)
    job = await budgets.reserve(
        guild_id=1,
        user_id=7,
        feature="fine_tuning",
        amount=Decimal("0.6"),
        settings=settings,
        ttl=timedelta(days=7),
    )
    now[0] = NOON + timedelta(hours=6)
    # The call's reservation lapsed; the job's still holds $0.60 of the $1.
    (month,) = await budgets.status(1, 7, settings)
    assert month.held == Decimal("0.6")
    with pytest.raises(BudgetExceeded):
        await budgets.reserve(
            guild_id=1, user_id=8, feature="write", amount=Decimal("0.5"), settings=settings
        )
    await budgets.release(job)
    (month,) = await budgets.status(1, 7, settings)
    assert month.held == 0
    # Left behind (nobody releases it), it stops counting a week later.
    await budgets.reserve(
        guild_id=1,
        user_id=7,
        feature="fine_tuning",
        amount=Decimal("0.6"),
        settings=settings,
        ttl=timedelta(days=7),
    )
    now[0] += timedelta(days=7, seconds=-1)
    with pytest.raises(BudgetExceeded):
        await budgets.reserve(
            guild_id=1, user_id=8, feature="write", amount=Decimal("0.5"), settings=settings
        )
    now[0] += timedelta(seconds=2)
    await budgets.reserve(guild_id=1, user_id=8, feature="write", amount=Decimal("0.5"), settings=settings)
