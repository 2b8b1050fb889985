"""Async iterator of typed chunks over an open server-sent-events response.
Owns reading the body, stopping at [DONE], raising in-stream errors and closing the connection."""

from __future__ import annotations

import json
import logging
from collections import deque
from types import TracebackType
from typing import Generic, Self, TypeVar

import aiohttp
from pydantic import ValidationError

from bot.openai_api._base import APIModel, ResponseMeta
from bot.openai_api.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    error_from_payload,
)
from bot.openai_api.sse import SSEDecoder, SSEEvent

log = logging.getLogger(__name__)

T = TypeVar("T", bound=APIModel)


class JSONEventStream(Generic[T]):
    """Yields one `chunk_type` per `data:` event. Use `async with` (or `aclose()`) so that stopping early
    closes the connection instead of leaving it half-read."""

    def __init__(
        self, response: aiohttp.ClientResponse, meta: ResponseMeta, chunk_type: type[T], redact: str
    ) -> None:
        self._response = response
        self._meta = meta
        self._chunk_type = chunk_type
        self._redact = redact
        self._decoder = SSEDecoder()
        self._pending: deque[SSEEvent] = deque()
        self._finished = False  # [DONE] seen, end of body reached, error raised or closed
        self._path = response.url.path

    @property
    def meta(self) -> ResponseMeta:
        return self._meta

    @property
    def closed(self) -> bool:
        return self._finished

    def __aiter__(self) -> Self:
        return self

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop reading; an unfinished body means the connection cannot be reused, so it is closed."""
        if not self._finished:
            self._finished = True
            self._response.close()
            log.debug("stream %s closed by the consumer", self._path)

    def _finish(self) -> None:
        self._finished = True
        # release() keeps the connection for reuse when the body is complete, closes it otherwise.
        self._response.release()

    def _fail(self) -> None:
        self._finished = True
        self._response.close()

    async def __anext__(self) -> T:
        while True:
            if self._pending:
                chunk = self._handle(self._pending.popleft())
                if chunk is not None:
                    return chunk
                continue
            if self._finished:
                raise StopAsyncIteration
            try:
                data = await self._response.content.readany()
            except (aiohttp.ClientError, OSError) as exc:
                self._fail()
                if isinstance(exc, TimeoutError):
                    raise APITimeoutError(
                        f"stream {self._path} timed out waiting for data", request_id=self._meta.request_id
                    ) from None
                raise APIConnectionError(
                    f"stream {self._path} broke: {type(exc).__name__}", request_id=self._meta.request_id
                ) from None
            if data:
                self._pending.extend(self._decoder.feed(data))
                continue
            self._pending.extend(self._decoder.flush())
            if self._pending:
                continue
            self._finish()
            if not self._ended_cleanly():
                raise APIConnectionError(
                    f"stream {self._path} ended before [DONE]", request_id=self._meta.request_id
                )
            raise StopAsyncIteration

    def _handle(self, event: SSEEvent) -> T | None:
        if self._finished:
            return None
        data = event.data
        if data == "[DONE]":
            self._finish()
            self._on_done()
            return None
        if event.event == "error" or '"error"' in data:
            self._check_error(data, event.event == "error")
        try:
            chunk = self._chunk_type.model_validate_json(data)
        except ValidationError as exc:
            self._fail()
            raise APIResponseValidationError(
                f"stream {self._path} sent an unreadable chunk ({exc.error_count()} error(s))",
                request_id=self._meta.request_id,
            ) from None
        self._on_chunk(chunk)
        return chunk

    def _check_error(self, data: str, is_error_event: bool) -> None:
        # A cheap substring test found "error"; only a top-level `error` key makes it an error event.
        try:
            payload = json.loads(data)
        except ValueError:
            payload = None
        if not is_error_event and not (isinstance(payload, dict) and payload.get("error") is not None):
            return
        self._fail()
        raise error_from_payload(
            None,
            payload,
            request_id=self._meta.request_id,
            fallback_message=f"stream {self._path} reported an error",
            redact=self._redact,
        )

    # Hooks for typed streams.

    def _on_chunk(self, chunk: T) -> None:
        pass

    def _on_done(self) -> None:
        pass

    def _ended_cleanly(self) -> bool:
        """Called when the body ends without [DONE]; True accepts that as a normal end."""
        return False
