"""RestBudget: the bot's one budget of Discord REST requests per second, shared by every feature.
Servers take turns (round robin) and priorities go first: moderation, then normal, then cosmetic edits."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import time
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextvars import ContextVar

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]

# Discord's global limit is 50 requests per second; the window is one second.
WINDOW_SECONDS = 1.0


class Priority(enum.IntEnum):
    """Who goes first when requests queue: lower values are served first."""

    MODERATION = 0  # timeouts, deletions of flagged messages: late is as bad as never
    NORMAL = 1
    COSMETIC = 2  # streaming edits: the next edit carries the latest text anyway


_priority: ContextVar[Priority] = ContextVar("rest_priority", default=Priority.NORMAL)


@contextlib.contextmanager
def rest_priority(priority: Priority) -> Iterator[None]:
    """Mark the Discord requests made inside this block (tasks started inside inherit it)."""
    token = _priority.set(priority)
    try:
        yield
    finally:
        _priority.reset(token)


def current_priority() -> Priority:
    return _priority.get()


class _Ticket:
    """One queued request. It waits by sleeping, and a grant cuts the sleep short: a waiter that
    only sleeps is one a test harness (simcord) can tell apart from a hang, unlike a bare future."""

    # Any length works: a grant ends the sleep; a sleep that runs out just starts another.
    _PARK_SECONDS = 60.0

    def __init__(self) -> None:
        self.granted = False
        self._sleeper: asyncio.Task[None] | None = None

    def grant(self) -> None:
        self.granted = True
        if self._sleeper is not None:
            self._sleeper.cancel()

    async def park(self) -> None:
        self._sleeper = asyncio.get_running_loop().create_task(asyncio.sleep(self._PARK_SECONDS))
        try:
            await self._sleeper
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not self._sleeper.cancelled() or (current is not None and current.cancelling()):
                raise  # the waiting request itself is being cancelled
        finally:
            self._sleeper.cancel()
            self._sleeper = None


class RestBudget:
    """At most `per_second` requests start in any one-second window; callers wait, nobody is dropped.

    Waiting requests are queued by priority, then by lane (a server): each lane with a waiting
    request gets one in turn, so one busy server cannot make the others wait behind its queue.
    """

    def __init__(self, per_second: int, *, clock: Clock | None = None, sleep: Sleep = asyncio.sleep) -> None:
        if per_second < 1:
            raise ValueError("per_second must be at least 1")
        self.per_second = per_second
        # Looked up at each call so a test harness's virtual monotonic clock (simcord) is seen too.
        self._clock: Clock = clock if clock is not None else lambda: time.monotonic()
        self._sleep = sleep
        self._started: collections.deque[float] = collections.deque()
        # priority -> lane -> waiters; dicts keep insertion order, which is the round-robin order.
        self._waiting: dict[Priority, dict[Hashable, collections.deque[_Ticket]]] = {p: {} for p in Priority}
        self._pump: asyncio.Task[None] | None = None

    async def acquire(self, lane: Hashable, priority: Priority | None = None) -> None:
        """Return when one request of `lane` may start; it is counted as started at that moment."""
        chosen = current_priority() if priority is None else priority
        if not self._anyone_waiting() and self._free_slot():
            self._started.append(self._clock())
            return
        ticket = _Ticket()
        self._waiting[chosen].setdefault(lane, collections.deque()).append(ticket)
        if self._pump is None or self._pump.done():
            self._pump = asyncio.get_running_loop().create_task(self._run(), name="rest-budget")
        try:
            while not ticket.granted:
                await ticket.park()
        except asyncio.CancelledError:
            self._withdraw(chosen, lane, ticket)
            raise

    def _free_slot(self) -> bool:
        now = self._clock()
        while self._started and self._started[0] + WINDOW_SECONDS <= now:
            self._started.popleft()
        return len(self._started) < self.per_second

    def _anyone_waiting(self) -> bool:
        return any(self._waiting[p] for p in Priority)

    def _withdraw(self, priority: Priority, lane: Hashable, ticket: _Ticket) -> None:
        queue = self._waiting[priority].get(lane)
        if queue is not None and ticket in queue:
            queue.remove(ticket)
            if not queue:
                del self._waiting[priority][lane]

    def _grant_next(self) -> bool:
        """Start the next waiter in turn; False when nobody waits."""
        for priority in Priority:
            lanes = self._waiting[priority]
            if not lanes:
                continue
            lane = next(iter(lanes))
            queue = lanes.pop(lane)
            ticket = queue.popleft()
            if queue:
                lanes[lane] = queue  # back of the round
            self._started.append(self._clock())
            ticket.grant()
            return True
        return False

    async def _run(self) -> None:
        while self._anyone_waiting():
            if self._free_slot():
                self._grant_next()
                continue
            # The oldest start leaves the window first; sleep until then.
            await self._sleep(max(0.0, self._started[0] + WINDOW_SECONDS - self._clock()))
