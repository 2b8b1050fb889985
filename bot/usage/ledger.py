"""The usage ledger: batched, durable recording of UsageEvents and period totals per guild/user.
One writer task turns many concurrent record() calls into a few transactions."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.db import Database
from bot.usage.cost import compute_cost
from bot.usage.events import UsageEvent, UsageSums, UsageTotals, from_epoch_us, to_epoch_us
from bot.usage.pricing import COST_PLACES, PricingTable

log = logging.getLogger(__name__)

_COLUMNS = (
    "guild_id, channel_id, user_id, feature, model, request_id, input_tokens, output_tokens,"
    " images, image_size, image_quality, audio_seconds, cost_e10, estimated, created_at_us"
)
_ROW = f"({', '.join('?' * 15)})"
_INSERT = f"INSERT INTO usage_events ({_COLUMNS}) VALUES {_ROW}"
# Rows per multi-row INSERT: 15 parameters each, well under SQLite's 32,766 per statement.
_ROWS_PER_STATEMENT = 1000
# Callers woken per loop iteration after a commit (see _release).
_RELEASE_CHUNK = 32


class LedgerClosedError(RuntimeError):
    """record() was called after close()."""


class LedgerWriteError(Exception):
    """An event could not be stored; the cause is chained."""


@dataclass(slots=True)
class _Pending:
    row: tuple[Any, ...]
    event: UsageEvent
    cost: Decimal
    future: asyncio.Future[UsageEvent]


_STOP = object()


class UsageLedger:
    """Records usage events and answers totals; every query is keyed by guild id.

    Lifecycle: the bot creates it after the Database, may `await start()` (a check only: the writer
    task runs only while events are queued), and `await close()` BEFORE closing the Database, which
    flushes everything queued.
    `record()` returns only after the event's transaction committed, so a returned event is
    durable; if storing fails the caller gets LedgerWriteError, never a hang.
    """

    def __init__(self, db: Database, pricing: PricingTable, *, max_batch: int = 5000) -> None:
        self._db = db
        self._pricing = pricing
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Pending | object] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._inflight: list[_Pending] = []
        self._closed = False

    @property
    def pricing(self) -> PricingTable:
        return self._pricing

    async def start(self) -> None:
        """Check the ledger can take events; the writer task itself starts with the first one."""
        if self._closed:
            raise LedgerClosedError("the usage ledger is closed")

    async def __aenter__(self) -> UsageLedger:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _ensure_writer(self) -> None:
        # The writer exits whenever the queue runs dry and the next record() starts a new one, rather
        # than idling on `queue.get()`. The one reason is the test harness: simcord's settle step
        # waits for every task the bot started and counts an idle `queue.get()` as unfinished work
        # (simcord 3.2 `_settlement._park_reason` parks only sleeps, discord.py waits and
        # `env.external_wait`, which bot code cannot call), so a parked writer would time out every
        # cog test. A task per busy spell costs microseconds; nothing else here depends on it.
        if self._task is not None and not self._task.done():
            return
        self._task = asyncio.get_running_loop().create_task(self._run(), name="usage-ledger-writer")
        self._task.add_done_callback(self._writer_done)

    def _writer_done(self, task: asyncio.Task[None]) -> None:
        # A writer cancelled before its first step never runs _run's `finally`, so the callers it
        # was created for would wait forever; fail them here unless a newer writer took over.
        if (task.cancelled() or task.exception() is not None) and self._task is task:
            self._fail_queued(LedgerWriteError("the usage ledger writer stopped before storing this event"))

    async def record(self, event: UsageEvent) -> UsageEvent:
        """Store one event; returns it with `id` and `cost_usd` set once it is committed."""
        if self._closed:
            raise LedgerClosedError("the usage ledger is closed; event not recorded")
        cost = compute_cost(self._pricing, event)
        future: asyncio.Future[UsageEvent] = asyncio.get_running_loop().create_future()
        self._ensure_writer()
        self._queue.put_nowait(_Pending(_to_row(event, cost), event, cost, future))
        return await future

    async def close(self) -> None:
        """Flush what is queued, then stop the writer; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._task is None or self._task.done():
            self._fail_queued(LedgerClosedError("the usage ledger closed before storing this event"))
            return
        self._queue.put_nowait(_STOP)
        await self._task

    # -- writer -------------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            stop = False
            while not stop and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is _STOP:
                    break
                assert isinstance(item, _Pending)
                batch = [item]
                # Everything queued while the previous batch was being written goes in this one.
                while len(batch) < self._max_batch and not self._queue.empty():
                    nxt = self._queue.get_nowait()
                    if nxt is _STOP:
                        stop = True
                        break
                    assert isinstance(nxt, _Pending)
                    batch.append(nxt)
                self._inflight = batch
                await self._write(batch)
                self._inflight = []
        finally:
            # Normally nothing is left here; after a cancellation no caller may be left hanging.
            error = LedgerWriteError("the usage ledger writer stopped before confirming this event")
            for pending in self._inflight:
                _fail(pending, error)
            self._inflight = []
            self._fail_queued(error)

    async def _write(self, batch: list[_Pending]) -> None:
        try:
            # A multi-row INSERT ... RETURNING is one statement: a batch that fits one is its own
            # transaction, one round trip to SQLite's thread (no BEGIN, COMMIT, cursor or rowid query).
            if len(batch) <= _ROWS_PER_STATEMENT:
                ids = _ids(await self._db.write(*_insert(batch)))
            else:
                ids = []
                async with self._db.transaction() as conn:
                    for start in range(0, len(batch), _ROWS_PER_STATEMENT):
                        chunk = batch[start : start + _ROWS_PER_STATEMENT]
                        ids += _ids(await conn.execute_fetchall(*_insert(chunk)))
                    if len(ids) != len(batch):  # rolled back, then stored one by one below
                        raise LedgerWriteError(f"inserted {len(ids)} of {len(batch)} rows")
        except Exception as exc:  # any failure must reach the callers, whatever raised it
            if len(batch) == 1:
                log.warning("usage event not stored: %s", exc)
                _fail(batch[0], _write_error(exc))
            else:
                log.warning("usage batch of %d failed (%s); storing its events one by one", len(batch), exc)
                await self._write_each(batch)
            return
        self._inflight = []  # committed: from here on these callers succeed, whatever happens
        if len(ids) != len(batch):
            # Committed, yet not one row per event (only an IGNORE trigger could do that): which event
            # is missing is unknown, so every caller hears it rather than get another's id.
            log.error("usage batch of %d stored %d rows", len(batch), len(ids))
            error = LedgerWriteError(f"inserted {len(ids)} of {len(batch)} rows")
            for pending in batch:
                _fail(pending, error)
            return
        await _release(list(zip(batch, ids, strict=True)))

    async def _write_each(self, batch: list[_Pending]) -> None:
        """Isolate the bad rows of a failed batch so one invalid event does not fail its neighbours."""
        outcomes: list[tuple[_Pending, int | None, BaseException | None]] = []
        try:
            async with self._db.transaction() as conn:
                for pending in batch:
                    try:
                        # execute_insert returns last_insert_rowid() and leaves no cursor open.
                        row = await conn.execute_insert(_INSERT, pending.row)
                    except sqlite3.Error as exc:
                        if not conn.in_transaction:
                            raise  # RAISE(ROLLBACK) or I/O error: the whole transaction is gone
                        outcomes.append((pending, None, exc))
                    else:
                        outcomes.append((pending, None if row is None else int(row[0]), None))
        except Exception as exc:
            log.error("usage batch of %d could not be stored: %s", len(batch), exc)
            for pending in batch:
                _fail(pending, _write_error(exc))
            return
        self._inflight = []
        stored: list[tuple[_Pending, int]] = []
        for pending, row_id, error in outcomes:
            if error is None and row_id is not None:
                stored.append((pending, row_id))
            else:
                log.warning("usage event not stored (%s): %s", pending.event.request_id, error)
                _fail(pending, _write_error(error or LedgerWriteError("no row id")))
        await _release(stored)

    def _fail_queued(self, error: Exception) -> None:
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if isinstance(item, _Pending):
                _fail(item, error)

    # -- queries -------------------------------------------------------------------------------------

    async def totals(
        self,
        guild_id: int,
        *,
        user_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        feature: str | None = None,
    ) -> UsageTotals:
        """Sums over [since, until) for a guild (optionally one user / feature), with a per-feature split."""
        where, params = _filters(guild_id, user_id=user_id, since=since, until=until, feature=feature)
        rows = await self._db.fetchall(
            "SELECT feature, COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(images),"
            " SUM(audio_seconds), SUM(cost_e10), SUM(estimated)"
            f" FROM usage_events WHERE {where} GROUP BY feature ORDER BY feature",
            params,
        )
        by_feature = {
            str(r[0]): UsageSums(
                count=r[1],
                input_tokens=r[2],
                output_tokens=r[3],
                images=r[4],
                audio_seconds=r[5],
                cost_usd=_cost(r[6]),
                estimated_count=r[7],
            )
            for r in rows
        }
        sums = list(by_feature.values())
        return UsageTotals(
            guild_id=guild_id,
            user_id=user_id,
            feature=feature,
            since=since,
            until=until,
            count=sum(s.count for s in sums),
            input_tokens=sum(s.input_tokens for s in sums),
            output_tokens=sum(s.output_tokens for s in sums),
            images=sum(s.images for s in sums),
            audio_seconds=sum(s.audio_seconds for s in sums),
            cost_usd=sum((s.cost_usd for s in sums), Decimal(0)),
            estimated_count=sum(s.estimated_count for s in sums),
            by_feature=by_feature,
        )

    async def events(
        self,
        guild_id: int,
        *,
        user_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        feature: str | None = None,
        limit: int = 50,
    ) -> list[UsageEvent]:
        """The newest events of a guild (optionally one user), newest first."""
        where, params = _filters(guild_id, user_id=user_id, since=since, until=until, feature=feature)
        rows = await self._db.fetchall(
            f"SELECT id, {_COLUMNS} FROM usage_events WHERE {where} ORDER BY id DESC LIMIT ?",
            [*params, max(0, limit)],
        )
        return [_from_row(r) for r in rows]


def _filters(
    guild_id: int,
    *,
    user_id: int | None,
    since: datetime | None,
    until: datetime | None,
    feature: str | None,
) -> tuple[str, list[Any]]:
    clauses: list[str] = ["guild_id = ?"]
    params: list[Any] = [guild_id]
    if user_id is not None:
        clauses.append("user_id = ?")
        params.append(user_id)
    if since is not None:
        clauses.append("created_at_us >= ?")
        params.append(to_epoch_us(since))
    if until is not None:
        clauses.append("created_at_us < ?")
        params.append(to_epoch_us(until))
    if feature is not None:
        clauses.append("feature = ?")
        params.append(feature)
    return " AND ".join(clauses), params


def _insert(batch: Sequence[_Pending]) -> tuple[str, list[Any]]:
    """One INSERT of the batch's rows, returning their ids."""
    sql = f"INSERT INTO usage_events ({_COLUMNS}) VALUES {', '.join([_ROW] * len(batch))} RETURNING id"
    return sql, [value for pending in batch for value in pending.row]


def _ids(rows: Iterable[Any]) -> list[int]:
    # One connection holds the write lock, so the ids of one statement are consecutive and in
    # insertion order; RETURNING does not promise to list them in that order, so sort them.
    return sorted(int(row[0]) for row in rows)


def _cost_units(cost: Decimal) -> int:
    return int(cost.scaleb(COST_PLACES).to_integral_exact())


def _cost(units: int | None) -> Decimal:
    return Decimal(units or 0).scaleb(-COST_PLACES)


def _to_row(e: UsageEvent, cost: Decimal) -> tuple[Any, ...]:
    return (
        e.guild_id,
        e.channel_id,
        e.user_id,
        e.feature,
        e.model,
        e.request_id,
        e.input_tokens,
        e.output_tokens,
        e.images,
        e.image_size,
        e.image_quality,
        e.audio_seconds,
        _cost_units(cost),
        int(e.estimated),
        to_epoch_us(e.created_at),
    )


def _from_row(r: Sequence[Any]) -> UsageEvent:
    return UsageEvent(
        id=r[0],
        guild_id=r[1],
        channel_id=r[2],
        user_id=r[3],
        feature=r[4],
        model=r[5],
        request_id=r[6],
        input_tokens=r[7],
        output_tokens=r[8],
        images=r[9],
        image_size=r[10],
        image_quality=r[11],
        audio_seconds=r[12],
        cost_usd=_cost(r[13]),
        estimated=bool(r[14]),
        created_at=from_epoch_us(r[15]),
    )


async def _release(stored: list[tuple[_Pending, int]]) -> None:
    """Wake the callers of committed events a chunk at a time.

    Waking a whole batch at once would run every caller's continuation in one loop iteration and
    delay timers and gateway I/O by all of them; yielding between chunks keeps loop lag low.
    """
    try:
        for start in range(0, len(stored), _RELEASE_CHUNK):
            if start:
                await asyncio.sleep(0)
            for pending, row_id in stored[start : start + _RELEASE_CHUNK]:
                _succeed(pending, row_id)
    finally:
        # Cancelled mid-way: the rows are committed, so the remaining callers still succeed.
        for pending, row_id in stored:
            _succeed(pending, row_id)


def _succeed(pending: _Pending, row_id: int) -> None:
    if not pending.future.done():  # the caller may have been cancelled; the row is stored anyway
        pending.future.set_result(pending.event.model_copy(update={"id": row_id, "cost_usd": pending.cost}))


def _fail(pending: _Pending, error: BaseException) -> None:
    if not pending.future.done():
        pending.future.set_exception(error)


def _write_error(exc: BaseException) -> LedgerWriteError:
    error = LedgerWriteError(f"usage event could not be stored: {exc}")
    error.__cause__ = exc
    return error
