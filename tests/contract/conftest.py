"""Contract-test fixtures: the official OpenAI document, loaded once, or a clear skip without it.

Owns the `openapi` / `stream_openapi` fixtures and the `check` helper used by every contract test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from openapi_core import OpenAPI

from tests.contract.openapi_adapter import (
    OPENAI_SPEC,
    SpecRequest,
    SpecResponse,
    load_openapi,
    load_stream_openapi,
)
from tests.fakes.records import RecordedRequest


def _skip_without_spec() -> None:
    if not OPENAI_SPEC.is_file():
        pytest.skip(
            f"OpenAI OpenAPI document not found at {OPENAI_SPEC} (../shared/specs is absent in this clone)"
        )


@pytest.fixture(autouse=True)
def _requires_spec() -> None:
    """Every contract test needs the document, also those that only read a schema from it."""
    _skip_without_spec()


@pytest.fixture(scope="session")
def openapi() -> OpenAPI:
    _skip_without_spec()
    return load_openapi()


@pytest.fixture(scope="session")
def stream_openapi(openapi: OpenAPI) -> OpenAPI:
    return load_stream_openapi()


Validator = Callable[..., None]


@pytest.fixture
def validate(openapi: OpenAPI) -> Validator:
    """validate(record, status=, headers=, data=, request_body=True): the recorded request and the
    response the fake returned, both against the document."""

    def run(
        rec: RecordedRequest,
        status: int | None = None,
        headers: Any = None,
        data: bytes | None = None,
        request_body: bool = True,
    ) -> None:
        request = SpecRequest.from_record(rec)
        if request_body:
            openapi.validate_request(request)
        if status is not None:
            openapi.validate_response(request, SpecResponse.of(status, headers or {}, data or b""))

    return run
