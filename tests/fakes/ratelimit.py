"""Rate limits of the fake OpenAI server: token buckets for requests and tokens per minute.

Owns the numbers behind the `x-ratelimit-*` headers and the 429 decision, formatted like the real API.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# Generous defaults so headers look real even when a test sets no limits (tier-5-like numbers).
DEFAULT_RPM = 10_000
DEFAULT_TPM = 2_000_000


def format_reset(seconds: float) -> str:
    """Format a duration the way the API does (Go's time.Duration): `12ms`, `1s`, `1.5s`, `6m0s`."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    total = round(seconds, 3)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    sec_text = f"{secs:.3f}".rstrip("0").rstrip(".")
    if hours:
        return f"{int(hours)}h{int(minutes)}m{sec_text}s"
    if minutes:
        return f"{int(minutes)}m{sec_text}s"
    return f"{sec_text}s"


class _Bucket:
    """Continuously refilled bucket: `limit` per minute, full when idle for a minute."""

    def __init__(self, limit: int, clock: Callable[[], float]) -> None:
        self.limit = limit
        self._clock = clock
        self._level = float(limit)
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(float(self.limit), self._level + (now - self._stamp) * self.limit / 60.0)
        self._stamp = now

    def available(self) -> float:
        self._refill()
        return self._level

    def take(self, amount: float) -> None:
        self._refill()
        self._level -= amount

    def wait_for(self, amount: float) -> float:
        """Seconds until `amount` is available."""
        self._refill()
        missing = min(amount, float(self.limit)) - self._level
        return max(0.0, missing * 60.0 / self.limit)

    def reset_in(self) -> float:
        """Seconds until the bucket is full again (what `x-ratelimit-reset-*` reports)."""
        self._refill()
        return max(0.0, (self.limit - self._level) * 60.0 / self.limit)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    headers: dict[str, str]
    kind: str = ""  # "requests" or "tokens" when refused
    retry_after: float = 0.0
    used: int = 0
    requested: int = 0
    limit: int = 0


class RateLimiter:
    """Both buckets behind one lock; `enforce` decides whether a request over the limit gets a 429."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.configure(None, None)

    def configure(self, requests_per_minute: int | None, tokens_per_minute: int | None) -> None:
        with self._lock:
            self.enforce = requests_per_minute is not None or tokens_per_minute is not None
            self._enforce_requests = requests_per_minute is not None
            self._enforce_tokens = tokens_per_minute is not None
            self._requests = _Bucket(requests_per_minute or DEFAULT_RPM, self._clock)
            self._tokens = _Bucket(tokens_per_minute or DEFAULT_TPM, self._clock)

    def _headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit-requests": str(self._requests.limit),
            "x-ratelimit-limit-tokens": str(self._tokens.limit),
            "x-ratelimit-remaining-requests": str(max(0, math.floor(self._requests.available()))),
            "x-ratelimit-remaining-tokens": str(max(0, math.floor(self._tokens.available()))),
            "x-ratelimit-reset-requests": format_reset(self._requests.reset_in()),
            "x-ratelimit-reset-tokens": format_reset(self._tokens.reset_in()),
        }

    def admit(self, tokens: int) -> Decision:
        """Charge one request and `tokens` tokens, or refuse without charging when a limit is hit."""
        with self._lock:
            if self._enforce_requests and self._requests.available() < 1:
                wait = self._requests.wait_for(1)
                return Decision(
                    False, self._headers(), "requests", wait, self._requests.limit, 1, self._requests.limit
                )
            if self._enforce_tokens and tokens > 0 and self._tokens.available() < tokens:
                wait = self._tokens.wait_for(tokens)
                used = self._tokens.limit - max(0, math.floor(self._tokens.available()))
                return Decision(False, self._headers(), "tokens", wait, used, tokens, self._tokens.limit)
            self._requests.take(1)
            self._tokens.take(tokens)
            return Decision(True, self._headers())

    def headers(self) -> dict[str, str]:
        with self._lock:
            return self._headers()
