"""Chat completions against the official OpenAPI document, both directions, and the official
`openai` package driven against the fake (plain and streamed).

The client's requests and the fake's responses (bodies, stream chunks, errors) are validated, so a
field the real API would reject, or a shape it would never send, fails here first.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from functools import cache
from typing import Any

import aiohttp
import pytest
from openapi_core import OpenAPI

from bot.openai_api import OpenAIClient, message
from tests.contract.openapi_adapter import SpecRequest, SpecResponse, _document, check_error_body
from tests.fakes.openai_server import TEST_API_KEY, FakeOpenAI
from tests.fakes.records import RecordedRequest


def _without_bare_discriminators(node: Any) -> Any:
    """A copy without `discriminator`s that have no `mapping`: openapi-core then looks the role
    value ("user") up as a schema name and fails (a gap of the tooling, not of the request); the
    `oneOf` branches still tell the roles apart by their `role` enums."""
    if isinstance(node, dict):
        return {
            k: _without_bare_discriminators(v)
            for k, v in node.items()
            if not (k == "discriminator" and isinstance(v, dict) and "mapping" not in v)
        }
    if isinstance(node, list):
        return [_without_bare_discriminators(v) for v in node]
    return node


@cache
def _chat_document() -> dict[str, Any]:
    document: dict[str, Any] = _without_bare_discriminators(_document())
    return document


@cache
def chat_openapi() -> OpenAPI:
    from openapi_core import Config

    return OpenAPI.from_dict(_chat_document(), config=Config(spec_validator_cls=None))


@cache
def chat_stream_openapi() -> OpenAPI:
    """The document with the chat 200 JSON body pinned to `CreateChatCompletionStreamResponse`:
    each SSE `data:` line is one such chunk (the document files it under text/event-stream, which
    openapi-core cannot split into events). `usage` may be null: the API sends `usage: null` on
    every chunk but the last when include_usage is set (the document's own description of it)."""
    from openapi_core import Config

    document = copy.deepcopy({k: v for k, v in _chat_document().items() if k != "components"})
    components = dict(_chat_document()["components"])
    schemas = dict(components["schemas"])
    chunk = copy.deepcopy(schemas["CreateChatCompletionStreamResponse"])
    chunk["properties"]["usage"] = {"anyOf": [chunk["properties"]["usage"], {"type": "null"}]}
    schemas["CreateChatCompletionStreamResponse"] = chunk
    components["schemas"] = schemas
    document["components"] = components
    content = document["paths"]["/chat/completions"]["post"]["responses"]["200"]["content"]
    content["application/json"] = {
        "schema": {"$ref": "#/components/schemas/CreateChatCompletionStreamResponse"}
    }
    return OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))


def validate(
    rec: RecordedRequest, status: int | None = None, headers: Any = None, data: bytes | None = None
) -> None:
    """The recorded request, and the response when given, against the chat-ready document."""
    request = SpecRequest.from_record(rec)
    chat_openapi().validate_request(request)
    if status is not None:
        chat_openapi().validate_response(request, SpecResponse.of(status, headers or {}, data or b""))


@pytest.fixture
async def client(fake_openai: FakeOpenAI) -> AsyncIterator[OpenAIClient]:
    async with OpenAIClient(api_key=TEST_API_KEY, base_url=fake_openai.base_url, max_retries=0) as c:
        yield c


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TEST_API_KEY}"}) as session:
        yield session


# -- the client's requests ---------------------------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-5.4-mini", "gpt-4.1", "o4-mini"])
async def test_client_chat_requests(fake_openai: FakeOpenAI, client: OpenAIClient, model: str) -> None:
    messages = [
        message("developer", "Answer briefly."),
        message("user", "hi", name="alice"),
        message("assistant", "Hello!"),
    ]
    messages.append(message("user", "again"))
    await client.chat.completions.create(model=model, messages=messages, max_tokens=40, user="discord:1:2")
    validate(fake_openai.requests[-1])
    assert fake_openai.requests[-1].status == 200
    stream = await client.chat.completions.stream(model=model, messages=messages, max_tokens=40)
    async with stream:
        async for _ in stream:
            pass
    validate(fake_openai.requests[-1])
    assert fake_openai.requests[-1].status == 200


async def test_client_image_part_request(fake_openai: FakeOpenAI, client: OpenAIClient) -> None:
    parts = [
        {"type": "text", "text": "what is it"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
    ]
    await client.chat.completions.create(model="gpt-4o", messages=[message("user", parts)])
    validate(fake_openai.requests[-1])


# -- the fake's responses ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 30},
        {"model": "gpt-5.4-mini", "messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 9},
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x [[filter]]"}], "n": 2},
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x [[no-usage]]"}]},
    ],
)
async def test_fake_chat_responses(
    fake_openai: FakeOpenAI, http: aiohttp.ClientSession, body: dict[str, Any]
) -> None:
    async with http.post(fake_openai.base_url + "/chat/completions", json=body) as response:
        status, headers, data = response.status, response.headers, await response.read()
    assert status == 200, data
    validate(fake_openai.requests[-1], status, headers, data)


@pytest.mark.parametrize("include_usage", [True, False])
async def test_fake_chat_stream_chunks(
    fake_openai: FakeOpenAI, http: aiohttp.ClientSession, include_usage: bool
) -> None:
    body: dict[str, Any] = {
        "model": "gpt-4.1",
        "messages": [{"role": "user", "content": "[[words:5]]"}],
        "stream": True,
    }
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    async with http.post(fake_openai.base_url + "/chat/completions", json=body) as response:
        data = await response.read()
        assert response.headers["Content-Type"].startswith("text/event-stream")
    request = SpecRequest.from_record(fake_openai.requests[-1])
    chat_openapi().validate_request(request)
    payloads = [line[6:] for line in data.decode().split("\n") if line.startswith("data: ")]
    assert payloads[-1] == "[DONE]"
    for payload in payloads[:-1]:
        chat_stream_openapi().validate_response(
            request, SpecResponse.of(200, {"Content-Type": "application/json"}, payload.encode())
        )
    final = json.loads(payloads[-2])
    assert (final.get("usage") is not None) is include_usage


@pytest.mark.parametrize(
    ("path", "body", "status", "phrase"),
    [
        ("/completions", {"model": "gpt-5.4-mini", "prompt": "x"}, 404, "chat model"),
        (
            "/chat/completions",
            {"model": "davinci-002", "messages": [{"role": "user", "content": "x"}]},
            404,
            "not a chat model",
        ),
        (
            "/chat/completions",
            {"model": "gpt-5.5", "messages": [{"role": "user", "content": "x"}], "max_tokens": 5},
            400,
            "max_completion_tokens",
        ),
        (
            "/chat/completions",
            {"model": "o4-mini", "messages": [{"role": "user", "content": "x"}], "temperature": 0.2},
            400,
            "temperature",
        ),
        ("/chat/completions", {"model": "gpt-4.1", "messages": []}, 400, "messages"),
    ],
)
async def test_fake_chat_errors(
    fake_openai: FakeOpenAI,
    http: aiohttp.ClientSession,
    path: str,
    body: dict[str, Any],
    status: int,
    phrase: str,
) -> None:
    async with http.post(fake_openai.base_url + path, json=body) as response:
        got, data = response.status, await response.json()
    assert got == status
    assert check_error_body(data) == []
    assert phrase in data["error"]["message"]


# -- the official SDK against the fake ---------------------------------------------------------


async def test_official_sdk_chat_plain_and_streamed(fake_openai: FakeOpenAI) -> None:
    openai = pytest.importorskip("openai")
    sdk = openai.AsyncOpenAI(api_key=TEST_API_KEY, base_url=fake_openai.base_url, max_retries=0)
    messages = [{"role": "user", "content": "Hello there [[words:9]]"}]
    try:
        result = await sdk.chat.completions.create(
            model="gpt-5.4-mini", messages=messages, max_completion_tokens=50
        )
        assert result.choices[0].message.content == fake_openai.chat_text_for(messages, 50)
        assert result.choices[0].finish_reason == "stop"
        assert result.usage is not None and result.usage.completion_tokens == 9

        stream = await sdk.chat.completions.create(
            model="gpt-4.1", messages=messages, stream=True, stream_options={"include_usage": True}
        )
        parts, usage, finish = [], None, None
        async for chunk in stream:
            for choice in chunk.choices:
                parts.append(choice.delta.content or "")
                finish = choice.finish_reason or finish
            usage = chunk.usage or usage
        assert "".join(parts) == fake_openai.chat_text_for(messages)
        assert finish == "stop" and usage is not None and usage.completion_tokens == 9

        with pytest.raises(openai.NotFoundError):
            await sdk.completions.create(model="gpt-5.4-mini", prompt="x")
    finally:
        await sdk.close()
