"""EditScheduler: paces message edits so live text respects Discord's rate limits.
At most one edit per interval per message and N per sliding window per channel; 429s back off."""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import discord

log = logging.getLogger(__name__)

Send = Callable[[str], Awaitable[None]]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]

DEFAULT_RETRY_AFTER = 1.0
# While a flushed handle is due but not yet sent, flush() looks again this often.
_FLUSH_POLL = 0.02


class LiveEditClosed(Exception):
    """flush() was waiting for content that will never be sent because the handle was closed."""


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


class LiveEdit:
    """One message's edit stream. update() is non-blocking; only the latest content is ever sent."""

    def __init__(self, scheduler: EditScheduler, channel_id: int, send: Send, seq: int) -> None:
        self._scheduler = scheduler
        self.channel_id = channel_id
        self._send = send
        self._seq = seq
        self._latest: str | None = None
        self._version = 0
        self._sent_version = 0
        self._sent_content: str | None = None
        self._last_sent_at: float | None = None
        # When the oldest unsent content arrived: the longest-waiting message in a channel goes first.
        self._waiting_since = 0.0
        self._closed = False
        self._error: BaseException | None = None
        self.sends = 0

    @property
    def pending(self) -> bool:
        return not self._closed and self._version > self._sent_version

    @property
    def closed(self) -> bool:
        return self._closed

    def update(self, content: str, *, force: bool = False) -> None:
        """Record content as the message's desired state; it is sent when the limits allow.

        Content equal to what was last sent is skipped unless force (the send has other effects).
        """
        if self._closed:
            log.debug("update on closed live edit in channel %s ignored", self.channel_id)
            return
        if not force and not self.pending and content == self._sent_content:
            return
        if not self.pending:
            self._waiting_since = self._scheduler.clock()
        self._latest = content
        self._version += 1
        self._scheduler._wake(self.channel_id)

    async def flush(self) -> None:
        """Wait until the latest content has been sent; raise the send error if sending failed.

        It sleeps until the scheduler's next chance to send this handle and checks again, rather
        than awaiting a future the worker sets: a waiter that only ever sleeps or awaits tasks is
        one a test harness (simcord) can tell apart from a hang, and it costs one wake-up per edit.
        """
        while True:
            if self._error is not None:
                raise self._error
            if not self.pending:
                if self._closed and self._version > self._sent_version:
                    raise LiveEditClosed("live edit closed before its content was sent")
                return
            self._scheduler._wake(self.channel_id)
            await self._scheduler._sleep(self._scheduler._flush_delay(self))

    def close(self) -> None:
        """Stop this handle: unsent content is dropped and waiting flush() calls raise LiveEditClosed."""
        if self._closed:
            return
        self._closed = True


class _Channel:
    def __init__(self) -> None:
        self.handles: list[LiveEdit] = []
        self.sent_at: collections.deque[float] = collections.deque()
        self.blocked_until = 0.0
        self.sleeper: asyncio.Task[None] | None = None
        self.worker: asyncio.Task[None] | None = None
        self.stats = ChannelStats()


class EditScheduler:
    """One per bot: every live message registers here and shares its channel's edit budget."""

    def __init__(
        self,
        per_message_interval: float = 1.0,
        channel_window: float = 5.25,
        channel_max_edits: int = 5,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.per_message_interval = per_message_interval
        # 5 edits per 5 s is the product rule; the extra quarter second absorbs the jitter between
        # counting a send here and Discord receiving it.
        self.channel_window = channel_window
        self.channel_max_edits = channel_max_edits
        # Looked up at each call (not bound once) so a patched clock, e.g. a test harness's
        # virtual one, is seen by the scheduler too.
        self.clock: Clock = clock if clock is not None else lambda: time.monotonic()
        self._sleep = sleep
        self._channels: dict[int, _Channel] = {}
        self._seq = itertools.count()
        self.stats: dict[int, ChannelStats] = {}

    def register(self, channel_id: int, send: Send) -> LiveEdit:
        """A new handle for one message in channel_id; send performs the actual edit (or creation)."""
        channel = self._channel(channel_id)
        handle = LiveEdit(self, channel_id, send, next(self._seq))
        channel.handles.append(handle)
        return handle

    async def close(self) -> None:
        """Stop all workers (bot shutdown); pending content is dropped."""
        workers = [c.worker for c in self._channels.values() if c.worker is not None]
        for channel in self._channels.values():
            for handle in channel.handles:
                handle.close()
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
            self.stats[channel_id] = channel.stats
        return channel

    def _wake(self, channel_id: int) -> None:
        channel = self._channel(channel_id)
        if channel.sleeper is not None:
            channel.sleeper.cancel()
        if channel.worker is None or channel.worker.done():
            channel.worker = asyncio.get_running_loop().create_task(
                self._run(channel_id, channel), name=f"edit-scheduler-{channel_id}"
            )

    def _flush_delay(self, handle: LiveEdit) -> float:
        """How long flush() sleeps before checking again: until the handle's own earliest send, or
        briefly when it is due now (the worker is sending, or serving a longer-waiting message)."""
        channel = self._channel(handle.channel_id)
        return max(self._next_send_at(channel, handle) - self.clock(), _FLUSH_POLL)

    def _next_send_at(self, channel: _Channel, handle: LiveEdit) -> float:
        if handle._last_sent_at is None:
            return channel.blocked_until
        return max(channel.blocked_until, handle._last_sent_at + self.per_message_interval)

    async def _run(self, channel_id: int, channel: _Channel) -> None:
        try:
            while True:
                channel.handles = [h for h in channel.handles if not h.closed]
                pending = [h for h in channel.handles if h.pending]
                if not pending:
                    return
                now = self.clock()
                while channel.sent_at and channel.sent_at[0] <= now - self.channel_window:
                    channel.sent_at.popleft()
                window_at = (
                    channel.sent_at[0] + self.channel_window
                    if len(channel.sent_at) >= self.channel_max_edits
                    else now
                )
                ready = [h for h in pending if self._next_send_at(channel, h) <= now]
                if ready and window_at <= now:
                    # Messages not yet on screen first (a member waiting for any text at all beats
                    # one watching text grow), then the longest-waiting, then registration order.
                    handle = min(ready, key=lambda h: (h._sent_content is not None, h._waiting_since, h._seq))
                    await self._send_one(channel_id, channel, handle, now)
                    continue
                wait_until = max(window_at, min(self._next_send_at(channel, h) for h in pending))
                await self._wait(channel, wait_until - now)
        finally:
            if self._channels.get(channel_id) is channel and not channel.handles:
                del self._channels[channel_id]

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

    async def _send_one(self, channel_id: int, channel: _Channel, handle: LiveEdit, now: float) -> None:
        content = handle._latest
        version = handle._version
        assert content is not None
        # Count the attempt before it runs: a send that fails still used the channel's budget.
        channel.sent_at.append(now)
        handle._last_sent_at = now
        try:
            await handle._send(content)
        except Exception as exc:
            if _is_rate_limit(exc):
                delay = retry_after_of(exc)
                channel.stats.rate_limited += 1
                channel.blocked_until = max(channel.blocked_until, self.clock() + delay)
                log.warning("edit in channel %s rate limited; retrying in %.2fs", channel_id, delay)
                return
            channel.stats.failures += 1
            log.warning("edit in channel %s failed: %r", channel_id, exc)
            handle._error = exc
            handle._closed = True
            return
        channel.stats.sends += 1
        handle.sends += 1
        handle._sent_version = version
        handle._sent_content = content
        if handle.pending:
            # Newer content arrived during the send; it has waited since now.
            handle._waiting_since = now
