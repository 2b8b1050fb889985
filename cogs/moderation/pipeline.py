"""The moderation queue: messages in, micro-batched /moderations calls out, each message accounted for.
Fair across servers, paced to the API's limits, bounded; past its deadline a message is unchecked."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.openai_api import (
    BadRequestError,
    ModerationResponse,
    OpenAIError,
    QuotaExceededError,
    RateLimitError,
    image_part,
)
from bot.openai_api.errors import is_retryable
from cogs.moderation.pacing import Pacer, estimate_tokens

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[Any]]

BATCH_SIZE = 32
BATCH_WINDOW = 0.25
DEADLINE = 60.0
# Long texts are split at whitespace into parts the model scores well; a message is flagged if any is.
CHUNK_CHARS = 2000
# The queue is bounded per server and in all, so a flood costs memory only up to here.
MAX_QUEUED_PER_GUILD = 5_000
MAX_QUEUED = 50_000
# After a 5xx or a broken connection: the first wait, doubling to the cap.
ERROR_BACKOFF = (0.5, 8.0)
# An idle loop sleeps this long at most (any new message wakes it).
IDLE_SECONDS = 60.0
# Successful batches after which a lowered batch size doubles again.
GROW_AFTER = 50


def split_text(text: str, limit: int = CHUNK_CHARS) -> list[str]:
    """Parts of at most `limit` characters, cut at whitespace when there is some nearby."""
    text = text.strip()
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind(" ", limit // 2, limit)
        cut = limit if cut < 0 else cut
        parts.append(text[:cut])
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts


@dataclass(eq=False, slots=True)
class Job:
    """One message to check; `payload` is whatever the caller needs back with the result."""

    message_id: int
    guild_id: int
    model: str
    texts: list[str]
    images: list[str] = field(default_factory=list)
    payload: Any = None
    queued_at: float = 0.0
    deadline: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)
    outstanding: int = 0
    done: bool = False


@dataclass(eq=False, slots=True)
class _Input:
    job: Job
    text: str | None
    image: str | None
    tokens: int


class Sink(Protocol):
    """Where results go; called from the pipeline's task, so implementations must not block."""

    def queued(self, job: Job) -> None: ...

    def checked(self, job: Job) -> None: ...

    def unchecked(self, job: Job, reason: str) -> None: ...

    def api_call(self, jobs: list[Job], model: str, tokens: dict[int, int], status: int) -> None: ...


class ModerationPipeline:
    """One per bot. `submit` never blocks and never drops a message silently."""

    def __init__(
        self,
        create: Callable[..., Awaitable[ModerationResponse]],
        sink: Sink,
        *,
        batch_size: int = BATCH_SIZE,
        window: float = BATCH_WINDOW,
        deadline: float = DEADLINE,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        max_queued_per_guild: int = MAX_QUEUED_PER_GUILD,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self._create = create
        self._sink = sink
        self.batch_size = batch_size
        self.window = window
        self.deadline = deadline
        self._clock: Clock = clock if clock is not None else lambda: time.monotonic()
        self._sleep: Sleep = sleep if sleep is not None else asyncio.sleep
        self._max_per_guild = max_queued_per_guild
        self._max_queued = max_queued
        self.pacer = Pacer(self._clock)
        self._queues: dict[int, collections.deque[_Input]] = {}
        self._turns: collections.deque[int] = collections.deque()
        self._size = 0
        self._sleeper: asyncio.Future[Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        # Lowered when the API refuses a batch as too large; a refused single input is unchecked.
        self._batch_cap = batch_size
        self._good_batches = 0
        self._error_backoff = ERROR_BACKOFF[0]

    # -- intake ----------------------------------------------------------------------------------

    def submit(self, job: Job) -> None:
        now = self._clock()
        job.queued_at, job.deadline = now, now + self.deadline
        inputs = [_Input(job, text, None, estimate_tokens(text)) for text in job.texts]
        inputs += [_Input(job, None, url, 0) for url in job.images]
        job.outstanding = len(inputs)
        if not inputs:
            job.done = True
            self._sink.checked(job)
            return
        queue = self._queues.get(job.guild_id)
        if (
            self._closed
            or self._size + len(inputs) > self._max_queued
            or (queue is not None and len(queue) + len(inputs) > self._max_per_guild)
        ):
            job.done = True
            self._sink.unchecked(job, "closed" if self._closed else "queue_full")
            return
        if queue is None:
            queue = self._queues[job.guild_id] = collections.deque()
            self._turns.append(job.guild_id)
        queue.extend(inputs)
        self._size += len(inputs)
        self._sink.queued(job)
        if self._sleeper is not None:
            self._sleeper.cancel()  # wake the loop: the batch may be full now
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="moderation-pipeline")

    @property
    def queued(self) -> int:
        """Inputs waiting (a long message counts once per part)."""
        return self._size

    def pending_jobs(self) -> list[Job]:
        seen: dict[int, Job] = {}
        for queue in self._queues.values():
            for item in queue:
                if not item.job.done:
                    seen.setdefault(id(item.job), item.job)
        return list(seen.values())

    async def close(self) -> list[Job]:
        """Stop; every message not checked yet is reported unchecked ("shutdown") and returned."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        left = self.pending_jobs()
        for job in left:
            job.done = True
            self._sink.unchecked(job, "shutdown")
        self._queues.clear()
        self._turns.clear()
        self._size = 0
        return left

    # -- the loop --------------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._closed:
            self._expire()
            if self._size == 0:
                await self._doze(IDLE_SECONDS)
                continue
            now = self._clock()
            oldest = min(q[0].job.queued_at for q in self._queues.values() if q)
            if self._size < self._batch_cap and now < oldest + self.window:
                # Wait for more messages: until the window closes or the batch is full (or a
                # message's deadline passes, should the window be the longer).
                await self._doze(min(oldest + self.window, self._next_deadline()) - now)
                continue
            first = self._peek()
            wait = self.pacer.wait(first.tokens)
            if wait > 0:
                # Until the API has room, or the first deadline (those messages are then unchecked).
                await self._sleep(min(wait, max(0.01, self._next_deadline() - now)))
                continue
            batch = self._take(first)
            try:
                await self._send(batch)
            except Exception:
                # A bug must not stop moderation, nor lose the batch without a trace.
                log.exception("moderation: unexpected error sending a batch; its messages are unchecked")
                for job in {id(item.job): item.job for item in batch if not item.job.done}.values():
                    job.done = True
                    self._sink.unchecked(job, "error")

    async def _doze(self, seconds: float) -> None:
        """Sleep up to `seconds`; a new message cuts it short. A sleep rather than an Event: a test
        harness (simcord) tells a sleeping task from a hung one."""
        sleeper = self._sleeper = asyncio.ensure_future(self._sleep(seconds))
        try:
            await sleeper
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not sleeper.cancelled() or (current is not None and current.cancelling()):
                raise  # the loop itself is being stopped
        finally:
            sleeper.cancel()
            self._sleeper = None

    def _expire(self) -> None:
        now = self._clock()
        for guild_id in list(self._queues):
            queue = self._queues[guild_id]
            while queue and (queue[0].job.done or queue[0].job.deadline <= now):
                item = queue.popleft()
                self._size -= 1
                if not item.job.done:
                    item.job.done = True
                    self._sink.unchecked(item.job, "deadline")
            if not queue:
                del self._queues[guild_id]
                with contextlib.suppress(ValueError):
                    self._turns.remove(guild_id)

    def _next_deadline(self) -> float:
        return min((q[0].job.deadline for q in self._queues.values() if q), default=self._clock() + 1.0)

    def _peek(self) -> _Input:
        return self._queues[self._turns[0]][0]

    def _take(self, first: _Input) -> list[_Input]:
        """Up to a batch of inputs of one model, one server at a time in turn, within the token room.

        An image goes alone: a list of typed parts is one multimodal input to the API.
        """
        room = self.pacer.token_room()
        model = first.job.model
        if first.image is not None:
            self._pop(self._turns[0])
            self._turns.rotate(-1)
            return [first]
        batch: list[_Input] = []
        tokens = 0
        idle_rounds = 0
        while len(batch) < self._batch_cap and self._turns and idle_rounds < len(self._turns):
            guild_id = self._turns[0]
            queue = self._queues[guild_id]
            head = queue[0]
            fits = tokens + head.tokens <= room or not batch
            if head.image is None and head.job.model == model and fits and not head.job.done:
                batch.append(self._pop(guild_id))
                tokens += head.tokens
                idle_rounds = 0
            else:
                idle_rounds += 1
            if guild_id in self._queues:
                self._turns.rotate(-1)
        return batch

    def _pop(self, guild_id: int) -> _Input:
        queue = self._queues[guild_id]
        item = queue.popleft()
        self._size -= 1
        if not queue:
            del self._queues[guild_id]
            self._turns.remove(guild_id)
        return item

    def _requeue(self, batch: list[_Input]) -> None:
        """Put a batch back at the front of its servers' queues, in its original order."""
        for item in reversed(batch):
            if item.job.done:
                continue
            queue = self._queues.get(item.job.guild_id)
            if queue is None:
                queue = self._queues[item.job.guild_id] = collections.deque()
                self._turns.appendleft(item.job.guild_id)
            queue.appendleft(item)
            self._size += 1

    async def _send(self, batch: list[_Input]) -> None:
        model = batch[0].job.model
        tokens = sum(item.tokens for item in batch)
        if batch[0].image is not None:
            request: Any = [image_part(batch[0].image)]
        else:
            request = [item.text for item in batch]
        per_guild: dict[int, int] = {}
        for item in batch:
            per_guild[item.job.guild_id] = per_guild.get(item.job.guild_id, 0) + item.tokens
        jobs = list({id(item.job): item.job for item in batch}.values())
        self.pacer.spend(tokens)
        try:
            response = await self._create(input=request, model=model)
        except RateLimitError as exc:
            self._sink.api_call(jobs, model, per_guild, 429)
            self._requeue(batch)
            if isinstance(exc, QuotaExceededError):
                wait = self.pacer.refused({"retry-after": "60"})
            else:
                wait = self.pacer.refused(exc.response_headers)
            log.info("moderation: 429 for %d inputs; waiting %.2f s, queue kept", len(batch), wait)
            return
        except BadRequestError as exc:
            self._sink.api_call(jobs, model, per_guild, exc.status or 400)
            self._refused(batch, exc)
            return
        except OpenAIError as exc:
            self._sink.api_call(jobs, model, per_guild, exc.status or 0)
            if not is_retryable(exc):
                # A wrong key, a model that does not exist, an answer we cannot read: asking again
                # cannot help, so these messages are unchecked now rather than at their deadline.
                log.warning("moderation: %s; %d messages unchecked", exc, len(jobs))
                for job in jobs:
                    if not job.done:
                        job.done = True
                        self._sink.unchecked(job, "api_error")
                return
            self._requeue(batch)
            log.warning("moderation: %s; retrying in %.1f s", exc, self._error_backoff)
            await self._sleep(self._error_backoff)
            self._error_backoff = min(ERROR_BACKOFF[1], self._error_backoff * 2)
            return
        self._error_backoff = ERROR_BACKOFF[0]
        self._grow_batches()
        self.pacer.observe(response.meta.rate_limits)
        self._sink.api_call(jobs, model, per_guild, 200)
        results = response.results
        if len(results) != len(batch):
            log.warning("moderation: %d results for %d inputs; checking them again", len(results), len(batch))
            self._refused(batch, None)
            return
        for item, result in zip(batch, results, strict=True):
            job = item.job
            if job.done:
                continue
            for category, score in result.category_scores.items():
                if score > job.scores.get(category, 0.0):
                    job.scores[category] = score
            job.outstanding -= 1
            if job.outstanding == 0:
                job.done = True
                self._sink.checked(job)

    def _grow_batches(self) -> None:
        """After a refusal lowered the batch size, grow it back slowly while batches go through: the
        refusal may have been about one input, not the batch size."""
        if self._batch_cap < self.batch_size:
            self._good_batches += 1
            if self._good_batches >= GROW_AFTER:
                self._batch_cap = min(self.batch_size, self._batch_cap * 2)
                self._good_batches = 0

    def _refused(self, batch: list[_Input], exc: OpenAIError | None) -> None:
        """The API refused the batch: halve the batch size and try again; a lone input is unchecked."""
        if len(batch) > 1:
            self._batch_cap = max(1, len(batch) // 2)
            self._good_batches = 0
            log.warning(
                "moderation: batch of %d refused (%s); now at most %d", len(batch), exc, self._batch_cap
            )
            self._requeue(batch)
            return
        job = batch[0].job
        if not job.done:
            job.done = True
            log.warning("moderation: message %d refused by the API: %s", job.message_id, exc)
            self._sink.unchecked(job, "refused")
