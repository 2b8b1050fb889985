"""EditScheduler under a virtual clock: per-message and per-channel limits, fairness, 429, errors."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Awaitable
from types import SimpleNamespace
from typing import Any, TypeVar

import discord
import pytest

from bot.discord_io.edit_scheduler import (
    STATS_CHANNELS,
    EditPacing,
    EditScheduler,
    LiveEditClosed,
    retry_after_of,
)

T = TypeVar("T")


class FakeTime:
    """Virtual time: sleep() parks until run() advances the clock to the earliest sleeper."""

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._n = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (self.now + max(0.0, delay), next(self._n), future))
        await future

    async def settle(self) -> None:
        for _ in range(50):
            await asyncio.sleep(0)

    async def run(self, awaitable: Awaitable[T], max_time: float = 10_000.0) -> T:
        task = asyncio.ensure_future(awaitable)
        while True:
            await self.settle()
            if task.done():
                return task.result()
            while self._heap and self._heap[0][2].done():
                heapq.heappop(self._heap)
            assert self._heap, "deadlock: nothing is sleeping and the awaited task is not done"
            when, _, future = heapq.heappop(self._heap)
            self.now = max(self.now, when)
            assert self.now <= max_time
            future.set_result(None)


def make(ft: FakeTime, **pacing: Any) -> EditScheduler:
    return EditScheduler(EditPacing(**pacing), clock=ft.clock, sleep=ft.sleep)


class Recorder:
    def __init__(self, ft: FakeTime, log: list[tuple[float, int, str]], key: int) -> None:
        self.ft, self.log, self.key = ft, log, key

    async def __call__(self, content: str) -> None:
        self.log.append((self.ft.now, self.key, content))


def http_429(retry_after: str | None) -> discord.HTTPException:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    response = SimpleNamespace(status=429, reason="Too Many Requests", headers=headers)
    return discord.HTTPException(response, {"message": "You are being rate limited.", "code": 0})  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_limits_hold_for_ten_concurrent_streams(seed: int) -> None:
    ft = FakeTime()
    scheduler = make(ft)
    sent: list[tuple[float, int, str]] = []
    handles = [scheduler.register(42, Recorder(ft, sent, k)) for k in range(10)]
    rng = random.Random(seed)

    async def produce(k: int) -> None:
        for i in range(15):
            handles[k].update(f"{k}:{i}")
            await ft.sleep(rng.uniform(0.05, 0.8))
        await handles[k].flush()

    async def main() -> None:
        await asyncio.gather(*(produce(k) for k in range(10)))

    await ft.run(main())
    times = sorted(t for t, _, _ in sent)
    for i, start in enumerate(times):
        in_window = [t for t in times[i:] if t < start + 5.0]
        assert len(in_window) <= 5, f"{len(in_window)} sends in the 5 s window from {start}"
    for k in range(10):
        mine = [(t, c) for t, key, c in sent if key == k]
        assert all(b[0] - a[0] >= 1.0 for a, b in itertools.pairwise(mine))
        # Final content is always delivered, and contents only move forward (merged, never reordered).
        assert mine[-1][1] == f"{k}:14"
        numbers = [int(c.split(":")[1]) for _, c in mine]
        assert numbers == sorted(set(numbers))
    assert scheduler.stats[42].sends == len(sent)
    # 10 streams x 15 updates were merged into far fewer edits than updates.
    assert len(sent) < 150


async def test_first_update_goes_out_immediately_then_one_per_second() -> None:
    ft = FakeTime()
    scheduler = make(ft)
    sent: list[tuple[float, int, str]] = []
    handle = scheduler.register(1, Recorder(ft, sent, 0))

    async def main() -> None:
        handle.update("a")
        await handle.flush()
        handle.update("b")
        handle.update("c")
        await handle.flush()

    await ft.run(main())
    assert sent == [(0.0, 0, "a"), (1.0, 0, "c")]


async def test_unseen_messages_go_first_then_the_longest_waiting() -> None:
    ft = FakeTime()
    scheduler = make(ft, channel_max_edits=1, channel_window=1.0, per_message_interval=0.0)
    sent: list[tuple[float, int, str]] = []
    first, second, third = (scheduler.register(7, Recorder(ft, sent, k)) for k in range(3))

    async def main() -> None:
        first.update("f1")  # uses the budget at t=0
        await ft.sleep(0.1)
        second.update("s1")  # waiting since 0.1
        await ft.sleep(0.1)
        third.update("t1")  # waiting since 0.2, not on screen yet
        first.update("f2")  # waiting since 0.2, registered earlier, but already showing f1
        await asyncio.gather(first.flush(), second.flush(), third.flush())

    await ft.run(main())
    # s1 waited longest; t1 beats f2 because nothing of the third message is visible yet.
    assert [c for _, _, c in sent] == ["f1", "s1", "t1", "f2"]
    assert [t for t, _, _ in sent] == [0.0, 1.0, 2.0, 3.0]


async def test_429_waits_and_sends_latest_once() -> None:
    ft = FakeTime()
    scheduler = make(ft)
    attempts: list[tuple[float, str]] = []

    async def send(content: str) -> None:
        attempts.append((ft.now, content))
        if len(attempts) == 1:
            handle.update("b")  # arrives while the first edit is in flight
            raise http_429("2.5")

    handle = scheduler.register(5, send)

    async def main() -> None:
        handle.update("a")
        await handle.flush()

    await ft.run(main())
    assert attempts == [(0.0, "a"), (2.5, "b")]
    assert scheduler.stats[5].rate_limited == 1
    assert scheduler.stats[5].sends == 1


async def test_429_without_retry_after_waits_one_second_and_resends() -> None:
    ft = FakeTime()
    scheduler = make(ft)
    attempts: list[tuple[float, str]] = []

    async def send(content: str) -> None:
        attempts.append((ft.now, content))
        if len(attempts) == 1:
            raise http_429(None)

    handle = scheduler.register(5, send)

    async def main() -> None:
        handle.update("only")
        await handle.flush()

    await ft.run(main())
    assert attempts == [(0.0, "only"), (1.0, "only")]


def test_retry_after_sources() -> None:
    assert retry_after_of(http_429("3")) == 3.0
    assert retry_after_of(http_429(None)) == 1.0
    assert retry_after_of(http_429("nonsense")) == 1.0
    assert retry_after_of(discord.RateLimited(7.5)) == 7.5


async def test_other_send_errors_are_raised_from_flush_and_stop_the_handle() -> None:
    ft = FakeTime()
    scheduler = make(ft)
    calls: list[str] = []

    async def send(content: str) -> None:
        calls.append(content)
        raise RuntimeError("boom")

    handle = scheduler.register(9, send)
    other_sent: list[tuple[float, int, str]] = []
    other = scheduler.register(9, Recorder(ft, other_sent, 1))

    async def main() -> None:
        handle.update("x")
        with pytest.raises(RuntimeError, match="boom"):
            await handle.flush()
        handle.update("y")  # ignored: the handle is stopped
        with pytest.raises(RuntimeError, match="boom"):
            await handle.flush()
        other.update("still works")
        await other.flush()

    await ft.run(main())
    assert calls == ["x"]
    assert handle.closed
    assert [c for _, _, c in other_sent] == ["still works"]
    assert scheduler.stats[9].failures == 1


async def test_close_drops_pending_content_and_fails_flush() -> None:
    ft = FakeTime()
    scheduler = make(ft)
    sent: list[tuple[float, int, str]] = []
    handle = scheduler.register(3, Recorder(ft, sent, 0))

    async def main() -> None:
        handle.update("a")
        await handle.flush()
        handle.update("b")  # must wait a second
        waiter = asyncio.ensure_future(handle.flush())
        await ft.sleep(0.5)
        handle.close()
        with pytest.raises(LiveEditClosed):
            await waiter
        await ft.sleep(2.0)

    await ft.run(main())
    assert [c for _, _, c in sent] == ["a"]


async def test_unchanged_content_is_not_resent() -> None:
    ft = FakeTime()
    scheduler = make(ft)
    sent: list[tuple[float, int, str]] = []
    handle = scheduler.register(3, Recorder(ft, sent, 0))

    async def main() -> None:
        handle.update("same")
        await handle.flush()
        handle.update("same")
        await handle.flush()

    await ft.run(main())
    assert len(sent) == 1


async def test_workers_exit_when_idle_and_close_cancels() -> None:
    ft = FakeTime()
    scheduler = make(ft)
    sent: list[tuple[float, int, str]] = []
    handles = [scheduler.register(ch, Recorder(ft, sent, ch)) for ch in (1, 2, 3)]

    async def main() -> None:
        for h in handles:
            h.update("hi")
        await asyncio.gather(*(h.flush() for h in handles))

    await ft.run(main())
    await ft.settle()
    assert scheduler.active_workers == 0
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("edit-scheduler-")]

    busy = scheduler.register(4, Recorder(ft, sent, 4))
    busy.update("1")
    await ft.settle()
    busy.update("2")  # waits on the per-message interval
    await ft.settle()
    assert scheduler.active_workers == 1
    await scheduler.close()
    assert scheduler.active_workers == 0
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("edit-scheduler-")]
    with pytest.raises(LiveEditClosed):
        await busy.flush()


async def test_stats_are_kept_for_the_most_recently_active_channels_only() -> None:
    ft = FakeTime()
    scheduler = make(ft)
    sent: list[tuple[float, int, str]] = []
    channels = range(1, STATS_CHANNELS + 11)

    async def main() -> None:
        first = scheduler.register(1, Recorder(ft, sent, 1))
        first.update("hello")
        await first.flush()
        for channel in channels[1:]:
            handle = scheduler.register(channel, Recorder(ft, sent, channel))
            handle.update("hi")
            await handle.flush()
            if channel == 1000:
                first.update("channel 1 is active again")  # its record becomes the freshest
                await first.flush()

    await ft.run(main())
    assert len(sent) == len(channels) + 1
    assert len(scheduler.stats) == STATS_CHANNELS
    assert scheduler.stats[1].sends == 2
    # Oldest activity first out: channels 2 to 11 (channel 1 was active after them).
    assert not any(channel in scheduler.stats for channel in range(2, 12))
    assert scheduler.stats[12].sends == 1 and scheduler.stats[channels[-1]].sends == 1


async def test_rendered_content_is_built_only_when_an_edit_goes_out() -> None:
    ft = FakeTime()
    scheduler = make(ft)
    sent: list[tuple[float, int, str]] = []
    handle = scheduler.register(3, Recorder(ft, sent, 0))
    state = {"text": "", "renders": 0}

    def render() -> str:
        state["renders"] += 1
        return str(state["text"])

    async def main() -> None:
        for i in range(200):
            state["text"] = f"tick {i}"
            handle.update(render)
            await ft.sleep(0.01)
        await handle.flush()
        # Rendering to what is already on screen costs no send.
        handle.update(render)
        await handle.flush()

    await ft.run(main())
    assert [c for _, _, c in sent][-1] == "tick 199"
    assert len(sent) == 3  # t=0, t=1, t=2 (the last one at the flush)
    assert state["renders"] == len(sent) + 1


async def test_forced_content_is_sent_even_when_unchanged() -> None:
    ft = FakeTime()
    scheduler = make(ft)
    sent: list[tuple[float, int, str]] = []
    handle = scheduler.register(3, Recorder(ft, sent, 0))

    async def main() -> None:
        handle.update(lambda: "same")
        await handle.flush()
        handle.update(lambda: "same", force=True)  # e.g. the send also changes the buttons
        await handle.flush()

    await ft.run(main())
    assert [(t, c) for t, _, c in sent] == [(0.0, "same"), (1.0, "same")]


async def test_flush_waits_for_the_channel_budget_without_polling() -> None:
    ft = FakeTime()
    sleeps: list[float] = []

    async def counted_sleep(delay: float) -> None:
        sleeps.append(delay)
        await ft.sleep(delay)

    scheduler = EditScheduler(EditPacing(), clock=ft.clock, sleep=counted_sleep)
    sent: list[tuple[float, int, str]] = []
    handles = [scheduler.register(8, Recorder(ft, sent, k)) for k in range(6)]

    async def main() -> None:
        for k, handle in enumerate(handles):
            handle.update(f"message {k}")
        # Five go out at once; the sixth waits for the 5.25 s window, and so does its flush.
        await asyncio.gather(*(handle.flush() for handle in handles))

    await ft.run(main())
    assert [t for t, _, _ in sent] == [0.0] * 5 + [5.25]
    # A few timers (the worker's and each flush's wait for its send), not one every few ms.
    assert len(sleeps) <= 12, sleeps


async def test_the_channel_budget_outlives_the_messages_that_spent_it() -> None:
    ft = FakeTime()
    scheduler = make(ft)
    sent: list[tuple[float, int, str]] = []

    async def main() -> None:
        first = [scheduler.register(6, Recorder(ft, sent, k)) for k in range(5)]
        for handle in first:
            handle.update("done")
        await asyncio.gather(*(handle.flush() for handle in first))
        for handle in first:
            handle.close()  # those answers are finished
        await ft.sleep(1.0)
        # A new answer in the same channel a second later still waits for the window.
        late = scheduler.register(6, Recorder(ft, sent, 9))
        late.update("next answer")
        await late.flush()

    await ft.run(main())
    assert [t for t, _, _ in sent] == [0.0] * 5 + [5.25]


async def test_a_send_leaving_the_window_frees_exactly_one_place() -> None:
    # 0.85 - 0.75 < 0.1 in floating point while 0.1 + 0.75 == 0.85: the window must use one rule
    # for "this send has left the window", or at 0.85 every waiting message goes out at once.
    ft = FakeTime()
    scheduler = make(ft, per_message_interval=0.0, channel_window=0.75, channel_max_edits=1)
    sent: list[tuple[float, int, str]] = []
    handles = [scheduler.register(2, Recorder(ft, sent, k)) for k in range(3)]

    async def main() -> None:
        await ft.sleep(0.1)
        handles[0].update("a")
        await handles[0].flush()
        handles[1].update("b")
        handles[2].update("c")
        await asyncio.gather(handles[1].flush(), handles[2].flush())

    await ft.run(main())
    assert [(round(t, 6), c) for t, _, c in sent] == [(0.1, "a"), (0.85, "b"), (1.6, "c")]
