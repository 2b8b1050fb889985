"""Usage ledger: batching, durability, flushing on close, failures, and period totals."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.db import Database
from bot.usage import LedgerClosedError, LedgerWriteError, PricingTable, UsageEvent, UsageLedger

D = Decimal
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# Generous upper bound for "does not hang": the operations take milliseconds.
NO_HANG = 10


@pytest.fixture(scope="module")
def pricing() -> PricingTable:
    return PricingTable.load()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bot.db")
    yield database
    await database.close()


@pytest.fixture
async def ledger(db: Database, pricing: PricingTable) -> AsyncIterator[UsageLedger]:
    async with UsageLedger(db, pricing) as ledger:
        yield ledger


def event(**kw: Any) -> UsageEvent:
    base: dict[str, Any] = {"guild_id": 1, "channel_id": 10, "user_id": 100, "feature": "write"}
    base["model"] = kw.pop("model", "gpt-3.5-turbo-instruct")
    return UsageEvent(**(base | kw))


def count_rows(path: Path, where: str = "1") -> int:
    # An independent connection: sees only what was committed.
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM usage_events WHERE {where}").fetchone()[0])


async def test_record_prices_stores_and_reads_back_exactly(ledger: UsageLedger) -> None:
    original = event(
        request_id="req_1",
        input_tokens=1234,
        output_tokens=567,
        estimated=True,
        created_at=datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
    )
    stored = await ledger.record(original)
    assert stored.id is not None
    assert stored.cost_usd == D("0.002985")
    assert stored == original.model_copy(update={"id": stored.id, "cost_usd": D("0.002985")})
    assert await ledger.events(1) == [stored]


async def test_all_usage_fields_round_trip(ledger: UsageLedger) -> None:
    image = await ledger.record(
        event(feature="imagine", model="dall-e-3", images=2, image_size="1792x1024", image_quality="hd")
    )
    audio = await ledger.record(
        event(feature="transcribe", model="whisper-1", audio_seconds=12.345, channel_id=None)
    )
    given = await ledger.record(event(model="self-hosted", cost_usd=D("0.5")))
    assert [e.cost_usd for e in (image, audio, given)] == [D("0.24"), D("0.0012345"), D("0.5")]
    assert await ledger.events(1) == [given, audio, image]


async def test_one_thousand_concurrent_records_are_batched_and_sum_exactly(
    db: Database, ledger: UsageLedger
) -> None:
    events = [
        event(user_id=100 + i % 7, input_tokens=i, output_tokens=2 * i + 1, request_id=f"r{i}")
        for i in range(1000)
    ]
    commits_before = db.commits
    stored = await asyncio.gather(*(ledger.record(e) for e in events))

    assert len({s.id for s in stored}) == 1000
    assert count_rows(db.path) == 1000
    expected_cost = sum((s.cost_usd or D(0) for s in stored), D(0))
    assert expected_cost == sum(
        (D(i) * D("1.5") / 10**6 + D(2 * i + 1) * 2 / 10**6 for i in range(1000)), D(0)
    )
    totals = await ledger.totals(1)
    assert totals.count == 1000
    assert totals.input_tokens == sum(range(1000))
    assert totals.output_tokens == sum(2 * i + 1 for i in range(1000))
    assert totals.cost_usd == expected_cost
    # Batching: a handful of transactions, not one per event.
    assert db.commits - commits_before < 20
    # The ids handed back belong to the rows with the same request id.
    by_id = {e.id: e for e in await ledger.events(1, limit=1000)}
    assert all(by_id[s.id].request_id == s.request_id for s in stored)


async def test_a_batch_larger_than_one_statement_is_stored_in_one_transaction_with_the_right_ids(
    db: Database, ledger: UsageLedger
) -> None:
    # More rows than one INSERT takes (1000): the batch is split into statements of one transaction.
    events = [event(user_id=i, request_id=f"big{i}") for i in range(2500)]
    commits_before = db.commits
    stored = await asyncio.wait_for(asyncio.gather(*(ledger.record(e) for e in events)), NO_HANG)
    assert db.commits - commits_before <= 3  # the first event alone, then everything queued behind it
    assert count_rows(db.path) == 2500
    by_id = {e.id: e for e in await ledger.events(1, limit=3000)}
    assert len(by_id) == 2500
    assert all(by_id[s.id].request_id == s.request_id and by_id[s.id].user_id == s.user_id for s in stored)


async def test_a_recorded_event_is_visible_to_another_connection(db: Database, ledger: UsageLedger) -> None:
    stored = await ledger.record(event(request_id="durable"))
    # No close, no flush: record() returning means committed.
    assert count_rows(db.path, f"id = {stored.id} AND request_id = 'durable'") == 1


async def test_close_flushes_queued_events_then_refuses_more(db: Database, pricing: PricingTable) -> None:
    ledger = UsageLedger(db, pricing)
    await ledger.start()
    tasks = [asyncio.create_task(ledger.record(event(input_tokens=i))) for i in range(300)]
    await asyncio.sleep(0)  # let every task enqueue its event
    await asyncio.wait_for(ledger.close(), NO_HANG)
    assert all(t.done() and t.result().id is not None for t in tasks)
    assert count_rows(db.path) == 300
    with pytest.raises(LedgerClosedError):
        await ledger.record(event())
    await ledger.close()  # idempotent


async def test_record_starts_the_writer_lazily(db: Database, pricing: PricingTable) -> None:
    ledger = UsageLedger(db, pricing)
    stored = await asyncio.wait_for(ledger.record(event()), NO_HANG)
    await ledger.close()
    assert stored.id is not None and count_rows(db.path) == 1


async def test_an_idle_ledger_parks_no_writer_task(db: Database, ledger: UsageLedger) -> None:
    await ledger.record(event())
    writer = ledger._task
    assert writer is not None
    # The writer ends by itself once the queue is empty (no close() needed)...
    await asyncio.wait_for(writer, NO_HANG)
    # ...and the next record starts a fresh one.
    assert (await ledger.record(event())).id is not None
    assert ledger._task is not writer and count_rows(db.path) == 2


async def test_a_bad_row_fails_only_its_own_caller(db: Database, ledger: UsageLedger) -> None:
    with sqlite3.connect(db.path) as conn:
        conn.execute(
            "CREATE TRIGGER reject_bad BEFORE INSERT ON usage_events WHEN NEW.request_id = 'bad'"
            " BEGIN SELECT RAISE(ABORT, 'constraint: bad request'); END"
        )
    ids = ["bad" if i % 40 == 0 else f"ok{i}" for i in range(200)]
    results = await asyncio.wait_for(
        asyncio.gather(*(ledger.record(event(request_id=r)) for r in ids), return_exceptions=True), NO_HANG
    )
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 5
    assert all(isinstance(f, LedgerWriteError) and "constraint: bad request" in str(f) for f in failed)
    assert count_rows(db.path) == 195
    assert count_rows(db.path, "request_id = 'bad'") == 0
    # The writer keeps going after a failure.
    assert (await ledger.record(event(request_id="after"))).id is not None


async def test_a_schema_constraint_violation_is_reported_to_its_caller(
    db: Database, ledger: UsageLedger
) -> None:
    # model_construct skips validation, standing in for a bug that slips a negative count through.
    bogus = UsageEvent.model_construct(**(event().model_dump() | {"input_tokens": -5, "cost_usd": D(0)}))
    good, bad = await asyncio.wait_for(
        asyncio.gather(ledger.record(event()), ledger.record(bogus), return_exceptions=True), NO_HANG
    )
    assert isinstance(good, UsageEvent) and good.id is not None
    assert isinstance(bad, LedgerWriteError) and "CHECK constraint failed" in str(bad)
    assert isinstance(bad.__cause__, sqlite3.IntegrityError)
    assert count_rows(db.path) == 1


async def test_a_batch_killed_by_rollback_fails_every_caller(db: Database, ledger: UsageLedger) -> None:
    with sqlite3.connect(db.path) as conn:
        conn.execute(
            "CREATE TRIGGER doom BEFORE INSERT ON usage_events WHEN NEW.request_id = 'doom'"
            " BEGIN SELECT RAISE(ROLLBACK, 'doomed'); END"
        )
    ids = ["ok1", "ok2", "doom", "ok3"]
    results = await asyncio.wait_for(
        asyncio.gather(*(ledger.record(event(request_id=r)) for r in ids), return_exceptions=True), NO_HANG
    )
    assert all(isinstance(r, LedgerWriteError) for r in results)
    assert count_rows(db.path) == 0
    assert (await ledger.record(event(request_id="after"))).id is not None


async def test_storage_failure_fails_the_waiting_callers_instead_of_hanging(
    tmp_path: Path, pricing: PricingTable
) -> None:
    db = await Database.open(tmp_path / "bot.db")
    ledger = UsageLedger(db, pricing)
    await ledger.start()
    await db.close()  # wrong order on purpose: the connection is gone under the ledger
    results = await asyncio.wait_for(
        asyncio.gather(*(ledger.record(event()) for _ in range(5)), return_exceptions=True), NO_HANG
    )
    assert all(isinstance(r, LedgerWriteError) for r in results)
    await asyncio.wait_for(ledger.close(), NO_HANG)


async def test_cancelled_writer_fails_queued_callers_and_is_replaced(
    db: Database, ledger: UsageLedger
) -> None:
    pending = [asyncio.create_task(ledger.record(event())) for _ in range(3)]
    await asyncio.sleep(0)
    task = ledger._task  # the writer exists only while there is work
    assert task is not None
    task.cancel()
    results = await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), NO_HANG)
    # Each caller got an answer: stored (if its batch committed first) or an error, never a hang.
    assert all(isinstance(r, UsageEvent | LedgerWriteError) for r in results)
    assert (await asyncio.wait_for(ledger.record(event()), NO_HANG)).id is not None


async def test_totals_by_guild_user_period_and_feature(ledger: UsageLedger) -> None:
    rows = [
        event(user_id=1, input_tokens=100, output_tokens=10, created_at=T0),
        event(user_id=1, input_tokens=200, created_at=T0 + timedelta(hours=1)),
        event(user_id=2, input_tokens=300, created_at=T0 + timedelta(hours=2), estimated=True),
        event(
            user_id=1,
            feature="imagine",
            model="dall-e-2",
            images=3,
            image_size="256x256",
            created_at=T0 + timedelta(hours=3),
        ),
        event(user_id=2, feature="transcribe", model="whisper-1", audio_seconds=90.5, created_at=T0),
        event(guild_id=2, user_id=1, input_tokens=10**6, created_at=T0),  # another guild
    ]
    for row in rows:
        await ledger.record(row)

    guild = await ledger.totals(1)
    assert guild.count == 5
    assert (guild.input_tokens, guild.output_tokens, guild.images) == (600, 10, 3)
    assert guild.audio_seconds == 90.5
    assert guild.estimated_count == 1
    # 600 in + 10 out on gpt-3.5-turbo-instruct, 3 dall-e-2 256px images, 90.5 s of whisper
    assert guild.cost_usd == D("0.00092") + D("0.048") + D("0.00905")
    assert set(guild.by_feature) == {"write", "imagine", "transcribe"}
    assert guild.by_feature["write"].count == 3 and guild.by_feature["write"].cost_usd == D("0.00092")
    assert guild.by_feature["imagine"].images == 3 and guild.by_feature["imagine"].cost_usd == D("0.048")
    assert guild.by_feature["transcribe"].audio_seconds == 90.5

    user = await ledger.totals(1, user_id=1)
    assert (user.count, user.input_tokens, user.images) == (3, 300, 3)

    # since is inclusive, until exclusive
    window = await ledger.totals(1, since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3))
    assert (window.count, window.input_tokens) == (2, 500)

    only_write = await ledger.totals(1, user_id=1, feature="write")
    assert (only_write.count, set(only_write.by_feature)) == (2, {"write"})

    empty = await ledger.totals(3)
    assert (empty.count, empty.cost_usd, empty.by_feature) == (0, Decimal(0), {})
    assert (await ledger.totals(2)).cost_usd == D("1.5")

    latest = await ledger.events(1, user_id=2, limit=1)
    assert [e.feature for e in latest] == ["transcribe"]
    assert len(await ledger.events(1, limit=50)) == 5


async def test_usage_event_rejects_impossible_figures() -> None:
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        event(input_tokens=-1)
    with pytest.raises(ValueError, match="audio_seconds"):
        event(audio_seconds=float("nan"))
    naive = event(created_at=datetime(2026, 1, 1, 0, 0))
    assert naive.created_at.tzinfo is UTC
