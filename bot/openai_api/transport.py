"""HTTP transport of the OpenAI client: session ownership, precomputed headers, timeouts and retries.
Every aiohttp exception is turned into the client's own error tree here and nowhere else."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from pydantic import ValidationError
from yarl import URL

from bot.openai_api._base import APIModel, ResponseMeta
from bot.openai_api.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    OpenAIError,
    error_from_response,
    is_retryable,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
USER_AGENT = "discord-openai-bot/0.1 aiohttp"

BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 8.0

M = TypeVar("M", bound=APIModel)
Sleep = Callable[[float], Awaitable[None]]


def backoff_delay(retries_done: int, rand: Callable[[], float] = random.random) -> float:
    """0.5 s doubling to 8 s, minus up to 25 % jitter so that many clients do not retry in lockstep."""
    base: float = min(BACKOFF_INITIAL * (2.0**retries_done), BACKOFF_MAX)
    return base * (1.0 - 0.25 * rand())


def _retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
        except ValueError:
            pass
        else:
            if value >= 0:
                return value
    ra = headers.get("retry-after")
    if ra is None:
        return None
    try:
        value = float(ra)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(ra)
        except (TypeError, ValueError, IndexError):
            return None
        value = when.timestamp() - time.time()
        return max(value, 0.0)
    return value if value >= 0 else None


def retry_delay(
    headers: Mapping[str, str] | None,
    retries_done: int,
    max_wait: float,
    rand: Callable[[], float] = random.random,
) -> float | None:
    """Seconds to wait before the next try, or None when the server asks for longer than `max_wait`."""
    if headers is not None:
        asked = _retry_after_seconds(headers)
        if asked is not None:
            return asked if asked <= max_wait else None
    return backoff_delay(retries_done, rand)


@dataclass(slots=True)
class RawResponse:
    status: int
    body: bytes
    headers: Mapping[str, str]
    meta: ResponseMeta


class Transport:
    """Sends requests with retries; owns the aiohttp session only when it created it."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        organization: str | None = None,
        project: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        max_retry_wait: float = 60.0,
        session: aiohttp.ClientSession | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self.__api_key = api_key
        self._base = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.max_retry_wait = max_retry_wait
        self.sleep: Sleep = sleep or asyncio.sleep
        self._session = session
        self._owns_session = session is None
        self._closed = False
        self._urls: dict[str, URL] = {}

        common = {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT}
        if organization:
            common["OpenAI-Organization"] = organization
        if project:
            common["OpenAI-Project"] = project
        self._get_headers = {**common, "Accept": "application/json"}
        self._json_headers = {**self._get_headers, "Content-Type": "application/json"}
        self._stream_headers = {**common, "Accept": "text/event-stream", "Content-Type": "application/json"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        # A stream may run for minutes: bound connect and each read, not the whole.
        self._stream_timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)

    def __repr__(self) -> str:
        return f"Transport(base_url={self._base!r}, timeout={self.timeout}, max_retries={self.max_retries})"

    @property
    def base_url(self) -> str:
        return self._base

    @property
    def secret_to_scrub(self) -> str:
        """The API key, which streams must scrub from any error text the server sends back."""
        return self.__api_key

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        self._closed = True
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise APIConnectionError("The OpenAI client is closed")
        session = self._session
        if session is None:
            # Created lazily: aiohttp sessions must be made inside the running event loop.
            session = self._session = aiohttp.ClientSession()
        elif session.closed:
            raise APIConnectionError("The HTTP session used by the OpenAI client is closed")
        return session

    def _url(self, path: str) -> URL:
        url = self._urls.get(path)
        if url is None:
            url = URL(self._base + path)
            if len(self._urls) < 256:  # fixed endpoint paths; ids make paths unbounded
                self._urls[path] = url
        return url

    def _timeout_for(self, request_timeout: float | None, stream: bool) -> aiohttp.ClientTimeout:
        if request_timeout is None:
            return self._stream_timeout if stream else self._timeout
        if stream:
            return aiohttp.ClientTimeout(total=None, sock_connect=request_timeout, sock_read=request_timeout)
        return aiohttp.ClientTimeout(total=request_timeout)

    def _transport_error(self, exc: BaseException, method: str, path: str) -> APIConnectionError:
        if isinstance(exc, TimeoutError):
            return APITimeoutError(f"{method} {path} timed out")
        detail = str(exc).replace(self.__api_key, "[redacted]") or type(exc).__name__
        return APIConnectionError(f"{method} {path} failed: {type(exc).__name__}: {detail}")

    # Public entry points used by the endpoint modules.

    async def get(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        request_timeout: float | None = None,
        max_retries: int | None = None,
    ) -> RawResponse:
        return await self._request(
            "GET", path, None, self._get_headers, _clean_params(params), request_timeout, max_retries
        )

    async def delete(self, path: str, *, request_timeout: float | None = None) -> RawResponse:
        return await self._request("DELETE", path, None, self._get_headers, None, request_timeout)

    async def post_json(self, path: str, body: bytes, *, request_timeout: float | None = None) -> RawResponse:
        return await self._request("POST", path, body, self._json_headers, None, request_timeout)

    async def post_multipart(
        self, path: str, body: bytes, content_type: str, *, request_timeout: float | None = None
    ) -> RawResponse:
        headers = {**self._get_headers, "Content-Type": content_type}
        return await self._request("POST", path, body, headers, None, request_timeout)

    async def open_stream(
        self,
        path: str,
        body: bytes,
        *,
        request_timeout: float | None = None,
        content_type: str | None = None,
    ) -> tuple[aiohttp.ClientResponse, ResponseMeta]:
        """POST and return the open response once a 2xx status arrives; the caller must close it.

        `content_type` replaces the JSON body type (a multipart upload that streams its answer)."""
        session = self._get_session()
        headers = self._stream_headers
        if content_type is not None:
            headers = {**headers, "Content-Type": content_type}
        url = self._url(path)
        client_timeout = self._timeout_for(request_timeout, stream=True)
        retries = 0
        while True:
            outcome = await self._stream_attempt(session, url, path, body, headers, client_timeout, retries)
            if not isinstance(outcome, _Failed):
                return outcome
            await self._wait_before_retry(outcome, "POST", path, retries, self.max_retries)
            retries += 1

    def parse(self, model: type[M], raw: RawResponse) -> M:
        try:
            result = model.model_validate_json(raw.body)
        except ValidationError as exc:
            raise APIResponseValidationError(
                f"Unexpected {model.__name__} response: {exc.error_count()} validation error(s); "
                f"first: {_first_error(exc)}",
                status=raw.status,
                request_id=raw.meta.request_id,
            ) from None
        return result.with_meta(raw.meta)

    async def _request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None,
        request_timeout: float | None,
        max_retries: int | None = None,
    ) -> RawResponse:
        """Send and read the whole body, retrying what `is_retryable` allows."""
        session = self._get_session()
        url = self._url(path)
        client_timeout = self._timeout_for(request_timeout, stream=False)
        limit = self.max_retries if max_retries is None else max(0, max_retries)
        retries = 0
        while True:
            outcome = await self._buffered_attempt(
                session, method, url, path, body, headers, params, client_timeout, retries
            )
            if not isinstance(outcome, _Failed):
                return outcome
            await self._wait_before_retry(outcome, method, path, retries, limit)
            retries += 1

    async def _buffered_attempt(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: URL,
        path: str,
        body: bytes | None,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None,
        client_timeout: aiohttp.ClientTimeout,
        retries: int,
    ) -> RawResponse | _Failed:
        started = time.perf_counter()
        try:
            resp = await session.request(
                method, url, data=body, headers=headers, params=params, timeout=client_timeout
            )
        except (aiohttp.ClientError, OSError) as exc:  # TimeoutError is an OSError
            return _Failed(self._transport_error(exc, method, path), None)
        status = resp.status
        resp_headers = resp.headers
        try:
            data = await resp.read()
        except (aiohttp.ClientError, OSError) as exc:
            return _Failed(self._transport_error(exc, method, path), resp_headers)
        finally:
            resp.release()
        if status >= 400:
            error = error_from_response(status, data, resp_headers, redact=self.__api_key)
            return _Failed(error, resp_headers)
        meta = _meta(resp_headers, status, retries)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s -> %d in %.1f ms (request id %s, attempt %d)",
                method,
                path,
                status,
                (time.perf_counter() - started) * 1000,
                meta.request_id,
                retries + 1,
            )
        return RawResponse(status, data, resp_headers, meta)

    async def _stream_attempt(
        self,
        session: aiohttp.ClientSession,
        url: URL,
        path: str,
        body: bytes,
        headers: Mapping[str, str],
        client_timeout: aiohttp.ClientTimeout,
        retries: int,
    ) -> tuple[aiohttp.ClientResponse, ResponseMeta] | _Failed:
        try:
            resp = await session.request("POST", url, data=body, headers=headers, timeout=client_timeout)
        except (aiohttp.ClientError, OSError) as exc:
            return _Failed(self._transport_error(exc, "POST", path), None)
        status = resp.status
        resp_headers = resp.headers
        if status < 400:
            log.debug("POST %s -> %d stream opened (attempt %d)", path, status, retries + 1)
            return resp, _meta(resp_headers, status, retries)
        # An error status: its body is a small JSON error, read it whole and free the connection.
        try:
            data = await resp.read()
        except (aiohttp.ClientError, OSError) as exc:
            return _Failed(self._transport_error(exc, "POST", path), resp_headers)
        finally:
            resp.release()
        return _Failed(error_from_response(status, data, resp_headers, redact=self.__api_key), resp_headers)

    async def _wait_before_retry(
        self, failed: _Failed, method: str, path: str, retries: int, max_retries: int
    ) -> None:
        """Sleep before retry number `retries + 1`, or raise the failure when it must not be retried."""
        error = failed.error
        if retries >= max_retries or not is_retryable(error):
            log.debug("%s %s failed without retry: %r", method, path, error)
            raise error
        delay = retry_delay(failed.headers, retries, self.max_retry_wait)
        if delay is None:
            log.warning(
                "%s %s: server asked to wait longer than %.0f s; giving up (%s)",
                method,
                path,
                self.max_retry_wait,
                type(error).__name__,
            )
            raise error
        log.info(
            "%s %s: %s, retry %d of %d in %.2f s",
            method,
            path,
            type(error).__name__,
            retries + 1,
            max_retries,
            delay,
        )
        await self.sleep(delay)


@dataclass(slots=True)
class _Failed:
    """One failed attempt: the error to raise, and the response headers that may say when to retry."""

    error: OpenAIError
    headers: Mapping[str, str] | None


def _meta(headers: Mapping[str, str], status: int, retries: int) -> ResponseMeta:
    return ResponseMeta(
        request_id=headers.get("x-request-id"), status=status, attempts=retries + 1, headers=headers
    )


def _clean_params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not params:
        return None
    out = {k: str(v) for k, v in params.items() if v is not None}
    return out or None


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    if not errors:
        return "unknown"
    first = errors[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    return f"{loc}: {first.get('msg', '')}"
