"""Embeddings and moderation endpoints of the fake OpenAI server.

Owns /v1/embeddings (dimensions, float/base64, input limits) and /v1/moderations (text and images).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes import moderation, vectors
from tests.fakes.common import fake_of, json_body, lookup_model, new_id
from tests.fakes.errors import invalid
from tests.fakes.textgen import estimate_tokens
from tests.fakes.validate import in_range, one_of, reject_unknown, require_object, required, typed

MAX_INPUTS = 2048
MAX_INPUT_TOKENS = 8192
MAX_REQUEST_TOKENS = 300_000


def register(app: web.Application) -> None:
    app.router.add_post("/v1/embeddings", create_embeddings)
    app.router.add_post("/v1/moderations", create_moderation)


def _embedding_inputs(value: Any) -> list[tuple[str, int]]:
    """Each input as (text to embed, tokens)."""
    bad = invalid(
        "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/"
        "api-reference.",
        "input",
        "invalid_value",
    )
    if isinstance(value, str):
        if not value:
            raise bad
        return [(value, estimate_tokens(value))]
    if not isinstance(value, list) or not value:
        raise bad
    if len(value) > MAX_INPUTS:
        raise invalid(
            f"Invalid 'input': array too long. Expected an array with maximum length {MAX_INPUTS}, but "
            f"got an array with length {len(value)} instead.",
            "input",
            "array_above_max_length",
        )
    if all(isinstance(v, str) for v in value):
        if any(not v for v in value):
            raise bad
        return [(v, estimate_tokens(v)) for v in value]
    if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return [(" ".join(map(str, value)), len(value))]
    if all(isinstance(v, list) and v and all(isinstance(t, int) for t in v) for v in value):
        return [(" ".join(map(str, v)), len(v)) for v in value]
    raise bad


async def create_embeddings(request: web.Request) -> web.Response:
    fake = fake_of(request)
    body = require_object(json_body(request))
    reject_unknown(body, ("input", "model", "encoding_format", "dimensions", "user"))
    model = typed(body, "model", str)
    if model is None:
        raise invalid("You must provide a model parameter.", None, None)
    inputs = _embedding_inputs(required(body, "input"))
    info = lookup_model(request, model, "embedding", "embeddings")
    encoding = typed(body, "encoding_format", str, "float")
    one_of("encoding_format", encoding, ("float", "base64"))
    dims = typed(body, "dimensions", int)
    native = info.dims or 1536
    if dims is not None:
        if not model.startswith("text-embedding-3"):
            raise invalid("This model does not support specifying dimensions.", "dimensions", None)
        in_range("dimensions", dims, 1, native)
    for index, (_, tokens) in enumerate(inputs):
        if tokens > MAX_INPUT_TOKENS:
            raise invalid(
                f"This model's maximum context length is {MAX_INPUT_TOKENS} tokens, however you requested "
                f"{tokens} tokens in input[{index}]. Please reduce your input.",
                "input",
                "context_length_exceeded",
            )
    total = sum(t for _, t in inputs)
    if total > MAX_REQUEST_TOKENS:
        raise invalid(
            f"Requested {total} tokens, max {MAX_REQUEST_TOKENS} tokens per request",
            "input",
            "max_tokens_per_request",
        )
    fake.admit(request, total, model)
    data = []
    matrix = vectors.embed_many([text for text, _ in inputs], model, dims or native)
    for index, vector in enumerate(matrix):
        data.append(
            {
                "object": "embedding",
                "index": index,
                "embedding": vectors.to_base64(vector) if encoding == "base64" else vector.tolist(),
            }
        )
    return web.json_response(
        {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": total, "total_tokens": total},
        }
    )


def _moderation_inputs(value: Any) -> list[tuple[list[str], list[str]]]:
    """Each result's parts as (texts, image URLs): strings are one result each; a list of typed parts
    is one multimodal input and gives one result."""
    if isinstance(value, str):
        return [([value], [])]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [([v], []) for v in value]
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        texts, urls = [], []
        for index, part in enumerate(value):
            kind = part.get("type")
            if kind == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif (
                kind == "image_url"
                and isinstance(part.get("image_url"), dict)
                and isinstance(part["image_url"].get("url"), str)
            ):
                urls.append(part["image_url"]["url"])
            else:
                raise invalid(
                    f"Invalid value for 'input[{index}]': expected a text or image_url part.",
                    f"input[{index}]",
                    "invalid_value",
                )
        return [(texts, urls)]
    raise invalid(
        "Invalid type for 'input': expected a string, an array of strings or an array of input parts.",
        "input",
        "invalid_type",
    )


async def create_moderation(request: web.Request) -> web.Response:
    fake = fake_of(request)
    body = require_object(json_body(request))
    reject_unknown(body, ("input", "model"))
    parts = _moderation_inputs(required(body, "input"))
    model = typed(body, "model", str, "omni-moderation-latest")
    lookup_model(request, model, "moderation", "moderations")
    legacy = model.startswith("text-moderation")
    if legacy and any(urls for _, urls in parts):
        raise invalid(f"Model {model} does not support image inputs.", "input", "invalid_value")
    fake.admit(request, sum(estimate_tokens(t) for texts, _ in parts for t in texts), model)
    return web.json_response(
        {
            "id": new_id("modr-", 16),
            "model": model,
            "results": [moderation.result(texts, urls, legacy) for texts, urls in parts],
        }
    )
