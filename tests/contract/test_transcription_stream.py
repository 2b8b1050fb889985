"""The fake's streamed transcription (`stream=true`) against the official OpenAPI document: the
request the bot's client sends, and every event, as `CreateTranscriptionResponseStreamEvent`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import jsonschema
import pytest

from bot.openai_api import OpenAIClient
from tests.contract.openapi_adapter import _document, check_multipart
from tests.fakes.openai_server import TEST_API_KEY, FakeOpenAI


@pytest.fixture
async def client(fake_openai: FakeOpenAI) -> AsyncIterator[OpenAIClient]:
    async with OpenAIClient(api_key=TEST_API_KEY, base_url=fake_openai.base_url, max_retries=0) as c:
        yield c


def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": _document()["components"]}
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("model", ["gpt-4o-transcribe", "gpt-4o-mini-transcribe"])
async def test_stream_request_and_events_match_the_document(
    fake_openai: FakeOpenAI, client: OpenAIClient, model: str
) -> None:
    stream = await client.audio.stream_transcription(
        file=b"FAKE-TRANSCRIPT:a short voice note", filename="v.ogg", model=model, language="en"
    )
    async with stream:
        async for _ in stream:
            pass
    rec = fake_openai.requests[-1]
    assert check_multipart(rec, "CreateTranscriptionRequest") == []
    # The raw body, as the server sent it: every data line is one event; no [DONE] line.
    raw = await _raw_events(fake_openai, model)
    assert [e["type"] for e in raw][-1] == "transcript.text.done"
    any_event = _validator("CreateTranscriptionResponseStreamEvent")
    for event in raw:
        any_event.validate(event)
        delta = str(event["type"]).endswith("delta")
        _validator("TranscriptTextDeltaEvent" if delta else "TranscriptTextDoneEvent").validate(event)
    _validator("TranscriptTextUsageTokens").validate(raw[-1]["usage"])


async def _raw_events(fake: FakeOpenAI, model: str) -> list[dict[str, object]]:
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("model", model)
    form.add_field("stream", "true")
    form.add_field("file", b"FAKE-TRANSCRIPT:a short voice note", filename="v.ogg", content_type="audio/ogg")
    headers = {"Authorization": f"Bearer {TEST_API_KEY}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(fake.base_url + "/audio/transcriptions", data=form) as response,
    ):
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/event-stream")
        body = (await response.read()).decode()
    lines = [line[6:] for line in body.split("\n") if line.startswith("data: ")]
    assert "[DONE]" not in lines
    return [json.loads(line) for line in lines]
