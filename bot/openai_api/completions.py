"""POST /completions, plain and streamed: request/response models and the CompletionStream.
The stream keeps the accumulated text, finish reason and final usage for the caller."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import Field

from bot.openai_api._base import APIModel, RequestModel, Usage
from bot.openai_api.stream import JSONEventStream
from bot.openai_api.transport import Transport

log = logging.getLogger(__name__)

Prompt = str | list[str] | list[int] | list[list[int]]


class CompletionRequest(RequestModel):
    model: str
    prompt: Prompt
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = None
    stop: str | list[str] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    user: str | None = None
    stream: bool | None = None
    stream_options: dict[str, Any] | None = None


class CompletionChoice(APIModel):
    text: str = ""
    index: int = 0
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class Completion(APIModel):
    id: str = ""
    object: str = "text_completion"
    created: int = 0
    model: str = ""
    choices: list[CompletionChoice] = Field(default_factory=list)
    usage: Usage | None = None
    system_fingerprint: str | None = None

    @property
    def text(self) -> str:
        """Text of the first choice ("" when there is none)."""
        return self.choices[0].text if self.choices else ""


class CompletionChunk(Completion):
    """One streamed event: `finish_reason` is None until the last content chunk; with include_usage the
    final chunk has no choices and carries `usage`."""


class CompletionStream(JSONEventStream[CompletionChunk]):
    """Async iterator of CompletionChunk. `text` and `finish_reason` follow choice 0 and stay readable
    after an error, so a caller can keep partial output; `usage` is set once the server reports it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parts: list[str] = []
        self.finish_reason: str | None = None
        self.usage: Usage | None = None

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def usage_reported(self) -> bool:
        return self.usage is not None

    def _on_chunk(self, chunk: CompletionChunk) -> None:
        for choice in chunk.choices:
            if choice.index == 0:
                if choice.text:
                    self._parts.append(choice.text)
                if choice.finish_reason is not None:
                    self.finish_reason = choice.finish_reason
        if chunk.usage is not None:
            self.usage = chunk.usage

    def _on_done(self) -> None:
        if self.usage is None:
            # Some OpenAI-compatible servers ignore include_usage; the caller then estimates.
            log.info("stream %s finished without a usage report", self._path)

    def _ended_cleanly(self) -> bool:
        # A compatible server may omit [DONE]; a finish_reason means the text is complete anyway.
        if self.finish_reason is not None:
            self._on_done()
            return True
        return False


class Completions:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def create(
        self,
        *,
        model: str,
        prompt: Prompt,
        max_tokens: int | None = None,
        temperature: float | None = None,
        request_timeout: float | None = None,
        **extra: Any,
    ) -> Completion:
        body = CompletionRequest(
            model=model, prompt=prompt, max_tokens=max_tokens, temperature=temperature, **extra
        ).to_json()
        raw = await self._t.post_json("/completions", body, request_timeout=request_timeout)
        return self._t.parse(Completion, raw)

    async def stream(
        self,
        *,
        model: str,
        prompt: Prompt,
        max_tokens: int | None = None,
        temperature: float | None = None,
        request_timeout: float | None = None,
        **extra: Any,
    ) -> CompletionStream:
        """Open a streamed completion; retries apply until the response starts, never after."""
        options = dict(extra.pop("stream_options", None) or {})
        options.setdefault("include_usage", True)
        extra.pop("stream", None)
        body = CompletionRequest(
            model=model,
            prompt=prompt,
            max_tokens=max_tokens,
            temperature=temperature,
            stream=True,
            stream_options=options,
            **extra,
        ).to_json()
        response, meta = await self._t.open_stream("/completions", body, request_timeout=request_timeout)
        return CompletionStream(response, meta, CompletionChunk, self._t.secret_to_scrub)
