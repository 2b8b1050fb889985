"""Streamed transcription (gpt-4o*-transcribe, `stream=true`) through the client against the fake.

The fake sends `transcript.text.delta` per word and ends with `transcript.text.done` (no [DONE]).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.openai_api import APIConnectionError, BadRequestError, OpenAIClient, TranscriptionStream
from tests.fakes.openai_server import FakeOpenAI, Fault

KEY = "sk-test-transcribe-0123456789abcdef"
AUDIO = b"FAKE-TRANSCRIPT:one two three four five"


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI(api_key=KEY, stream_delay=0.0)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[OpenAIClient]:
    async with OpenAIClient(api_key=KEY, base_url=fake.base_url, timeout=10.0, max_retries=0) as c:
        yield c


async def test_stream_yields_deltas_then_done_with_usage(fake: FakeOpenAI, client: OpenAIClient) -> None:
    stream = await client.audio.stream_transcription(file=AUDIO, filename="v.ogg", model="gpt-4o-transcribe")
    assert isinstance(stream, TranscriptionStream)
    seen: list[str] = []
    async with stream:
        async for event in stream:
            if event.type == "transcript.text.delta":
                seen.append(stream.text)
    assert seen[0] == "one " and len(seen) == 5
    assert stream.done and stream.text == "one two three four five"
    assert stream.usage is not None and stream.usage.type == "tokens" and stream.usage.input_tokens
    assert stream.meta.request_id
    (sent,) = fake.requests_to("/audio/transcriptions")
    assert sent.form == {"model": "gpt-4o-transcribe", "stream": "true"}
    assert sent.files["file"].data == AUDIO


async def test_stream_cut_before_done_raises(fake: FakeOpenAI, client: OpenAIClient) -> None:
    fake.add_fault(Fault(path="/v1/audio/transcriptions", drop_after_chunks=2))
    stream = await client.audio.stream_transcription(file=AUDIO, filename="v.ogg", model="gpt-4o-transcribe")
    with pytest.raises(APIConnectionError):
        async with stream:
            async for _ in stream:
                pass
    assert stream.text == "one two " and not stream.done


async def test_whisper_refuses_to_stream(client: OpenAIClient) -> None:
    with pytest.raises(BadRequestError):
        await client.audio.stream_transcription(file=AUDIO, filename="v.ogg", model="whisper-1")
