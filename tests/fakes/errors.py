"""Error bodies of the fake OpenAI server.

Owns the `ApiError` exception handlers raise and the realistic default error body for each status.
"""

from __future__ import annotations

from typing import Any

# Default (message, type, code) per status, worded like the real API so clients that match on
# `code` or `type` see what production sends.
_DEFAULTS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: (
        "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    ),
    403: (
        "You are not allowed to access this resource.",
        "invalid_request_error",
        "unsupported_country_region_territory",
    ),
    404: ("The requested resource does not exist.", "invalid_request_error", None),
    408: ("Request timed out.", "timeout", None),
    409: ("The request conflicted with another request.", "invalid_request_error", None),
    413: ("Maximum content size limit (26214400) exceeded.", "server_error", None),
    422: ("Unprocessable entity.", "invalid_request_error", None),
    429: (
        "Rate limit reached for requests. Please try again in 1s. "
        "Visit https://platform.openai.com/account/rate-limits to learn more.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
    504: ("Gateway timeout.", "server_error", None),
}

# Codes a test may name in `Fault(code=...)` whose message/type differ from the status default.
_BY_CODE: dict[str, tuple[int, str, str]] = {
    "insufficient_quota": (
        429,
        "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
        "insufficient_quota",
    ),
    "rate_limit_exceeded": (429, _DEFAULTS[429][0], "requests"),
    "invalid_api_key": (401, _DEFAULTS[401][0], "invalid_request_error"),
    "model_not_found": (
        404,
        "The model `unknown` does not exist or you do not have access to it.",
        "invalid_request_error",
    ),
    "context_length_exceeded": (
        400,
        "This model's maximum context length is 4096 tokens. Please reduce the length of the prompt.",
        "invalid_request_error",
    ),
    "content_policy_violation": (
        400,
        "Your request was rejected as a result of our safety system. Your prompt may contain text that is "
        "not allowed by our safety system.",
        "image_generation_user_error",
    ),
}


def error_body(
    status: int,
    message: str | None = None,
    type_: str | None = None,
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """The `{"error": {...}}` body for `status`, always with all four keys."""
    if code in _BY_CODE and message is None and type_ is None:
        _, message, type_ = _BY_CODE[code]
    default = _DEFAULTS.get(status) or (
        ("Invalid request.", "invalid_request_error", None)
        if status < 500
        else ("The server had an error while processing your request.", "server_error", None)
    )
    return {
        "error": {
            "message": message if message is not None else default[0],
            "type": type_ if type_ is not None else default[1],
            "param": param,
            "code": code if code is not None else default[2],
        }
    }


class ApiError(Exception):
    """Raised by handlers; the server turns it into an error response with the real body shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        # Built directly: a handler's explicit `code=None` must stay null, not take the status default.
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def invalid(message: str, param: str | None = None, code: str | None = "invalid_value") -> ApiError:
    """A 400 invalid_request_error, the most common validation failure."""
    return ApiError(400, message, param=param, code=code)


def model_not_found(model: str) -> ApiError:
    return ApiError(
        404, f"The model `{model}` does not exist or you do not have access to it.", code="model_not_found"
    )
