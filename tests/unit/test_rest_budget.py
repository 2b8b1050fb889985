"""RestBudget on a fake clock: the per-second cap under 200 concurrent senders, fairness, priority.

No real waiting: the budget's sleep advances the fake clock once the woken senders have run.
"""

from __future__ import annotations

import asyncio

from bot.discord_io.rest_budget import Priority, RestBudget, rest_priority


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # Let the senders the budget just released run (and record their time) before time moves.
        for _ in range(10):
            await asyncio.sleep(0)
        self.now += seconds


def budget(per_second: int, time: FakeTime) -> RestBudget:
    return RestBudget(per_second, clock=time.clock, sleep=time.sleep)


def busiest_second(times: list[float]) -> int:
    """The most starts in any half-open one-second window (it begins at some start)."""
    return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


async def test_200_concurrent_senders_never_exceed_the_budget_in_any_second_and_all_are_sent() -> None:
    time = FakeTime()
    rest = budget(45, time)
    sent: list[tuple[int, float]] = []

    async def sender(n: int) -> None:
        await rest.acquire(lane=n % 7)
        sent.append((n, time.now))

    await asyncio.gather(*(sender(n) for n in range(200)))

    times = [t for _, t in sent]
    assert sorted(n for n, _ in sent) == list(range(200))  # nothing dropped, nobody sent twice
    assert busiest_second(times) == 45  # the cap holds, and the budget is used, not wasted
    assert max(times) == 4.0  # 200 requests at 45/s: seconds 0-3 full, the rest at 4 s


async def test_senders_arriving_over_time_still_never_exceed_the_budget() -> None:
    time = FakeTime()
    rest = budget(10, time)
    sent: list[float] = []

    async def sender(delay: float) -> None:
        await time.sleep(delay)
        await rest.acquire(lane=None)
        sent.append(time.now)

    await asyncio.gather(*(sender(n * 0.037) for n in range(120)))

    assert len(sent) == 120
    assert busiest_second(sent) <= 10


async def test_a_busy_server_does_not_make_another_wait_behind_its_queue() -> None:
    time = FakeTime()
    rest = budget(10, time)
    done: dict[str, list[float]] = {"busy": [], "quiet": []}

    async def sender(guild: str) -> None:
        await rest.acquire(lane=guild)
        done[guild].append(time.now)

    busy = [asyncio.ensure_future(sender("busy")) for _ in range(100)]
    await asyncio.sleep(0)
    quiet = [asyncio.ensure_future(sender("quiet")) for _ in range(5)]
    await asyncio.gather(*busy, *quiet)

    # The first 10 of the busy server went at once; then the two take turns, so the quiet
    # server's 5 are out in the next second instead of after the busy server's 90 (9 s).
    assert max(done["quiet"]) == 1.0
    assert len(done["busy"]) == 100 and max(done["busy"]) == 10.0


async def test_moderation_goes_first_and_cosmetic_edits_last() -> None:
    time = FakeTime()
    rest = budget(2, time)
    order: list[str] = []

    async def sender(name: str, priority: Priority) -> None:
        with rest_priority(priority):
            await rest.acquire(lane=1)
        order.append(name)

    # Two requests use this second's budget; the rest queue in this order.
    await rest.acquire(lane=1)
    await rest.acquire(lane=1)
    tasks = [
        asyncio.ensure_future(sender("edit1", Priority.COSMETIC)),
        asyncio.ensure_future(sender("edit2", Priority.COSMETIC)),
        asyncio.ensure_future(sender("send1", Priority.NORMAL)),
        asyncio.ensure_future(sender("send2", Priority.NORMAL)),
        asyncio.ensure_future(sender("timeout", Priority.MODERATION)),
    ]
    await asyncio.gather(*tasks)

    assert order == ["timeout", "send1", "send2", "edit1", "edit2"]


async def test_priority_is_inherited_by_tasks_started_inside_the_block() -> None:
    time = FakeTime()
    rest = budget(1, time)
    order: list[str] = []

    async def sender(name: str) -> None:
        await rest.acquire(lane=1)
        order.append(name)

    await rest.acquire(lane=1)
    with rest_priority(Priority.COSMETIC):
        edit = asyncio.ensure_future(sender("edit"))
    send = asyncio.ensure_future(sender("send"))
    await asyncio.gather(edit, send)

    assert order == ["send", "edit"]


async def test_a_cancelled_waiter_gives_its_turn_to_the_next() -> None:
    time = FakeTime()
    rest = budget(1, time)
    sent: list[tuple[str, float]] = []

    async def sender(name: str) -> None:
        await rest.acquire(lane=1)
        sent.append((name, time.now))

    await rest.acquire(lane=1)
    gone = asyncio.ensure_future(sender("gone"))
    kept = asyncio.ensure_future(sender("kept"))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.gather(kept, gone, return_exceptions=True)

    assert sent == [("kept", 1.0)]
