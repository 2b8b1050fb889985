"""Pacing for /moderations: the API's request and token budgets, as its x-ratelimit-* headers tell.
The pipeline asks how long to wait before a request of so many tokens, and how many tokens fit now."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from bot.openai_api import RateLimits, parse_duration

Clock = Callable[[], float]

# After a 429 without any hint, wait this long before trying again (doubling up to BACKOFF_MAX).
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0


def estimate_tokens(text: str) -> int:
    """Input tokens of a text as the API counts them for rate limits (about four characters each)."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


class _Budget:
    """One budget (requests or tokens per minute) as last reported, refilled continuously since."""

    def __init__(self) -> None:
        self.limit: int | None = None
        self.level: float | None = None
        self.reset: float | None = None
        self.stamp = 0.0

    def observe(self, limit: int | None, remaining: int | None, reset: float | None, now: float) -> None:
        if remaining is None:
            return
        self.limit, self.level, self.reset, self.stamp = limit, float(remaining), reset, now

    def available(self, now: float) -> float:
        if self.level is None:
            return math.inf
        elapsed = max(0.0, now - self.stamp)
        if self.limit:
            return min(float(self.limit), self.level + elapsed * self.limit / 60.0)
        # No limit header: all of it is back once the reset time has passed.
        return math.inf if self.reset is not None and elapsed >= self.reset else self.level

    def wait_for(self, amount: float, now: float) -> float:
        have = self.available(now)
        if have >= amount:
            return 0.0
        if self.limit:
            needed = min(amount, float(self.limit)) - have
            return max(0.0, needed * 60.0 / self.limit)
        if self.reset is not None:
            return max(0.0, self.stamp + self.reset - now)
        return BACKOFF_FIRST

    def spend(self, amount: float, now: float) -> None:
        if self.level is not None:
            self.level = self.available(now) - amount
            self.stamp = now


class Pacer:
    """What the API said about its limits, and when the next request may go."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._requests = _Budget()
        self._tokens = _Budget()
        self._blocked_until = 0.0
        self._backoff = BACKOFF_FIRST

    def observe(self, limits: RateLimits) -> None:
        now = self._clock()
        self._requests.observe(limits.limit_requests, limits.remaining_requests, limits.reset_requests, now)
        self._tokens.observe(limits.limit_tokens, limits.remaining_tokens, limits.reset_tokens, now)
        self._backoff = BACKOFF_FIRST

    def spend(self, tokens: int) -> None:
        """A request is going out: take it from the budgets until the response says otherwise."""
        now = self._clock()
        self._requests.spend(1, now)
        self._tokens.spend(tokens, now)

    def wait(self, tokens: int) -> float:
        """Seconds until a request carrying `tokens` may be sent (0: now)."""
        now = self._clock()
        return max(
            self._blocked_until - now,
            self._requests.wait_for(1, now),
            self._tokens.wait_for(tokens, now),
            0.0,
        )

    def token_room(self) -> float:
        """Tokens one request may carry now without going over (inf when no limit is known)."""
        return self._tokens.available(self._clock())

    def refused(self, headers: Mapping[str, str] | None) -> float:
        """A 429: wait as told (Retry-After, else the headers' reset, else back off); returns seconds."""
        wait = _told_wait(headers) if headers else None
        if headers:
            limits = RateLimits.from_headers(headers)
            self.observe(limits)
            if wait is None:
                resets = [r for r in (limits.reset_requests, limits.reset_tokens) if r]
                wait = max(resets) if resets else None
        if wait is None:
            wait = self._backoff
            self._backoff = min(BACKOFF_MAX, self._backoff * 2)
        self._blocked_until = self._clock() + wait
        return wait


def _told_wait(headers: Mapping[str, str]) -> float | None:
    lowered = {key.lower(): value for key, value in headers.items()}
    if (ms := lowered.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    return parse_duration(lowered.get("retry-after"))
