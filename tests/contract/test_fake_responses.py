"""Every kind of response the fake OpenAI server returns, against the official OpenAPI document.

Raw aiohttp requests (validated too) so the fake is checked independently of the bot's client.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from openapi_core import OpenAPI

from tests.contract.conftest import Validator
from tests.contract.openapi_adapter import (
    SpecRequest,
    SpecResponse,
    check_error_body,
    check_multipart,
    load_verbose_transcription_openapi,
)
from tests.fakes.openai_server import TEST_API_KEY, FakeOpenAI, Fault

TRAINING = b'{"prompt": "a", "completion": "b"}\n'


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TEST_API_KEY}"}) as session:
        yield session


async def exchange(
    http: aiohttp.ClientSession, fake: FakeOpenAI, method: str, path: str, **kwargs: Any
) -> tuple[int, Any, bytes]:
    async with http.request(method, fake.base_url + path, **kwargs) as response:
        return response.status, response.headers, await response.read()


async def checked(http, fake: FakeOpenAI, validate: Validator, method: str, path: str, **kwargs: Any) -> Any:
    status, headers, data = await exchange(http, fake, method, path, **kwargs)
    assert status == 200, data
    multipart = isinstance(kwargs.get("data"), aiohttp.FormData)
    validate(fake.requests[-1], status, headers, data, request_body=not multipart)
    return json.loads(data)


async def upload(http, fake: FakeOpenAI, validate: Validator, data: bytes, name: str, purpose: str) -> Any:
    form = aiohttp.FormData()
    form.add_field("purpose", purpose)
    form.add_field("file", data, filename=name, content_type="application/jsonl")
    body = await checked(http, fake, validate, "POST", "/files", data=form)
    assert check_multipart(fake.requests[-1], "CreateFileRequest") == []
    return body


@pytest.mark.parametrize(
    "body",
    [
        {"model": "gpt-3.5-turbo-instruct", "prompt": "hello", "max_tokens": 30},
        {"model": "davinci-002", "prompt": ["a", "b"], "n": 2, "echo": True, "logprobs": 2, "stop": ["\n"]},
        {"model": "gpt-3.5-turbo-instruct", "prompt": [1, 2, 3], "temperature": 0.2, "user": "u1"},
        {"model": "gpt-3.5-turbo-instruct", "prompt": "x [[filter]]"},
        {"model": "gpt-3.5-turbo-instruct", "prompt": "x [[no-usage]]"},
    ],
)
async def test_completion(fake_openai: FakeOpenAI, http, validate: Validator, body: dict[str, Any]) -> None:
    await checked(http, fake_openai, validate, "POST", "/completions", json=body)


@pytest.mark.parametrize("include_usage", [True, False])
async def test_completion_stream_chunks(
    fake_openai: FakeOpenAI, http, openapi: OpenAPI, stream_openapi: OpenAPI, include_usage: bool
) -> None:
    body: dict[str, Any] = {"model": "gpt-3.5-turbo-instruct", "prompt": "[[words:6]]", "stream": True}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    status, headers, data = await exchange(http, fake_openai, "POST", "/completions", json=body)
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    request = SpecRequest.from_record(fake_openai.requests[-1])
    openapi.validate_request(request)
    payloads = [line[6:] for line in data.decode().split("\n") if line.startswith("data: ")]
    assert payloads[-1] == "[DONE]"
    for payload in payloads[:-1]:
        stream_openapi.validate_response(
            request, SpecResponse.of(200, {"Content-Type": "application/json"}, payload.encode())
        )
    final = json.loads(payloads[-2])
    assert ("usage" in final) is include_usage


async def test_stream_error_event_has_error_shape(fake_openai: FakeOpenAI, http) -> None:
    fake_openai.add_fault(Fault(stream_error_after_chunks=1))
    _, _, data = await exchange(
        http,
        fake_openai,
        "POST",
        "/completions",
        json={"model": "gpt-3.5-turbo-instruct", "prompt": "x", "stream": True},
    )
    last = [line[6:] for line in data.decode().split("\n") if line.startswith("data: ")][-1]
    assert check_error_body(json.loads(last)) == []


@pytest.mark.parametrize(
    "body",
    [
        {"model": "dall-e-2", "prompt": "a cat", "size": "256x256", "response_format": "b64_json", "n": 2},
        {"model": "dall-e-2", "prompt": "a cat", "response_format": "url"},
        {"model": "dall-e-3", "prompt": "a cat", "size": "1024x1792", "quality": "hd", "style": "natural"},
        {"model": "gpt-image-1", "prompt": "a cat", "quality": "high", "size": "1536x1024"},
        {"model": "gpt-image-2", "prompt": "a cat", "output_format": "png", "background": "opaque"},
    ],
)
async def test_images(fake_openai: FakeOpenAI, http, validate: Validator, body: dict[str, Any]) -> None:
    await checked(http, fake_openai, validate, "POST", "/images/generations", json=body)


@pytest.mark.parametrize(
    ("model", "response_format"),
    [
        ("whisper-1", None),
        ("whisper-1", "json"),
        ("whisper-1", "verbose_json"),
        ("gpt-4o-transcribe", "json"),
    ],
)
async def test_transcription_json_formats(
    fake_openai: FakeOpenAI, http, validate: Validator, model: str, response_format: str | None
) -> None:
    form = aiohttp.FormData()
    form.add_field("file", b"FAKE-TRANSCRIPT:hello there", filename="a.mp3", content_type="audio/mpeg")
    form.add_field("model", model)
    if response_format:
        form.add_field("response_format", response_format)
    form.add_field("timestamp_granularities[]", "segment")
    if response_format == "verbose_json":
        status, headers, data = await exchange(http, fake_openai, "POST", "/audio/transcriptions", data=form)
        assert status == 200
        request = SpecRequest.from_record(fake_openai.requests[-1])
        load_verbose_transcription_openapi().validate_response(
            request, SpecResponse.of(status, headers, data)
        )
    else:
        await checked(http, fake_openai, validate, "POST", "/audio/transcriptions", data=form)
    assert check_multipart(fake_openai.requests[-1], "CreateTranscriptionRequest") == []


@pytest.mark.parametrize("response_format", ["text", "srt", "vtt"])
async def test_transcription_text_formats_are_plain_text(
    fake_openai: FakeOpenAI, http, response_format: str
) -> None:
    # The document does not declare text/plain for these formats (README gap): checked by hand.
    form = aiohttp.FormData()
    form.add_field("file", b"FAKE-TRANSCRIPT:hello there", filename="a.wav", content_type="audio/wav")
    form.add_field("model", "whisper-1")
    form.add_field("response_format", response_format)
    status, headers, data = await exchange(http, fake_openai, "POST", "/audio/transcriptions", data=form)
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert "hello there" in data.decode()
    assert check_multipart(fake_openai.requests[-1], "CreateTranscriptionRequest") == []


@pytest.mark.parametrize(
    "body",
    [
        {"model": "text-embedding-3-small", "input": "hello"},
        {
            "model": "text-embedding-3-large",
            "input": ["a", "b"],
            "dimensions": 16,
            "encoding_format": "float",
        },
        {"model": "text-embedding-3-small", "input": [[1, 2], [3]], "encoding_format": "base64"},
    ],
)
async def test_embeddings(fake_openai: FakeOpenAI, http, validate: Validator, body: dict[str, Any]) -> None:
    status, headers, data = await exchange(http, fake_openai, "POST", "/embeddings", json=body)
    assert status == 200
    got = json.loads(data)
    if body.get("encoding_format") == "base64":
        # The document types `embedding` as numbers only; base64 strings are checked by decoding them
        # (little-endian float32) and the rest of the body is validated with the decoded vectors.
        for item in got["data"]:
            raw = base64.b64decode(item["embedding"], validate=True)
            assert len(raw) % 4 == 0 and raw
            item["embedding"] = list(struct.unpack(f"<{len(raw) // 4}f", raw))
        data = json.dumps(got).encode()
    validate(fake_openai.requests[-1], status, headers, data)


@pytest.mark.parametrize(
    "body",
    [
        {"input": "flag:hate hello"},
        {"input": ["a", "flag:all"], "model": "omni-moderation-latest"},
        {
            "input": [
                {"type": "text", "text": "t"},
                {"type": "image_url", "image_url": {"url": "https://x.io/a.png"}},
            ]
        },
        {"input": "x", "model": "text-moderation-latest"},
    ],
)
async def test_moderations(fake_openai: FakeOpenAI, http, validate: Validator, body: dict[str, Any]) -> None:
    await checked(http, fake_openai, validate, "POST", "/moderations", json=body)


async def test_files_and_fine_tuning(fake_openai: FakeOpenAI, http, validate: Validator) -> None:
    empty = await checked(http, fake_openai, validate, "GET", "/files")
    assert empty["data"] == []
    created = await upload(http, fake_openai, validate, TRAINING, "train.jsonl", "fine-tune")
    await upload(http, fake_openai, validate, b"x", "notes.txt", "user_data")
    await checked(http, fake_openai, validate, "GET", "/files", params={"purpose": "fine-tune", "limit": "5"})
    await checked(http, fake_openai, validate, "GET", f"/files/{created['id']}")
    job = await checked(
        http,
        fake_openai,
        validate,
        "POST",
        "/fine_tuning/jobs",
        json={"model": "gpt-4o-mini", "training_file": created["id"], "seed": 7},
    )
    # Each phase of the job's timeline (the fake's clock moves it): validating, queued, running, done.
    for seconds in (0, 30, 100, 3600):
        fake_openai.store.advance_time(seconds)
        await checked(http, fake_openai, validate, "GET", f"/fine_tuning/jobs/{job['id']}")
        await checked(
            http, fake_openai, validate, "GET", f"/fine_tuning/jobs/{job['id']}/events", params={"limit": "2"}
        )
    await checked(http, fake_openai, validate, "GET", "/fine_tuning/jobs", params={"limit": "10"})
    other = await checked(
        http,
        fake_openai,
        validate,
        "POST",
        "/fine_tuning/jobs",
        json={"model": "davinci-002", "training_file": created["id"]},
    )
    await checked(http, fake_openai, validate, "POST", f"/fine_tuning/jobs/{other['id']}/cancel")
    await checked(http, fake_openai, validate, "DELETE", f"/files/{created['id']}")


async def test_file_content_is_the_uploaded_bytes(fake_openai: FakeOpenAI, http, validate: Validator) -> None:
    # The document types this body as a JSON string; the API sends the raw bytes, checked by hand.
    created = await upload(http, fake_openai, validate, b"a,b\n1,2\n", "t.csv", "user_data")
    status, _, data = await exchange(http, fake_openai, "GET", f"/files/{created['id']}/content")
    assert (status, data) == (200, b"a,b\n1,2\n")
    validate(fake_openai.requests[-1])


async def test_models(fake_openai: FakeOpenAI, http, validate: Validator) -> None:
    await checked(http, fake_openai, validate, "GET", "/models")


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/completions", {"json": {"model": "nope", "prompt": "x"}}),
        ("POST", "/completions", {"json": {"model": "gpt-3.5-turbo-instruct", "prompt": "x" * 20000}}),
        ("POST", "/images/generations", {"json": {"model": "dall-e-3", "prompt": "x", "n": 3}}),
        ("POST", "/embeddings", {"json": {"model": "text-embedding-3-small", "input": ["x"] * 2049}}),
        ("POST", "/moderations", {"json": {}}),
        ("GET", "/files/file-missing", {}),
        ("GET", "/fine_tuning/jobs/ftjob-missing", {}),
        ("GET", "/nowhere", {}),
        ("GET", "/models", {"headers": {"Authorization": "Bearer sk-bad"}}),
    ],
)
async def test_error_bodies(
    fake_openai: FakeOpenAI, http, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    status, headers, data = await exchange(http, fake_openai, method, path, **kwargs)
    assert 400 <= status < 500
    assert headers["Content-Type"].startswith("application/json")
    assert check_error_body(json.loads(data)) == []


@pytest.mark.parametrize("status", [400, 401, 403, 404, 408, 409, 422, 429, 500, 502, 503, 504])
async def test_fault_default_error_bodies(fake_openai: FakeOpenAI, http, status: int) -> None:
    fake_openai.add_fault(Fault(status=status))
    got, _, data = await exchange(
        http, fake_openai, "POST", "/completions", json={"model": "gpt-3.5-turbo-instruct", "prompt": "x"}
    )
    assert got == status
    assert check_error_body(json.loads(data)) == []


async def test_rate_limit_429_body(fake_openai: FakeOpenAI, http) -> None:
    fake_openai.set_rate_limits(requests_per_minute=1)
    await exchange(http, fake_openai, "GET", "/models")
    status, headers, data = await exchange(http, fake_openai, "GET", "/models")
    assert status == 429 and "Retry-After" in headers
    assert check_error_body(json.loads(data)) == []


async def test_harness_rejects_what_the_document_forbids(
    fake_openai: FakeOpenAI, http, validate: Validator
) -> None:
    # Guards against a vacuous harness: a broken body and a broken request must both fail.
    status, headers, data = await exchange(
        http, fake_openai, "POST", "/completions", json={"model": "gpt-3.5-turbo-instruct", "prompt": "x"}
    )
    broken = json.loads(data)
    del broken["choices"]
    with pytest.raises(Exception, match="choices"):
        validate(fake_openai.requests[-1], status, headers, json.dumps(broken).encode())
    await exchange(
        http,
        fake_openai,
        "POST",
        "/completions",
        json={"model": "gpt-3.5-turbo-instruct", "prompt": "x", "max_tokens": -1},
    )
    with pytest.raises(Exception):  # noqa: B017 - openapi-core wraps the schema error in its own types
        validate(fake_openai.requests[-1])
