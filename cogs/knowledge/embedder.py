"""Embedding many passages: batches within the API's limits, a few requests in flight for the whole
bot (concurrent callers share requests), progress.

The vectors come back unit-length float32 (cosine similarity is then a dot product); what the
completed requests used is counted even when a later one fails, so the ledger gets it.
"""

from __future__ import annotations

import asyncio
from asyncio import FIRST_COMPLETED
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bot.openai_api import OpenAIClient
from bot.usage.estimate import estimate_tokens


@dataclass(frozen=True, slots=True)
class EmbeddingLimits:
    """The API's limits per request; tokens are our estimate, kept under the limit with a margin
    because the API's tokenizer counts some texts higher than the estimate."""

    max_inputs: int = 2048
    max_input_tokens: int = 8192
    max_request_tokens: int = 300_000
    margin: float = 0.8


def batches(tokens: list[int], limits: EmbeddingLimits) -> list[range]:
    """Consecutive index ranges of the inputs, each one request within `limits`."""
    budget = int(limits.max_request_tokens * limits.margin)
    out: list[range] = []
    start, total = 0, 0
    for index, count in enumerate(tokens):
        if count > limits.max_input_tokens * limits.margin:
            raise ValueError(f"input {index} has about {count} tokens, more than one input may have")
        if index > start and (index - start >= limits.max_inputs or total + count > budget):
            out.append(range(start, index))
            start, total = index, 0
        total += count
    if start < len(tokens):
        out.append(range(start, len(tokens)))
    return out


def asks_dimensions(model: str) -> bool:
    """Only text-embedding-3-* models take a `dimensions` parameter."""
    return model.startswith("text-embedding-3")


@dataclass(slots=True)
class Spent:
    """Tokens the completed requests used, as the API reported them (estimated when it did not)."""

    tokens: int = 0
    estimated: bool = False


Key = tuple[str, int | None]


class _Request:
    """Inputs of one or more callers, sent together once a request slot is free; while it waits,
    later callers' inputs join it as long as it stays within the API's limits."""

    def __init__(self, key: Key) -> None:
        self.key = key
        self.texts: list[str] = []
        self.tokens = 0
        self.waiters = 0
        #: the (inputs, dims) float32 rows as sent, and the tokens the API reported (None: not told)
        self.done: asyncio.Future[tuple[np.ndarray, int | None]] = asyncio.get_running_loop().create_future()
        self.task: asyncio.Task[None] | None = None
        #: everyone left before it was answered: it is being cancelled, nobody may join it
        self.abandoned = False

    def fits(self, inputs: int, tokens: int, limits: EmbeddingLimits) -> bool:
        budget = int(limits.max_request_tokens * limits.margin)
        within = len(self.texts) + inputs <= limits.max_inputs and self.tokens + tokens <= budget
        return within and not self.abandoned

    def leave(self) -> None:
        """A caller stopped waiting (cancelled, or another of its requests failed); a request nobody
        waits for is not sent, or is aborted."""
        self.waiters -= 1
        if self.waiters == 0 and not self.done.done() and self.task is not None:
            self.abandoned = True
            self.task.cancel()


@dataclass(frozen=True, slots=True)
class _Share:
    """One caller's consecutive inputs in a request."""

    request: _Request
    offset: int
    count: int
    tokens: int


class Embedder:
    """Embeds passages for every ingestion and re-index of the bot, `concurrency` requests at a time.

    Callers arriving while every slot is busy share requests: ten documents added at once make a few
    requests of many inputs instead of ten small ones, which costs both sides far less per passage.
    Queries skip the queue (`pooled=False`) so /ask never waits behind an ingestion.
    """

    def __init__(
        self, api: OpenAIClient, *, limits: EmbeddingLimits | None = None, concurrency: int = 4
    ) -> None:
        self._api = api
        self.limits = limits or EmbeddingLimits()
        self.concurrency = concurrency
        self._open: dict[Key, _Request] = {}

    @property
    def concurrency(self) -> int:
        return self._concurrency

    @concurrency.setter
    def concurrency(self, value: int) -> None:
        """Requests in flight at once (set while no request runs)."""
        self._concurrency = value
        self._slots = asyncio.Semaphore(value)

    async def embed(
        self,
        texts: list[str],
        model: str,
        dimensions: int,
        spent: Spent,
        on_progress: Callable[[int], None] | None = None,
        *,
        pooled: bool = True,
    ) -> np.ndarray:
        """An (len(texts), dims) float32 matrix of unit rows; raises the first failed request's error.
        `on_progress(done)` is told how many inputs are embedded; `spent` gets this caller's share of
        the tokens of the requests it took part in."""
        if any(not t.strip() for t in texts):
            raise ValueError("empty inputs cannot be embedded")
        estimates = [estimate_tokens(t) for t in texts]
        parts = batches(estimates, self.limits)
        if not parts:
            return np.zeros((0, dimensions), dtype=np.float32)
        key: Key = (model, dimensions if asks_dimensions(model) else None)
        shares = [
            self._join(key, [texts[i] for i in part], sum(estimates[i] for i in part), pooled)
            for part in parts
        ]
        rows: dict[int, np.ndarray] = {}
        waiting = set(range(len(shares)))
        done = 0
        try:
            while waiting:
                await asyncio.wait({shares[i].request.done for i in waiting}, return_when=FIRST_COMPLETED)
                for i in sorted(i for i in waiting if shares[i].request.done.done()):
                    share = shares[i]
                    matrix, used = share.request.done.result()
                    waiting.discard(i)
                    share.request.waiters -= 1
                    rows[i] = matrix[share.offset : share.offset + share.count]
                    if used is None:
                        spent.tokens += share.tokens
                        spent.estimated = True
                    elif share.tokens == share.request.tokens:
                        spent.tokens += used
                    else:
                        spent.tokens += round(used * share.tokens / share.request.tokens)
                    done += share.count
                    if on_progress is not None:
                        on_progress(done)
        finally:
            for i in waiting:
                shares[i].request.leave()
        return normalized(np.concatenate([rows[i] for i in range(len(shares))]))

    def _join(self, key: Key, texts: list[str], tokens: int, pooled: bool) -> _Share:
        request = self._open.get(key) if pooled else None
        if request is None or not request.fits(len(texts), tokens, self.limits):
            request = _Request(key)
            if pooled:
                self._open[key] = request
            request.task = asyncio.create_task(self._send(request, pooled))
        share = _Share(request, len(request.texts), len(texts), tokens)
        request.texts += texts
        request.tokens += tokens
        request.waiters += 1
        return share

    async def _send(self, request: _Request, pooled: bool) -> None:
        model, dimensions = request.key
        try:
            if pooled:
                await self._slots.acquire()
            try:
                if self._open.get(request.key) is request:
                    del self._open[request.key]  # no more joiners once it is on its way
                response = await self._api.embeddings.create(
                    input=request.texts, model=model, dimensions=dimensions, encoding_format="base64"
                )
            finally:
                if pooled:
                    self._slots.release()
            ordered = sorted(response.data, key=lambda e: e.index)
            if len(ordered) != len(request.texts):
                raise ValueError(f"asked for {len(request.texts)} embeddings, got {len(ordered)}")
            packed = b"".join(e.packed() for e in ordered)
            matrix = np.frombuffer(packed, dtype="<f4").reshape(len(ordered), -1)
            used = response.usage.prompt_tokens if response.usage is not None else None
            request.done.set_result((matrix, used))
        except asyncio.CancelledError:
            if self._open.get(request.key) is request:
                del self._open[request.key]
            request.done.cancel()
            raise
        except Exception as exc:
            request.done.set_exception(exc)
            request.done.exception()  # retrieved: the waiters re-raise it, and nobody else needs it


def normalized(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)
