"""Adapters from the fake server's records and aiohttp responses to openapi-core's protocols.

Owns loading the official OpenAI document once, and the hand checks for what it cannot validate
(error bodies, multipart forms, SSE chunks).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.validation.request.exceptions import RequestValidationError
from werkzeug.datastructures import Headers, ImmutableMultiDict

from tests.fakes.records import RecordedRequest

SPECS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "specs"
OPENAI_SPEC = SPECS_DIR / "openai-openapi.json"
# The document's server is https://api.openai.com/v1: requests are presented as if sent there.
HOST_URL = "https://api.openai.com"

__all__ = ["OPENAI_SPEC", "RequestValidationError", "SpecRequest", "SpecResponse", "load_openapi"]


@dataclass
class SpecRequest:
    """openapi-core `Request` built from a `RecordedRequest`."""

    method: str
    path: str
    body: bytes | None
    content_type: str
    host_url: str = HOST_URL
    parameters: RequestParameters = field(default_factory=RequestParameters)

    @classmethod
    def from_record(cls, rec: RecordedRequest) -> SpecRequest:
        headers = Headers(rec.headers)
        return cls(
            method=rec.method.lower(),
            path=rec.path,
            body=rec.body or None,
            content_type=(headers.get("Content-Type") or "application/json").lower(),
            parameters=RequestParameters(query=ImmutableMultiDict(rec.query), header=headers),
        )


@dataclass
class SpecResponse:
    """openapi-core `Response` built from what an aiohttp client received."""

    status_code: int
    content_type: str
    headers: Headers
    data: bytes | None

    @classmethod
    def of(cls, status: int, headers: Any, data: bytes) -> SpecResponse:
        # openapi-core matches the media type without parameters ("application/json; charset=utf-8").
        kind = str(headers.get("Content-Type", "application/json")).split(";")[0].strip().lower()
        return cls(status, kind, Headers(dict(headers)), data)


@cache
def _document() -> dict[str, Any]:
    with OPENAI_SPEC.open(encoding="utf-8") as handle:
        document: dict[str, Any] = json.load(handle)
    # openapi-core's parameter deserializer rejects a list `type` (the README's nullable rewrite,
    # e.g. GET /fine_tuning/jobs `metadata`: ["object", "null"]); a parameter is never sent as null,
    # so it keeps its non-null type. Request and response bodies are untouched.
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                kind = parameter.get("schema", {}).get("type")
                if isinstance(kind, list):
                    parameter["schema"]["type"] = next(k for k in kind if k != "null")
    return document


@cache
def load_openapi() -> OpenAPI:
    """The official document; validating the whole document first is slow and fails upstream."""
    from openapi_core import Config

    return OpenAPI.from_dict(_document(), config=Config(spec_validator_cls=None))


@cache
def load_stream_openapi() -> OpenAPI:
    """The document with `CreateCompletionResponse` relaxed for stream chunks: `finish_reason` may be
    null until the last chunk (README gap) and `usage` is null on every chunk but the last when
    `include_usage` is set (the document's own `stream_options.include_usage` description)."""
    from openapi_core import Config

    document = dict(_document())
    components = dict(document["components"])
    schemas = dict(components["schemas"])
    chunk = copy.deepcopy(schemas["CreateCompletionResponse"])
    finish = chunk["properties"]["choices"]["items"]["properties"]["finish_reason"]
    chunk["properties"]["choices"]["items"]["properties"]["finish_reason"] = {
        "anyOf": [finish, {"type": "null"}]
    }
    chunk["properties"]["usage"] = {"anyOf": [chunk["properties"]["usage"], {"type": "null"}]}
    schemas["CreateCompletionResponse"] = chunk
    components["schemas"] = schemas
    document["components"] = components
    return OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))


@cache
def load_verbose_transcription_openapi() -> OpenAPI:
    """The document with the transcription 200 body pinned to `CreateTranscriptionResponseVerboseJson`:
    its `oneOf` can never pass for verbose_json, which is also a valid `CreateTranscriptionResponseJson`
    (neither forbids extra properties), so the verbose shape is checked on its own."""
    from openapi_core import Config

    document = copy.deepcopy({k: v for k, v in _document().items() if k != "components"})
    document["components"] = _document()["components"]
    content = document["paths"]["/audio/transcriptions"]["post"]["responses"]["200"]["content"]
    content["application/json"]["schema"] = {
        "$ref": "#/components/schemas/CreateTranscriptionResponseVerboseJson"
    }
    return OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))


def schema(name: str) -> dict[str, Any]:
    component: dict[str, Any] = _document()["components"]["schemas"][name]
    return component


def _enum_of(prop: dict[str, Any]) -> list[Any] | None:
    """Enum values of a property, following one $ref or a string-enum anyOf branch."""
    if "$ref" in prop:
        prop = schema(prop["$ref"].rsplit("/", 1)[-1])
    if "enum" in prop:
        return list(prop["enum"])
    for branch in prop.get("anyOf", []) + prop.get("oneOf", []):
        if "enum" in branch and branch.get("type") == "string" and "x-stainless-const" not in branch:
            return None  # model-style anyOf [string, enum]: any string is allowed
    return None


def check_multipart(rec: RecordedRequest, schema_name: str) -> list[str]:
    """Problems with a multipart request against a schema: required fields present, enums respected,
    no unknown fields when the schema forbids them."""
    spec = schema(schema_name)
    props: dict[str, Any] = spec["properties"]
    problems = []
    present = set(rec.form) | set(rec.files)
    names = {name.removesuffix("[]") for name in present}
    for required in spec.get("required", []):
        if required not in names:
            problems.append(f"missing required field {required!r}")
    for name in names:
        if name not in props and spec.get("additionalProperties") is False:
            problems.append(f"unknown field {name!r}")
    for name, value in rec.form.items():
        prop = props.get(name.removesuffix("[]"))
        if prop is None:
            continue
        if prop.get("type") == "array":
            prop = prop.get("items", {})
        enum = _enum_of(prop)
        values = rec.form_lists.get(name, [value])
        for item in values:
            if enum is not None and item not in enum:
                problems.append(f"{name}={item!r} not in {enum}")
    for name in rec.files:
        if props.get(name, {}).get("format") != "binary":
            problems.append(f"file part {name!r} is not a binary field")
    return problems


def check_error_body(body: Any) -> list[str]:
    """The real API's error shape, which the document attaches to only a few responses."""
    if not isinstance(body, dict) or set(body) != {"error"}:
        return [f"not an error object: {body!r}"]
    error = body["error"]
    problems = []
    if not isinstance(error, dict) or set(error) != {"message", "type", "param", "code"}:
        return [f"error must have exactly message, type, param, code: {error!r}"]
    if not isinstance(error["message"], str) or not error["message"]:
        problems.append("message must be a non-empty string")
    if not isinstance(error["type"], str):
        problems.append("type must be a string")
    for key in ("param", "code"):
        if error[key] is not None and not isinstance(error[key], str):
            problems.append(f"{key} must be a string or null")
    return problems
