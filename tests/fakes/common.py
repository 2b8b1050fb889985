"""Helpers shared by the fake OpenAI server's route modules.

Owns access to the `FakeOpenAI` instance from a request, ids, and model lookup with real errors.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.catalog import ModelInfo
from tests.fakes.errors import ApiError, model_not_found
from tests.fakes.faults import Fault
from tests.fakes.records import RecordedRequest

if TYPE_CHECKING:
    from tests.fakes.openai_server import FakeOpenAI

# Per-request state the server's middleware hands to route handlers.
REQUEST_ID = web.RequestKey("request_id", str)
STARTED = web.RequestKey("started", float)
RECORD = web.RequestKey("record", RecordedRequest)
FAULT: web.RequestKey[Fault | None] = web.RequestKey("fault", Fault | None)  # type: ignore[arg-type]
RATELIMIT_HEADERS = web.RequestKey("ratelimit_headers", dict[str, str])


def fake_of(request: web.Request) -> FakeOpenAI:
    from tests.fakes.openai_server import FAKE_KEY

    return request.app[FAKE_KEY]


def record_of(request: web.Request) -> RecordedRequest:
    return request[RECORD]


def fault_of(request: web.Request) -> Fault | None:
    return request.get(FAULT)


def json_body(request: web.Request) -> Any:
    return record_of(request).json


def new_id(prefix: str, nbytes: int = 12) -> str:
    return prefix + secrets.token_hex(nbytes)


def now() -> int:
    return int(time.time())


def lookup_model(request: web.Request, model: str, kind: str, endpoint: str) -> ModelInfo:
    """The model, or the error the real API gives for an unknown model or one of the wrong kind."""
    info = fake_of(request).catalog.get(model)
    if info is None:
        raise model_not_found(model)
    if info.kind != kind:
        if info.kind == "chat" and kind == "completion":
            raise ApiError(
                404,
                "This is a chat model and not supported in the v1/completions endpoint. Did you "
                "mean to use v1/chat/completions?",
                param="model",
            )
        raise ApiError(
            400,
            f"The model `{model}` is not supported by the {endpoint} endpoint.",
            param="model",
            code="invalid_value",
        )
    return info
