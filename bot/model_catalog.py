"""The models the API offers (`GET /models`), refreshed in the background, with per-feature filters.

Models are retired often, so this list, not a hard-coded one, decides what members may pick.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Literal

from bot.openai_api import OpenAIClient, OpenAIError

log = logging.getLogger(__name__)

# On OpenAI itself only these families still serve the legacy /completions endpoint.
_OPENAI_COMPLETION = re.compile(r"(instruct|^davinci-002|^babbage-002)")
# Families that never do completions, whatever the server (compatible servers list them too).
_NOT_COMPLETION = re.compile(
    r"(embed|whisper|tts|dall-e|image|moderation|transcribe|realtime|audio|search|similarity|sora)",
    re.IGNORECASE,
)

REFRESH_EVERY = 600.0
# Commands and autocomplete never wait for this request, but a stuck listing should not hold a
# connection for minutes either: a short timeout and no retries, the next refresh is the retry.
LISTING_TIMEOUT = 3.0
FAILURE_BACKOFF_INITIAL = 15.0


Endpoint = Literal["chat_completions", "completions"]


def is_completion_model(model_id: str, *, openai_hosted: bool) -> bool:
    if _NOT_COMPLETION.search(model_id):
        return False
    # A compatible server (Ollama, vLLM, LocalAI) serves /completions for its text models.
    return bool(_OPENAI_COMPLETION.search(model_id)) if openai_hosted else True


class ModelCatalog:
    """The last good `GET /models` listing, refreshed by one background task.

    Reads are synchronous and never touch the network, so commands and autocomplete can use them
    before acknowledging. A failed refresh keeps the previous list and is retried after a backoff
    that doubles from `failure_backoff` up to `refresh_every`.
    """

    def __init__(
        self,
        api: OpenAIClient,
        *,
        openai_hosted: bool,
        refresh_every: float = REFRESH_EVERY,
        request_timeout: float = LISTING_TIMEOUT,
        failure_backoff: float = FAILURE_BACKOFF_INITIAL,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._api = api
        self.openai_hosted = openai_hosted
        self._refresh_every = refresh_every
        self._request_timeout = request_timeout
        self._failure_backoff = failure_backoff
        self._sleep = sleep
        self._ids: list[str] | None = None
        #: Endpoints learnt from servers that refused a model on the other one (model -> endpoint).
        self._endpoints: dict[str, Endpoint] = {}
        self._failures = 0
        self._task: asyncio.Task[None] | None = None

    def ids(self) -> list[str] | None:
        """Every model id, sorted; None until a listing succeeded (then nothing is filtered)."""
        return self._ids

    def completion_models(self) -> list[str] | None:
        ids = self._ids
        if ids is None:
            return None
        return [m for m in ids if is_completion_model(m, openai_hosted=self.openai_hosted)]

    def text_models(self) -> list[str] | None:
        """Models that write text on either endpoint (completions or chat); None before a listing."""
        ids = self._ids
        if ids is None:
            return None
        return [m for m in ids if not _NOT_COMPLETION.search(m)]

    def endpoint_for(self, model_id: str) -> Endpoint:
        """Where a text model is served: what a server taught us, else completions for completion
        models and chat completions for everything else."""
        learnt = self._endpoints.get(model_id)
        if learnt is not None:
            return learnt
        if is_completion_model(model_id, openai_hosted=self.openai_hosted):
            return "completions"
        return "chat_completions"

    def remember_endpoint(self, model_id: str, endpoint: Endpoint) -> None:
        """A server refused the model on the other endpoint and served it on this one."""
        if self._endpoints.get(model_id) != endpoint:
            log.info("Model %s is served by the %s endpoint; using it from now on", model_id, endpoint)
        self._endpoints[model_id] = endpoint

    async def refresh(self) -> bool:
        """One listing attempt; True when the cached list was replaced."""
        try:
            listing = await self._api.models.list(request_timeout=self._request_timeout, max_retries=0)
        except OpenAIError as exc:
            self._failures += 1
            log.warning(
                "Could not list models (%s); %s",
                type(exc).__name__,
                "keeping the previous list" if self._ids is not None else "model choices are not checked",
            )
            return False
        self._ids = sorted(model.id for model in listing.data)
        self._failures = 0
        return True

    def next_delay(self) -> float:
        """Seconds until the next refresh: the period after a success, a doubling backoff after failures."""
        if self._failures == 0:
            return self._refresh_every
        return min(self._failure_backoff * 2.0 ** (self._failures - 1), self._refresh_every)

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._refresh_forever(), name="model-catalog-refresh")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        # wait() rather than await: a cancellation of the caller itself must not be swallowed here.
        await asyncio.wait({task})

    async def _refresh_forever(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # the loop must outlive a bug in one refresh, or the list goes stale forever
                self._failures += 1
                log.exception("Unexpected error while listing models")
            await self._sleep(self.next_delay())
