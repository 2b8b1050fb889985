"""InvalidRequestCounter: counts Discord's "invalid requests" (401, 403, 429) in a sliding 10 minutes.
Discord blocks the bot's IP at 10,000; we log a warning long before, once per crossing."""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

WINDOW_SECONDS = 600.0
# Discord blocks the IP at 10,000 in 10 minutes. 1,000 is a bug worth a look (a feature retrying
# into a wall); 5,000 leaves minutes, not hours, before the block.
WARN_AT = 1_000
ALARM_AT = 5_000
INVALID_STATUSES = frozenset({401, 403, 429})


def counts_as_invalid(status: int, headers: Any) -> bool:
    """Discord's rule: 401, 403 and 429, except 429s of a shared per-resource limit."""
    if status not in INVALID_STATUSES:
        return False
    return not (status == 429 and headers.get("X-RateLimit-Scope") == "shared")


class InvalidRequestCounter:
    """Fed by an aiohttp trace on discord.py's own session, so it sees every response: 429s that
    discord.py retries by itself and interaction responses included."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock: Callable[[], float] = clock if clock is not None else lambda: time.monotonic()
        self._seen: collections.deque[tuple[float, int]] = collections.deque()
        self._reported: set[int] = set()  # thresholds already logged for the current crossing
        self.trace_config = aiohttp.TraceConfig()
        self.trace_config.on_request_end.append(self._on_request_end)

    @property
    def count(self) -> int:
        """Invalid responses in the last ten minutes."""
        self._expire()
        return len(self._seen)

    def record(self, status: int) -> None:
        self._seen.append((self._clock(), status))
        self._check()

    async def _on_request_end(
        self, _session: aiohttp.ClientSession, _ctx: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        # Only the API counts; CDN downloads (attachments) share the session.
        if "/api/" in params.url.path and counts_as_invalid(params.response.status, params.response.headers):
            self.record(params.response.status)

    def _expire(self) -> None:
        horizon = self._clock() - WINDOW_SECONDS
        while self._seen and self._seen[0][0] <= horizon:
            self._seen.popleft()

    def _check(self) -> None:
        count = self.count
        # A threshold is re-armed only once the count is well below it, so a count hovering at the
        # line does not log on every request.
        for threshold in (WARN_AT, ALARM_AT):
            if count < threshold // 2:
                self._reported.discard(threshold)
        if count >= ALARM_AT and ALARM_AT not in self._reported:
            self._reported.update((WARN_AT, ALARM_AT))
            log.error(
                "%d invalid Discord requests (401/403/429) in 10 minutes (%s); Discord blocks the "
                "bot's IP at 10,000: find the feature retrying into errors now",
                count,
                self._by_status(),
            )
        elif count >= WARN_AT and WARN_AT not in self._reported:
            self._reported.add(WARN_AT)
            log.warning(
                "%d invalid Discord requests (401/403/429) in 10 minutes (%s); Discord blocks the "
                "bot's IP at 10,000",
                count,
                self._by_status(),
            )

    def _by_status(self) -> str:
        counts = collections.Counter(status for _, status in self._seen)
        return ", ".join(f"{status}: {n}" for status, n in sorted(counts.items()))
