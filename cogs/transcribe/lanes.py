"""Per-server lanes: at most `limit` transcriptions run at once in one server, the rest wait in a
queue in arrival order; each server has its own workers, so one busy server cannot hold up others.

Queued work is data, not a parked task: a burst of 50 voice messages costs two running tasks."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[None]]


class ServerLanes:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._queues: dict[int, deque[Work]] = {}
        self._workers: dict[int, set[asyncio.Task[None]]] = {}

    def submit(self, guild_id: int, work: Work) -> None:
        """Queue `work` for the server; it starts as soon as one of the server's slots is free."""
        self._queues.setdefault(guild_id, deque()).append(work)
        workers = self._workers.setdefault(guild_id, set())
        if len(workers) < self.limit:
            task = asyncio.create_task(self._work(guild_id), name=f"transcribe-lane-{guild_id}")
            workers.add(task)

    def queued(self, guild_id: int) -> int:
        return len(self._queues.get(guild_id, ()))

    async def _work(self, guild_id: int) -> None:
        queue = self._queues[guild_id]
        try:
            while queue:
                work = queue.popleft()
                try:
                    await work()
                except Exception:
                    log.exception("A queued transcription in server %s failed", guild_id)
        finally:
            workers = self._workers[guild_id]
            task = asyncio.current_task()
            if task is not None:
                workers.discard(task)
            if not workers and not queue:
                # Forget idle servers, so the maps do not grow with every server ever seen.
                del self._workers[guild_id]
                del self._queues[guild_id]

    async def close(self, grace: float) -> None:
        """Drop what has not started; give running work `grace` seconds, then cancel it."""
        for queue in self._queues.values():
            queue.clear()
        tasks = {task for workers in self._workers.values() for task in workers}
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
