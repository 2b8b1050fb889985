"""The client's exception tree and the one function that picks a class for an error response.
Owns OpenAIError and subclasses, error_from_response() and the retryable-or-not decision."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# Codes/types that mean "no money left": retrying cannot help (openai-python #1671 is what retrying costs).
QUOTA_CODES = frozenset(
    {"insufficient_quota", "billing_hard_limit_reached", "billing_not_active", "quota_exceeded"}
)
CONTENT_POLICY_CODES = frozenset({"content_policy_violation", "content_filter", "moderation_blocked"})

_MAX_BODY_IN_MESSAGE = 300


class OpenAIError(Exception):
    """Base of every error the client raises; carries what the server said, never request headers."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.request_id = request_id
        #: Headers of the error response, when there was one (set by `error_from_response`).
        self.response_headers: dict[str, str] | None = None

    def __str__(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(f"code={self.code}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return f"{self.message} ({', '.join(parts)})" if parts else self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, status={self.status!r}, type={self.type!r}, "
            f"code={self.code!r}, param={self.param!r}, request_id={self.request_id!r})"
        )


class APIConnectionError(OpenAIError):
    """The server could not be reached, or the connection broke before a full response arrived."""


class APITimeoutError(APIConnectionError):
    """The request did not complete within the configured timeout."""


class APIResponseValidationError(OpenAIError):
    """A successful response whose body did not have the expected shape."""


class APIStatusError(OpenAIError):
    """The server answered with an error status (or sent an error object inside a stream)."""


class BadRequestError(APIStatusError):
    pass


class AuthenticationError(APIStatusError):
    pass


class PermissionDeniedError(APIStatusError):
    pass


class NotFoundError(APIStatusError):
    pass


class ConflictError(APIStatusError):
    pass


class UnprocessableEntityError(APIStatusError):
    pass


class RateLimitError(APIStatusError):
    """Too many requests or tokens per minute; goes away by waiting."""


class QuotaExceededError(APIStatusError):
    """The account has no quota or credit left; waiting does not help."""


class ContentPolicyError(APIStatusError):
    """The prompt or the output was refused by the provider's content policy."""


class InternalServerError(APIStatusError):
    pass


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}

# Errors carried inside a 200 stream have no useful status; their `type` is all we have.
_BY_TYPE: dict[str, type[APIStatusError]] = {
    "invalid_request_error": BadRequestError,
    "authentication_error": AuthenticationError,
    "permission_error": PermissionDeniedError,
    "not_found_error": NotFoundError,
    "rate_limit_error": RateLimitError,
    "rate_limit_exceeded": RateLimitError,
    "tokens": RateLimitError,
    "requests": RateLimitError,
    "server_error": InternalServerError,
    "api_error": InternalServerError,
}


def error_class(status: int | None, type_: str | None, code: str | None) -> type[APIStatusError]:
    """Choose the exception class: quota and content policy win over the status, then status, then type."""
    if code in QUOTA_CODES or type_ in QUOTA_CODES:
        return QuotaExceededError
    if code in CONTENT_POLICY_CODES or type_ in CONTENT_POLICY_CODES:
        return ContentPolicyError
    if status is not None and status >= 400:
        if status >= 500:
            return InternalServerError
        return _BY_STATUS.get(status, APIStatusError)
    if type_ is not None:
        return _BY_TYPE.get(type_, APIStatusError)
    return APIStatusError


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _describe_body(status: int | None, body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    prefix = f"HTTP {status}" if status is not None else "Error"
    if not text:
        return f"{prefix} with an empty body"
    if len(text) > _MAX_BODY_IN_MESSAGE:
        text = text[:_MAX_BODY_IN_MESSAGE] + "..."
    return f"{prefix}: {text}"


def error_from_payload(
    status: int | None,
    payload: Any,
    *,
    request_id: str | None = None,
    fallback_message: str,
    redact: str | None = None,
) -> APIStatusError:
    """Build the typed error from an already-decoded JSON body (also used for errors inside streams)."""
    type_ = code = param = None
    message = fallback_message
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        message = _as_str(error.get("message")) or fallback_message
        type_ = _as_str(error.get("type"))
        code = _as_str(error.get("code"))
        param = _as_str(error.get("param"))
    elif isinstance(error, str) and error:
        message = error
    elif isinstance(payload, dict):
        # Compatible servers (FastAPI, vLLM, proxies) use other shapes; keep whatever reads as a message.
        for key in ("message", "detail"):
            value = payload.get(key)
            if value:
                message = value if isinstance(value, str) else json.dumps(value)
                break
    if redact:
        message = message.replace(redact, "[redacted]")
    cls = error_class(status, type_, code)
    return cls(message, status=status, type=type_, code=code, param=param, request_id=request_id)


def error_from_response(
    status: int, body: bytes, headers: Mapping[str, str] | None = None, *, redact: str | None = None
) -> APIStatusError:
    """Map an HTTP error response to its exception; never fails, whatever the body holds.

    `redact` is a secret (the API key) to scrub from the message, since some servers echo it back.
    """
    request_id = headers.get("x-request-id") if headers is not None else None
    fallback = _describe_body(status, body)
    try:
        payload: Any = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        payload = None
    if payload is None and redact:
        fallback = fallback.replace(redact, "[redacted]")
    error = error_from_payload(
        status, payload, request_id=request_id, fallback_message=fallback, redact=redact
    )
    # Response headers (never the request's): callers pacing themselves read Retry-After and
    # x-ratelimit-* from a 429 (moderation keeps its queue instead of retrying blindly).
    error.response_headers = dict(headers) if headers is not None else None
    return error


def is_retryable(error: OpenAIError) -> bool:
    """Connection problems, timeouts, 408, 409, rate limits and 5xx; never quota, policy or other 4xx."""
    if isinstance(error, (QuotaExceededError, ContentPolicyError)):
        return False
    if isinstance(error, APIConnectionError):
        return True
    if isinstance(error, (RateLimitError, ConflictError, InternalServerError)):
        return True
    return error.status == 408
