"""Tests of the client's pure pieces: header parsing, error mapping, retry delays, request encoding.
No network: these pin the rules the transport applies to every response."""

from __future__ import annotations

import base64
import json
import struct

import pytest

from bot.openai_api import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ContentPolicyError,
    EmbeddingsResponse,
    InternalServerError,
    NotFoundError,
    OpenAIClient,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    RateLimits,
    ResponseMeta,
    UnprocessableEntityError,
    error_from_response,
    parse_duration,
)
from bot.openai_api.completions import CompletionRequest
from bot.openai_api.errors import is_retryable
from bot.openai_api.images import ImageData
from bot.openai_api.multipart import encode_multipart, form_fields
from bot.openai_api.transport import backoff_delay, retry_delay


def err_body(message: str, type_: str | None, code: str | None, param: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "param": param, "code": code}}).encode()


# --- rate-limit headers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("6m0s", 360.0),
        ("12ms", 0.012),
        ("1s", 1.0),
        ("1.5s", 1.5),
        ("2h3m4.5s", 2 * 3600 + 3 * 60 + 4.5),
        ("0s", 0.0),
        ("250us", 0.00025),
        ("20", 20.0),
        ("0.5", 0.5),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", [None, "", "soon", "5x", "1s garbage", "m"])
def test_parse_duration_unreadable_is_none(text: str | None) -> None:
    assert parse_duration(text) is None


def test_rate_limits_from_headers() -> None:
    limits = RateLimits.from_headers(
        {
            "x-ratelimit-limit-requests": "5000",
            "x-ratelimit-limit-tokens": "160000",
            "x-ratelimit-remaining-requests": "4999",
            "x-ratelimit-remaining-tokens": "159900",
            "x-ratelimit-reset-requests": "12ms",
            "x-ratelimit-reset-tokens": "6m0s",
        }
    )
    assert limits == RateLimits(5000, 160000, 4999, 159900, pytest.approx(0.012), 360.0)


def test_rate_limits_missing_headers_are_none() -> None:
    limits = ResponseMeta(headers={"x-ratelimit-remaining-tokens": "7"}).rate_limits
    assert limits.remaining_tokens == 7
    assert limits.limit_requests is None and limits.reset_tokens is None
    assert ResponseMeta().rate_limits == RateLimits()


# --- error mapping ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
        (418, APIStatusError),
    ],
)
def test_status_maps_to_class(status: int, cls: type[APIStatusError]) -> None:
    err = error_from_response(
        status, err_body("boom", "some_type", "some_code", "prompt"), {"x-request-id": "req_1"}
    )
    assert type(err) is cls
    assert (err.status, err.type, err.code, err.param, err.message, err.request_id) == (
        status,
        "some_type",
        "some_code",
        "prompt",
        "boom",
        "req_1",
    )


def test_insufficient_quota_429_is_quota_error_and_not_retryable() -> None:
    err = error_from_response(
        429, err_body("You exceeded your quota", "insufficient_quota", "insufficient_quota")
    )
    assert isinstance(err, QuotaExceededError)
    assert not is_retryable(err)


def test_billing_codes_are_quota_errors() -> None:
    for code in ("billing_hard_limit_reached", "billing_not_active"):
        assert isinstance(
            error_from_response(400, err_body("no", "invalid_request_error", code)), QuotaExceededError
        )


def test_content_policy_inside_400_is_content_policy_error() -> None:
    err = error_from_response(
        400, err_body("Your request was rejected", "invalid_request_error", "content_policy_violation")
    )
    assert isinstance(err, ContentPolicyError)
    assert not is_retryable(err)


def test_plain_rate_limit_is_retryable_but_other_4xx_are_not() -> None:
    assert is_retryable(error_from_response(429, err_body("slow down", "requests", "rate_limit_exceeded")))
    assert is_retryable(error_from_response(409, b""))
    assert is_retryable(error_from_response(408, b""))
    assert is_retryable(error_from_response(502, b"<html>Bad gateway</html>"))
    assert is_retryable(APITimeoutError("t"))
    assert is_retryable(APIConnectionError("c"))
    for status in (400, 401, 403, 404, 422):
        assert not is_retryable(error_from_response(status, err_body("x", "invalid_request_error", None)))


def test_non_json_error_body_gives_typed_error_with_useful_message() -> None:
    err = error_from_response(502, b"<html><body>502 Bad Gateway</body></html>", {})
    assert isinstance(err, InternalServerError)
    assert "502" in err.message and "Bad Gateway" in err.message
    assert err.code is None and err.type is None


def test_empty_and_malformed_error_bodies() -> None:
    err = error_from_response(500, b"")
    assert isinstance(err, InternalServerError) and "empty" in err.message
    err = error_from_response(400, b'{"error": {"message": "unterminated')
    assert isinstance(err, BadRequestError) and "unterminated" in err.message
    err = error_from_response(400, b'{"error": "just a string"}')
    assert err.message == "just a string"
    err = error_from_response(422, b'{"detail": [{"loc": ["body", "model"], "msg": "field required"}]}')
    assert isinstance(err, UnprocessableEntityError) and "field required" in err.message
    err = error_from_response(400, b'{"error": null}')
    assert isinstance(err, BadRequestError) and "400" in err.message


def test_long_body_is_truncated_in_message() -> None:
    err = error_from_response(500, b"x" * 10_000)
    assert len(err.message) < 400


def test_error_echoing_the_key_is_redacted() -> None:
    key = "sk-secret-abcdef123456"
    err = error_from_response(
        401,
        err_body(f"Incorrect API key provided: {key}", "invalid_request_error", "invalid_api_key"),
        redact=key,
    )
    assert isinstance(err, AuthenticationError)
    assert key not in str(err) and key not in repr(err) and "[redacted]" in err.message
    err = error_from_response(401, f"bad key {key}".encode(), redact=key)
    assert key not in str(err) and key not in repr(err)


def test_str_and_repr_carry_status_code_and_request_id() -> None:
    err = error_from_response(
        429, err_body("slow", "requests", "rate_limit_exceeded"), {"x-request-id": "req_9"}
    )
    assert "429" in str(err) and "rate_limit_exceeded" in str(err) and "req_9" in str(err)
    assert repr(err).startswith("RateLimitError(") and "req_9" in repr(err)


# --- retry delays -------------------------------------------------------------------------------


def test_backoff_doubles_from_half_second_to_eight_with_jitter() -> None:
    no_jitter = [backoff_delay(n, rand=lambda: 0.0) for n in range(7)]
    assert no_jitter == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    full_jitter = [backoff_delay(n, rand=lambda: 0.999999) for n in range(5)]
    for lo, hi in zip(full_jitter, no_jitter, strict=False):
        assert 0.74 * hi < lo < hi


def test_retry_after_ms_wins_over_retry_after() -> None:
    assert retry_delay({"retry-after-ms": "250", "retry-after": "9"}, 0, 60.0) == pytest.approx(0.25)


def test_retry_after_seconds_and_http_date() -> None:
    assert retry_delay({"retry-after": "1"}, 3, 60.0) == 1.0
    assert retry_delay({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0, 60.0) == 0.0  # in the past


def test_retry_after_above_cap_means_do_not_retry() -> None:
    assert retry_delay({"retry-after": "120"}, 0, 60.0) is None
    assert retry_delay({"retry-after-ms": "61000"}, 0, 60.0) is None


def test_unreadable_retry_after_falls_back_to_backoff() -> None:
    delay = retry_delay({"retry-after": "later"}, 1, 60.0, rand=lambda: 0.0)
    assert delay == 1.0
    assert retry_delay(None, 2, 60.0, rand=lambda: 0.0) == 2.0


# --- request and response encoding --------------------------------------------------------------


def test_request_omits_unset_and_none_fields_and_keeps_extras() -> None:
    body = CompletionRequest(
        model="m", prompt="p", max_tokens=None, temperature=0.0, logit_bias={"50256": -100}
    )
    import json

    assert json.loads(body.to_json()) == {
        "model": "m",
        "prompt": "p",
        "temperature": 0.0,
        "logit_bias": {"50256": -100},
    }


def test_base64_embeddings_are_decoded_to_floats_and_float32_bytes() -> None:
    values = [0.25, -1.5, 3.0]
    packed = base64.b64encode(struct.pack("<3f", *values)).decode()
    raw = {
        "object": "list",
        "model": "e",
        "data": [{"object": "embedding", "index": 0, "embedding": packed}],
        "usage": {"prompt_tokens": 2, "total_tokens": 2},
    }
    response = EmbeddingsResponse.model_validate_json(json.dumps(raw))
    assert response.data[0].floats() == values
    assert response.data[0].packed() == struct.pack("<3f", *values)
    assert response.usage is not None and response.usage.prompt_tokens == 2


def test_image_bytes_decodes_base64_or_is_none_for_url() -> None:
    assert ImageData(b64_json=base64.b64encode(b"\x89PNG").decode()).image_bytes() == b"\x89PNG"
    assert ImageData(url="https://example.com/a.png").image_bytes() is None


def test_multipart_body_has_fields_then_file_with_filename_and_type() -> None:
    fields = form_fields(
        {"model": "whisper-1", "language": None, "temperature": 0.2, "timestamp_granularities": ["word"]}
    )
    body = encode_multipart(fields, "file", b"\x00OGG", 'voice "1".ogg', "audio/ogg")
    boundary = body.content_type.split("boundary=")[1]
    text = body.body
    assert body.content_type.startswith("multipart/form-data; boundary=")
    assert b'name="model"\r\n\r\nwhisper-1\r\n' in text
    assert b"language" not in text
    assert b'name="temperature"\r\n\r\n0.2\r\n' in text
    assert b'name="timestamp_granularities[]"\r\n\r\nword\r\n' in text
    assert b'filename="voice %221%22.ogg"\r\nContent-Type: audio/ogg\r\n\r\n\x00OGG\r\n' in text
    assert text.endswith(f"--{boundary}--\r\n".encode())


def test_client_repr_hides_key() -> None:
    key = "sk-test-very-secret-key"
    client = OpenAIClient(api_key=key, organization="org-1", project="proj-1")
    assert key not in repr(client) and key not in repr(client.transport) and key not in str(client)
