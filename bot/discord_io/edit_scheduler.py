"""EditScheduler: paces message edits so live text respects Discord's rate limits.
At most one edit per interval per message and N per sliding window per channel; 429s back off."""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import discord

log = logging.getLogger(__name__)

Send = Callable[[str], Coroutine[Any, Any, None]]
# What a handle shows: a string, or a function rendering it, called only when an edit goes out.
Content = str | Callable[[], str]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]

DEFAULT_RETRY_AFTER = 1.0
# Diagnostics are kept for this many channels, the most recently active ones.
STATS_CHANNELS = 1024


class LiveEditClosed(Exception):
    """flush() was waiting for content that will never be sent because the handle was closed."""


@dataclass(frozen=True, slots=True)
class EditPacing:
    """The limits: one edit per interval per message, max_edits per sliding window per channel."""

    per_message_interval: float = 1.0
    # 5 edits per 5 s is the product rule; the extra quarter second absorbs the jitter between
    # counting a send here and Discord receiving it.
    channel_window: float = 5.25
    channel_max_edits: int = 5


@dataclass(slots=True)
class ChannelStats:
    """Diagnostics for one channel: sends performed, 429s met, sends that failed otherwise."""

    sends: int = 0
    rate_limited: int = 0
    failures: int = 0


def retry_after_of(exc: BaseException) -> float:
    """Seconds Discord asked us to wait, from a RateLimited or a 429 HTTPException; 1 s if unknown."""
    value = getattr(exc, "retry_after", None)
    if value is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        if headers is not None:
            value = headers.get("Retry-After")
    try:
        seconds = float(value) if value is not None else DEFAULT_RETRY_AFTER
    except (TypeError, ValueError):
        seconds = DEFAULT_RETRY_AFTER
    return max(0.0, seconds)


def _is_rate_limit(exc: BaseException) -> bool:
    return isinstance(exc, discord.RateLimited) or (
        isinstance(exc, discord.HTTPException) and exc.status == 429
    )


@dataclass(slots=True, eq=False)
class _HandleState:
    """Everything the scheduler knows about one message: the one record per handle, owned here."""

    channel_id: int
    send: Send
    seq: int
    latest: Content | None = None
    version: int = 0
    sent_version: int = 0
    # The version that must go out even if it renders to what is on screen (it carries a view).
    forced_version: int = 0
    sent_content: str | None = None
    last_sent_at: float | None = None
    # When the oldest unsent content arrived: the longest-waiting message in a channel goes first.
    waiting_since: float = 0.0
    closed: bool = False
    error: BaseException | None = None

    @property
    def pending(self) -> bool:
        return not self.closed and self.version > self.sent_version


class LiveEdit:
    """One message's edit stream. update() is non-blocking; only the latest content is ever sent."""

    def __init__(self, scheduler: EditScheduler, state: _HandleState) -> None:
        self._scheduler = scheduler
        self._state = state

    @property
    def channel_id(self) -> int:
        return self._state.channel_id

    @property
    def pending(self) -> bool:
        return self._state.pending

    @property
    def closed(self) -> bool:
        return self._state.closed

    def update(self, content: Content, *, force: bool = False) -> None:
        """Record content as the message's desired state; it is sent when the limits allow.

        content may be a function: it is called when the edit goes out, so text that changes many
        times between two edits is rendered once. Content equal to what is on screen is not sent
        again unless force (the send has other effects, e.g. a new view).
        """
        self._scheduler._update(self._state, content, force)

    async def flush(self) -> None:
        """Wait until the latest content has been sent; raise the send error if sending failed."""
        await self._scheduler._flush(self._state)

    def close(self) -> None:
        """Stop this handle: unsent content is dropped and waiting flush() calls raise LiveEditClosed."""
        self._state.closed = True


class _Channel:
    def __init__(self) -> None:
        self.handles: list[_HandleState] = []
        self.sent_at: collections.deque[float] = collections.deque()
        self.blocked_until = 0.0
        self.sleeper: asyncio.Task[None] | None = None
        self.worker: asyncio.Task[None] | None = None
        # The send in flight, if any (the worker sends one message at a time per channel).
        self.sending: asyncio.Task[None] | None = None


class EditScheduler:
    """One per bot: every live message registers here and shares its channel's edit budget."""

    def __init__(
        self,
        pacing: EditPacing | None = None,
        *,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.pacing = pacing if pacing is not None else EditPacing()
        self.clock: Clock = clock if clock is not None else time.monotonic
        self._sleep = sleep
        # Least recently active first. A channel's record outlives its messages while its recent
        # sends still count against the window: forgetting them would reset the budget.
        self._channels: collections.OrderedDict[int, _Channel] = collections.OrderedDict()
        self._seq = itertools.count()
        # Bounded: a bot in many servers must not keep a record for every channel it ever wrote in.
        self.stats: collections.OrderedDict[int, ChannelStats] = collections.OrderedDict()

    def register(self, channel_id: int, send: Send) -> LiveEdit:
        """A new handle for one message in channel_id; send performs the actual edit (or creation)."""
        state = _HandleState(channel_id, send, next(self._seq))
        self._channel(channel_id).handles.append(state)
        return LiveEdit(self, state)

    async def close(self) -> None:
        """Stop all workers (bot shutdown); pending content is dropped."""
        workers = [c.worker for c in self._channels.values() if c.worker is not None]
        for channel in self._channels.values():
            for state in channel.handles:
                state.closed = True
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._channels.clear()

    @property
    def active_workers(self) -> int:
        return sum(1 for c in self._channels.values() if c.worker is not None and not c.worker.done())

    def _channel(self, channel_id: int) -> _Channel:
        channel = self._channels.get(channel_id)
        if channel is None:
            channel = self._channels[channel_id] = _Channel()
        return channel

    def _forget_idle_channels(self) -> None:
        """Drop the records of channels without messages whose sends no longer count.

        Records are ordered by last send, so the scan stops at the first idle channel whose sends
        still count; channels with messages in progress (few) are stepped over.
        """
        now = self.clock()
        idle: list[int] = []
        for channel_id, channel in self._channels.items():
            if channel.handles or (channel.worker is not None and not channel.worker.done()):
                continue
            self._window_at(channel, now)  # drops sends that left the window
            if channel.sent_at or channel.blocked_until > now:
                break
            idle.append(channel_id)
        for channel_id in idle:
            del self._channels[channel_id]

    def _stats(self, channel_id: int) -> ChannelStats:
        stats = self.stats.get(channel_id)
        if stats is None:
            stats = self.stats[channel_id] = ChannelStats()
            while len(self.stats) > STATS_CHANNELS:
                self.stats.popitem(last=False)
        else:
            self.stats.move_to_end(channel_id)
        return stats

    # -- handles --------------------------------------------------------------------------------

    def _update(self, state: _HandleState, content: Content, force: bool) -> None:
        if state.closed:
            log.debug("update on closed live edit in channel %s ignored", state.channel_id)
            return
        if not force and not state.pending and content == state.sent_content:
            return
        was_pending = state.pending
        state.latest = content
        state.version += 1
        if force:
            state.forced_version = state.version
        if not was_pending:
            state.waiting_since = self.clock()
            # A handle already pending is in the worker's plan: newer content changes no timing.
            self._wake(state.channel_id)

    async def _flush(self, state: _HandleState) -> None:
        # Waits on what can change the answer: the send in flight, or the time this handle's own
        # send becomes possible. Not on a future the worker would set: simcord (the test harness)
        # settles the bot by what each task waits on, and takes such a future for a hang, while it
        # follows a wait on another task or a timer.
        while True:
            if state.error is not None:
                raise state.error
            if not state.pending:
                if state.closed and state.version > state.sent_version:
                    raise LiveEditClosed("live edit closed before its content was sent")
                return
            self._wake(state.channel_id)
            channel = self._channel(state.channel_id)
            sending = channel.sending
            if sending is not None and not sending.done():
                # This handle's send, or a longer-waiting message's that goes first.
                await asyncio.wait({sending})
            else:
                now = self.clock()
                await self._sleep(
                    max(0.0, max(self._next_send_at(channel, state), self._window_at(channel, now)) - now)
                )

    # -- the per-channel worker -----------------------------------------------------------------

    def _wake(self, channel_id: int) -> None:
        channel = self._channel(channel_id)
        if channel.sleeper is not None:
            channel.sleeper.cancel()
        if channel.worker is None or channel.worker.done():
            channel.worker = asyncio.get_running_loop().create_task(
                self._run(channel_id, channel), name=f"edit-scheduler-{channel_id}"
            )

    def _next_send_at(self, channel: _Channel, state: _HandleState) -> float:
        if state.last_sent_at is None:
            return channel.blocked_until
        return max(channel.blocked_until, state.last_sent_at + self.pacing.per_message_interval)

    def _window_at(self, channel: _Channel, now: float) -> float:
        """When the channel's sliding window next has room (now if it has room already)."""
        pacing = self.pacing
        # One rule for "a send has left the window" (sent + window <= now), here and below: with
        # `sent <= now - window` instead, rounding can keep a send counted whose window is over.
        while channel.sent_at and channel.sent_at[0] + pacing.channel_window <= now:
            channel.sent_at.popleft()
        if len(channel.sent_at) >= pacing.channel_max_edits:
            return channel.sent_at[0] + pacing.channel_window
        return now

    async def _run(self, channel_id: int, channel: _Channel) -> None:
        try:
            while True:
                channel.handles = [h for h in channel.handles if not h.closed]
                pending = [h for h in channel.handles if h.pending]
                if not pending:
                    return
                now = self.clock()
                window_at = self._window_at(channel, now)
                ready = [h for h in pending if self._next_send_at(channel, h) <= now]
                if ready and window_at <= now:
                    # Messages not yet on screen first (a member waiting for any text at all beats
                    # one watching text grow), then the longest-waiting, then registration order.
                    state = min(ready, key=lambda h: (h.sent_content is not None, h.waiting_since, h.seq))
                    await self._send_one(channel_id, channel, state, now)
                    continue
                wait_until = max(window_at, min(self._next_send_at(channel, h) for h in pending))
                await self._wait(channel, wait_until - now)
        finally:
            self._forget_idle_channels()

    async def _wait(self, channel: _Channel, delay: float) -> None:
        # A new update (say, a new message's first text) may become sendable before the timer
        # ends: _wake cancels the sleeper, which ends this wait early.
        sleeper = asyncio.get_running_loop().create_task(
            self._timer(max(0.0, delay)), name="edit-scheduler-timer"
        )
        channel.sleeper = sleeper
        try:
            await sleeper
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not sleeper.cancelled() or (current is not None and current.cancelling()):
                raise  # the worker itself is being cancelled
        finally:
            channel.sleeper = None
            sleeper.cancel()

    async def _timer(self, delay: float) -> None:
        await self._sleep(delay)

    async def _send_one(self, channel_id: int, channel: _Channel, state: _HandleState, now: float) -> None:
        latest = state.latest
        version = state.version
        assert latest is not None
        content = latest if isinstance(latest, str) else latest()
        if content == state.sent_content and state.forced_version <= state.sent_version:
            # Rendered to what is already on screen: nothing to send, no budget spent.
            state.sent_version = version
            return
        stats = self._stats(channel_id)
        self._channels.move_to_end(channel_id)
        # Count the attempt before it runs: a send that fails still used the channel's budget.
        channel.sent_at.append(now)
        state.last_sent_at = now
        channel.sending = asyncio.get_running_loop().create_task(
            state.send(content), name=f"edit-scheduler-send-{channel_id}"
        )
        try:
            await channel.sending
        except Exception as exc:
            if _is_rate_limit(exc):
                delay = retry_after_of(exc)
                stats.rate_limited += 1
                channel.blocked_until = max(channel.blocked_until, self.clock() + delay)
                log.warning("edit in channel %s rate limited; retrying in %.2fs", channel_id, delay)
                return
            stats.failures += 1
            log.warning("edit in channel %s failed: %r", channel_id, exc)
            state.error = exc
            state.closed = True
            return
        finally:
            channel.sending = None
        stats.sends += 1
        state.sent_version = version
        state.sent_content = content
        if state.pending:
            # Newer content arrived during the send; it has waited since now.
            state.waiting_since = now
