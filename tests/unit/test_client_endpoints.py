"""Round trip of every endpoint family against the shared fake OpenAI server on loopback.
Checks what is sent (headers, JSON without nulls, multipart parts) and what comes back (typed, meta)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.openai_api import (
    Completion,
    NotFoundError,
    OpenAIClient,
    TextTranscription,
    Transcription,
    image_part,
    text_part,
)
from tests.fakes.openai_server import FakeOpenAI

KEY = "sk-test-endpoints-0123456789abcdef"


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI(api_key=KEY, stream_delay=0.0)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[OpenAIClient]:
    async with OpenAIClient(
        api_key=KEY, base_url=fake.base_url, organization="org-123", project="proj-456", timeout=10.0
    ) as c:
        yield c


def has_null(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(has_null(v) for v in value.values())
    if isinstance(value, list):
        return any(has_null(v) for v in value)
    return False


async def test_completion_round_trip(fake: FakeOpenAI, client: OpenAIClient) -> None:
    prompt = "Tell me about tea [[words:7]]"
    result = await client.completions.create(model="gpt-3.5-turbo-instruct", prompt=prompt, max_tokens=50)
    assert isinstance(result, Completion)
    assert result.text == fake.completion_text_for(prompt, 50)
    assert result.choices[0].finish_reason == "stop"
    assert result.usage is not None and result.usage.completion_tokens == 7
    assert result.usage.total_tokens == result.usage.prompt_tokens + 7
    (sent,) = fake.requests_to("/completions")
    assert result.meta.request_id == sent.request_id and result.meta.request_id.startswith("req_")
    assert result.meta.attempts == 1 and result.meta.status == 200
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.headers["OpenAI-Organization"] == "org-123"
    assert sent.headers["OpenAI-Project"] == "proj-456"
    assert sent.json == {"model": "gpt-3.5-turbo-instruct", "prompt": prompt, "max_tokens": 50}


async def test_rate_limit_headers_are_parsed(fake: FakeOpenAI, client: OpenAIClient) -> None:
    fake.set_rate_limits(requests_per_minute=100, tokens_per_minute=10_000)
    result = await client.models.list()
    limits = result.meta.rate_limits
    assert limits.limit_requests == 100 and limits.limit_tokens == 10_000
    assert limits.remaining_requests is not None and limits.remaining_requests < 100
    assert limits.reset_requests is not None and 0 <= limits.reset_requests <= 60


async def test_completion_stream_round_trip(fake: FakeOpenAI, client: OpenAIClient) -> None:
    prompt = "Stream me [[words:5]]"
    async with await client.completions.stream(
        model="gpt-3.5-turbo-instruct", prompt=prompt, max_tokens=50
    ) as stream:
        chunks = [c async for c in stream]
    expected = fake.completion_text_for(prompt, 50)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == expected
    assert stream.text == expected and stream.finish_reason == "stop"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][:-1] == [None] * 5
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert stream.usage is not None and stream.usage.completion_tokens == 5 and stream.usage_reported
    (sent,) = fake.requests_to("/completions")
    assert sent.json["stream"] is True and sent.json["stream_options"] == {"include_usage": True}
    assert sent.headers["Accept"] == "text/event-stream"
    assert stream.meta.request_id == sent.request_id


async def test_stream_from_server_without_usage(client: OpenAIClient) -> None:
    async with await client.completions.stream(
        model="gpt-3.5-turbo-instruct", prompt="hi [[no-usage]]"
    ) as stream:
        [c async for c in stream]
    assert stream.text and stream.usage is None and not stream.usage_reported


async def test_images_url_and_b64(fake: FakeOpenAI, client: OpenAIClient) -> None:
    result = await client.images.generate(
        model="dall-e-2", prompt="a cat", n=2, size="256x256", response_format="url"
    )
    assert len(result.data) == 2
    assert all(d.url and d.url.startswith(fake.origin) for d in result.data)
    assert result.data[0].image_bytes() is None
    b64 = await client.images.generate(
        model="gpt-image-1",
        prompt="a dog",
        size="1024x1024",
        quality="low",
        output_format="png",
        background="opaque",
    )
    png = b64.data[0].image_bytes()
    assert png is not None and png.startswith(b"\x89PNG")
    assert b64.usage is not None and b64.usage.output_tokens > 0
    sent = fake.requests_to("/images/generations")
    assert not any(has_null(r.json) for r in sent)
    assert sent[1].json == {
        "prompt": "a dog",
        "model": "gpt-image-1",
        "size": "1024x1024",
        "quality": "low",
        "output_format": "png",
        "background": "opaque",
    }


async def test_transcription_json_and_text_formats(fake: FakeOpenAI, client: OpenAIClient) -> None:
    audio = b"FAKE-TRANSCRIPT:hello from the voice channel"
    result = await client.audio.transcribe(
        file=audio,
        filename="voice.ogg",
        model="whisper-1",
        language="en",
        prompt="greeting",
        response_format="verbose_json",
        temperature=0.0,
    )
    assert isinstance(result, Transcription)
    assert result.text == "hello from the voice channel"
    assert result.duration is not None and result.duration > 0
    sent = fake.requests_to("/audio/transcriptions")[-1]
    upload = sent.files["file"]
    assert (upload.filename, upload.content_type, upload.data) == ("voice.ogg", "audio/ogg", audio)
    assert sent.form == {
        "model": "whisper-1",
        "language": "en",
        "prompt": "greeting",
        "response_format": "verbose_json",
        "temperature": "0.0",
    }

    text = await client.audio.transcribe(
        file=audio, filename="v.mp3", model="whisper-1", response_format="text"
    )
    assert isinstance(text, TextTranscription)
    assert text.text == "hello from the voice channel" and text.meta.request_id
    srt = await client.audio.transcribe(
        file=audio, filename="v.mp3", model="whisper-1", response_format="srt"
    )
    assert isinstance(srt, TextTranscription) and "-->" in srt.text

    tokens = await client.audio.transcribe(file=audio, filename="v.wav", model="gpt-4o-transcribe")
    assert isinstance(tokens, Transcription) and tokens.usage is not None
    assert tokens.usage.type in ("tokens", "duration")


async def test_embeddings_float_and_base64(fake: FakeOpenAI, client: OpenAIClient) -> None:
    floats = await client.embeddings.create(input=["one", "two"], model="text-embedding-3-small")
    assert [d.index for d in floats.data] == [0, 1]
    assert len(floats.data[0].embedding) == 1536
    assert floats.usage is not None and floats.usage.prompt_tokens > 0
    packed = await client.embeddings.create(
        input=["one", "two"], model="text-embedding-3-small", encoding_format="base64"
    )
    for a, b in zip(floats.data, packed.data, strict=True):
        assert b.floats() == pytest.approx(a.floats(), abs=1e-6)
        assert b.packed() == a.packed()  # the fake rounds to 7 decimals: float32 is exact either way
    short = await client.embeddings.create(input="one", model="text-embedding-3-small", dimensions=256)
    assert len(short.data[0].embedding) == 256
    assert fake.requests_to("/embeddings")[2].json == {
        "input": "one",
        "model": "text-embedding-3-small",
        "dimensions": 256,
    }


async def test_moderations_string_list_and_mixed(client: OpenAIClient) -> None:
    single = await client.moderations.create(input="a friendly note")
    assert len(single.results) == 1 and not single.results[0].flagged
    many = await client.moderations.create(
        input=["fine", "flag:harassment", "also fine"], model="omni-moderation-latest"
    )
    assert [r.flagged for r in many.results] == [False, True, False]
    assert many.results[1].categories["harassment"] is True
    assert many.results[1].category_scores["harassment"] > 0.5
    assert "harassment" in many.results[1].flagged_categories()
    mixed = await client.moderations.create(
        input=[text_part("hello"), image_part("https://example.com/flag-violence.png")],
        model="omni-moderation-latest",
    )
    assert len(mixed.results) >= 1
    applied = mixed.results[0].category_applied_input_types
    assert applied is not None and "image" in applied.get("violence", [])


async def test_files_lifecycle(fake: FakeOpenAI, client: OpenAIClient) -> None:
    data = b'{"prompt": "a", "completion": "b"}\n'
    created = await client.files.create(file=data, filename="notes.jsonl", purpose="user_data")
    assert created.id and created.filename == "notes.jsonl" and created.purpose == "user_data"
    assert created.bytes == len(data)
    sent = fake.requests_to("/files", "POST")[0]
    assert sent.form["purpose"] == "user_data" and sent.files["file"].data == data
    listed = await client.files.list(purpose="user_data")
    assert [f.id for f in listed.data] == [created.id]
    assert (await client.files.retrieve(created.id)).id == created.id
    assert await client.files.content(created.id) == data
    deleted = await client.files.delete(created.id)
    assert deleted.deleted and deleted.id == created.id
    with pytest.raises(NotFoundError):
        await client.files.retrieve(created.id)


async def test_fine_tuning_jobs_and_event_pagination(fake: FakeOpenAI, client: OpenAIClient) -> None:
    training = await client.files.create(
        file=b'{"messages": [{"role": "user", "content": "hi"}]}\n' * 10,
        filename="t.jsonl",
        purpose="fine-tune",
    )
    job = await client.fine_tuning.create(model="gpt-4o-mini", training_file=training.id, suffix="bot")
    assert job.id and job.training_file == training.id and job.meta.request_id
    jobs = await client.fine_tuning.list(limit=10)
    assert job.id in [j.id for j in jobs.data]
    # The fake moves a job along its clock (validating -> queued), logging events.
    fake.store.advance_time(fake.store.validating_seconds)
    assert (await client.fine_tuning.retrieve(job.id)).status == "queued"
    everything = await client.fine_tuning.list_events(job.id, limit=100)
    assert len(everything.data) >= 2 and not everything.has_more
    first = await client.fine_tuning.list_events(job.id, limit=1)
    assert [e.id for e in first.data] == [everything.data[0].id] and first.has_more
    second = await client.fine_tuning.list_events(job.id, after=first.data[0].id, limit=1)
    assert [e.id for e in second.data] == [everything.data[1].id]
    cancelled = await client.fine_tuning.cancel(job.id)
    assert cancelled.status == "cancelled"


async def test_models_list(fake: FakeOpenAI, client: OpenAIClient) -> None:
    models = await client.models.list()
    assert "whisper-1" in models.ids() and "text-embedding-3-small" in models.ids()
    whisper = next(m for m in models.data if m.id == "whisper-1")
    assert whisper.owned_by and whisper.created > 0
    fake.retire_model("whisper-1")
    assert "whisper-1" not in (await client.models.list()).ids()
