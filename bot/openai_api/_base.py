"""Shared model bases and per-response metadata for the OpenAI client.
Owns APIModel/RequestModel, ResponseMeta, RateLimits and the parsing of rate-limit headers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, PrivateAttr

# Go-style durations as OpenAI sends them in x-ratelimit-reset-*: "6m0s", "12ms", "1.5s", "2h3m".
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: str | None) -> float | None:
    """Parse an OpenAI reset value ("6m0s", "12ms", "20") into seconds; None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        # Some compatible servers send a bare number of seconds.
        return float(text)
    except ValueError:
        pass
    total = 0.0
    pos = 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        return None
    return total


def _parse_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        try:
            return int(float(value))
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The x-ratelimit-* headers of one response; each field is None when the server did not send it."""

    limit_requests: int | None = None
    limit_tokens: int | None = None
    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    reset_requests: float | None = None  # seconds until the request budget refills
    reset_tokens: float | None = None  # seconds until the token budget refills

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimits:
        get = headers.get
        return cls(
            limit_requests=_parse_int(get("x-ratelimit-limit-requests")),
            limit_tokens=_parse_int(get("x-ratelimit-limit-tokens")),
            remaining_requests=_parse_int(get("x-ratelimit-remaining-requests")),
            remaining_tokens=_parse_int(get("x-ratelimit-remaining-tokens")),
            reset_requests=parse_duration(get("x-ratelimit-reset-requests")),
            reset_tokens=parse_duration(get("x-ratelimit-reset-tokens")),
        )


_NO_LIMITS = RateLimits()


class ResponseMeta:
    """Request id, HTTP status, attempt count and rate limits of the response a result came from.

    Rate-limit headers are parsed on first access: most callers never look, and this is the hot path.
    """

    __slots__ = ("_headers", "_rate_limits", "attempts", "request_id", "status")

    def __init__(
        self,
        *,
        request_id: str | None = None,
        rate_limits: RateLimits | None = None,
        status: int = 200,
        attempts: int = 1,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.request_id = request_id
        self.status = status
        self.attempts = attempts
        self._rate_limits = rate_limits
        self._headers = headers

    @property
    def rate_limits(self) -> RateLimits:
        if self._rate_limits is None:
            self._rate_limits = RateLimits.from_headers(self._headers) if self._headers else _NO_LIMITS
        return self._rate_limits

    def __repr__(self) -> str:
        return (
            f"ResponseMeta(request_id={self.request_id!r}, status={self.status}, "
            f"attempts={self.attempts}, rate_limits={self.rate_limits!r})"
        )


EMPTY_META = ResponseMeta()


class APIModel(BaseModel):
    """Base of every response model: unknown fields are kept, and `.meta` tells where it came from."""

    model_config = ConfigDict(extra="allow")

    # None (not a ResponseMeta instance) as default: pydantic deep-copies private defaults per instance.
    _meta: ResponseMeta | None = PrivateAttr(default=None)

    @property
    def meta(self) -> ResponseMeta:
        return self._meta if self._meta is not None else EMPTY_META

    def with_meta(self, meta: ResponseMeta) -> Self:
        self._meta = meta
        return self


class RequestModel(BaseModel):
    """Base of every request body: extra keyword arguments pass through; None/unset fields are not sent."""

    model_config = ConfigDict(extra="allow")

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    def to_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class Usage(APIModel):
    """Token usage of a completion or embedding request (embeddings report no completion tokens)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: dict[str, Any] | None = None
    completion_tokens_details: dict[str, Any] | None = None
