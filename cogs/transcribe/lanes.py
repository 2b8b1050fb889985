"""Per-server lanes: at most `limit` transcriptions run at once in one server, the rest wait in
arrival order; servers do not share a lane, so one busy server cannot hold up the others."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class ServerLanes:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lanes: dict[int, asyncio.Semaphore] = {}
        self._users: dict[int, int] = {}

    @asynccontextmanager
    async def slot(self, guild_id: int) -> AsyncIterator[None]:
        """Hold one of the server's slots; waiters are served first come, first served."""
        lane = self._lanes.setdefault(guild_id, asyncio.Semaphore(self.limit))
        self._users[guild_id] = self._users.get(guild_id, 0) + 1
        try:
            async with lane:
                yield
        finally:
            self._users[guild_id] -= 1
            if not self._users[guild_id]:
                # Forget idle servers, so the map does not grow with every server ever seen.
                del self._users[guild_id]
                del self._lanes[guild_id]
