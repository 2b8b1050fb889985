"""Per-member cooldowns of a feature's commands, kept in memory on the monotonic clock.
One instance per feature; a refused request gives the member their turn back."""

from __future__ import annotations

import time


class Cooldowns:
    """Per guild and member: when they may start their next request."""

    def __init__(self) -> None:
        self._next: dict[tuple[int, int], float] = {}

    def remaining(self, guild_id: int, user_id: int) -> float:
        return max(0.0, self._next.get((guild_id, user_id), 0.0) - time.monotonic())

    def start(self, guild_id: int, user_id: int, seconds: float) -> None:
        now = time.monotonic()
        self._next[(guild_id, user_id)] = now + seconds
        # Forget expired entries now and then so the dict does not grow with every member ever seen.
        if len(self._next) > 10_000:
            self._next = {key: when for key, when in self._next.items() if when > now}

    def cancel(self, guild_id: int, user_id: int) -> None:
        """A refused request (nothing was spent) does not cost the member their turn."""
        self._next.pop((guild_id, user_id), None)


__all__ = ["Cooldowns"]
