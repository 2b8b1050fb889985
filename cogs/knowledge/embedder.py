"""Embedding many passages: batches within the API's limits, a few requests in flight, progress.

The vectors come back unit-length float32 (cosine similarity is then a dot product); what the
completed requests used is counted even when a later one fails, so the ledger gets it.
"""

from __future__ import annotations

import asyncio
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


class Embedder:
    def __init__(
        self, api: OpenAIClient, *, limits: EmbeddingLimits | None = None, concurrency: int = 4
    ) -> None:
        self._api = api
        self.limits = limits or EmbeddingLimits()
        self.concurrency = concurrency

    async def embed(
        self,
        texts: list[str],
        model: str,
        dimensions: int,
        spent: Spent,
        on_progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """An (len(texts), dims) float32 matrix of unit rows; raises the first failed request's error
        (the others are cancelled). `on_progress(done)` is told how many inputs are embedded."""
        if any(not t.strip() for t in texts):
            raise ValueError("empty inputs cannot be embedded")
        estimates = [estimate_tokens(t) for t in texts]
        parts = batches(estimates, self.limits)
        results: dict[int, np.ndarray] = {}
        done = 0
        gate = asyncio.Semaphore(self.concurrency)

        async def run(index: int, part: range) -> None:
            nonlocal done
            async with gate:
                response = await self._api.embeddings.create(
                    input=[texts[i] for i in part],
                    model=model,
                    dimensions=dimensions if asks_dimensions(model) else None,
                    encoding_format="base64",
                )
            ordered = sorted(response.data, key=lambda e: e.index)
            if len(ordered) != len(part):
                raise ValueError(f"asked for {len(part)} embeddings, got {len(ordered)}")
            packed = b"".join(e.packed() for e in ordered)
            results[index] = np.frombuffer(packed, dtype="<f4").reshape(len(ordered), -1)
            if response.usage is not None:
                spent.tokens += response.usage.prompt_tokens
            else:
                spent.tokens += sum(estimates[i] for i in part)
                spent.estimated = True
            done += len(part)
            if on_progress is not None:
                on_progress(done)

        tasks = [asyncio.create_task(run(i, p)) for i, p in enumerate(parts)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
        if not parts:
            return np.zeros((0, dimensions), dtype=np.float32)
        matrix = np.concatenate([results[i] for i in range(len(parts))])
        return normalized(matrix)


def normalized(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)
