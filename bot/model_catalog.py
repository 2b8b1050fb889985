"""The models the API offers (`GET /models`), cached for a few minutes, with per-feature filters.

Models are retired often, so this list, not a hard-coded one, decides what members may pick.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable

from bot.openai_api import OpenAIClient, OpenAIError

log = logging.getLogger(__name__)

# On OpenAI itself only these families still serve the legacy /completions endpoint.
_OPENAI_COMPLETION = re.compile(r"(instruct|^davinci-002|^babbage-002)")
# Families that never do completions, whatever the server (compatible servers list them too).
_NOT_COMPLETION = re.compile(
    r"(embed|whisper|tts|dall-e|image|moderation|transcribe|realtime|audio|search|similarity|sora)",
    re.IGNORECASE,
)


def is_completion_model(model_id: str, *, openai_hosted: bool) -> bool:
    if _NOT_COMPLETION.search(model_id):
        return False
    # A compatible server (Ollama, vLLM, LocalAI) serves /completions for its text models.
    return bool(_OPENAI_COMPLETION.search(model_id)) if openai_hosted else True


class ModelCatalog:
    """`GET /models` cached for `ttl` seconds; concurrent callers share one request."""

    def __init__(
        self,
        api: OpenAIClient,
        *,
        openai_hosted: bool,
        ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self._ttl = ttl
        self._clock = clock
        self.openai_hosted = openai_hosted
        self._ids: list[str] | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def ids(self) -> list[str] | None:
        """Every model id, sorted; None when the server cannot list models (then nothing is filtered)."""
        async with self._lock:
            if self._ids is not None and self._clock() - self._fetched_at < self._ttl:
                return self._ids
            try:
                listing = await self._api.models.list()
            except OpenAIError as exc:
                log.warning("Could not list models (%s); model choices are not checked", type(exc).__name__)
                return self._ids  # a stale list beats none
            self._ids = sorted(model.id for model in listing.data)
            self._fetched_at = self._clock()
            return self._ids

    async def completion_models(self) -> list[str] | None:
        ids = await self.ids()
        if ids is None:
            return None
        return [m for m in ids if is_completion_model(m, openai_hosted=self.openai_hosted)]
