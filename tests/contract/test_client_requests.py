"""Every kind of request the bot's OpenAI client sends, against the official OpenAPI document.

The client (`bot.openai_api`) talks to the fake; the fake's record of the request is validated, so a
field the real API would reject fails here before it fails in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.openai_api import OpenAIClient, image_part, text_part
from tests.contract.conftest import Validator
from tests.contract.openapi_adapter import check_multipart
from tests.fakes.openai_server import FakeOpenAI

TRAINING = (b'{"prompt": "a", "completion": "b"}\n') * 10


@pytest.fixture
async def client(fake_openai: FakeOpenAI) -> AsyncIterator[OpenAIClient]:
    async with OpenAIClient(
        api_key=fake_openai.api_key or "", base_url=fake_openai.base_url, max_retries=0
    ) as client:
        yield client


async def test_completion_request(fake_openai: FakeOpenAI, client: OpenAIClient, validate: Validator) -> None:
    result = await client.completions.create(model="gpt-3.5-turbo-instruct", prompt="hello", max_tokens=20)
    assert result.choices[0].text == fake_openai.completion_text_for("hello", 20)
    validate(fake_openai.requests[-1])
    assert "temperature" not in fake_openai.requests[-1].json  # unset fields are omitted, not null


async def test_completion_request_with_options(
    fake_openai: FakeOpenAI, client: OpenAIClient, validate: Validator
) -> None:
    await client.completions.create(
        model="davinci-002", prompt=["a", "b"], max_tokens=5, temperature=0.5, stop=["\n"], user="guild-1"
    )
    validate(fake_openai.requests[-1])


async def test_streamed_completion_request(
    fake_openai: FakeOpenAI, client: OpenAIClient, validate: Validator
) -> None:
    prompt = "stream [[words:8]]"
    stream = await client.completions.stream(model="gpt-3.5-turbo-instruct", prompt=prompt, max_tokens=50)
    async with stream:
        async for _ in stream:
            pass
    assert stream.text == fake_openai.completion_text_for(prompt, 50)
    rec = fake_openai.requests[-1]
    assert rec.json["stream"] is True and rec.json["stream_options"] == {"include_usage": True}
    validate(rec)


async def test_image_requests(fake_openai: FakeOpenAI, client: OpenAIClient, validate: Validator) -> None:
    await client.images.generate(
        model="dall-e-3", prompt="a fox", n=1, size="1792x1024", quality="hd", response_format="url"
    )
    validate(fake_openai.requests[-1])
    await client.images.generate(
        model="dall-e-2", prompt="a fox", n=2, size="256x256", response_format="b64_json"
    )
    validate(fake_openai.requests[-1])
    await client.images.generate(model="gpt-image-1", prompt="a fox", size="1024x1536", quality="low")
    validate(fake_openai.requests[-1])


@pytest.mark.parametrize(
    ("model", "response_format"),
    [
        ("whisper-1", "verbose_json"),
        ("whisper-1", "srt"),
        ("whisper-1", "text"),
        ("gpt-4o-transcribe", "json"),
    ],
)
async def test_transcription_request(
    fake_openai: FakeOpenAI, client: OpenAIClient, model: str, response_format: str
) -> None:
    await client.audio.transcribe(
        file=b"FAKE-TRANSCRIPT:hello there",
        filename="voice.ogg",
        content_type="audio/ogg",
        model=model,
        response_format=response_format,
    )
    rec = fake_openai.requests[-1]
    assert rec.status == 200
    assert check_multipart(rec, "CreateTranscriptionRequest") == []
    assert rec.files["file"].filename == "voice.ogg"


async def test_embedding_requests(fake_openai: FakeOpenAI, client: OpenAIClient, validate: Validator) -> None:
    await client.embeddings.create(input=["a", "b"], model="text-embedding-3-small", dimensions=64)
    validate(fake_openai.requests[-1])
    await client.embeddings.create(input="a", model="text-embedding-3-large", encoding_format="base64")
    validate(fake_openai.requests[-1])


async def test_moderation_requests(
    fake_openai: FakeOpenAI, client: OpenAIClient, validate: Validator
) -> None:
    result = await client.moderations.create(
        input=["fine", "flag:harassment"], model="omni-moderation-latest"
    )
    assert [r.flagged for r in result.results] == [False, True]
    validate(fake_openai.requests[-1])
    await client.moderations.create(input=[text_part("look"), image_part("https://cdn.example/a.png")])
    validate(fake_openai.requests[-1])


async def test_file_and_fine_tuning_requests(
    fake_openai: FakeOpenAI, client: OpenAIClient, validate: Validator
) -> None:
    created = await client.files.create(file=TRAINING, filename="train.jsonl", purpose="fine-tune")
    assert check_multipart(fake_openai.requests[-1], "CreateFileRequest") == []
    await client.files.list()
    validate(fake_openai.requests[-1])
    await client.files.retrieve(created.id)
    validate(fake_openai.requests[-1])
    job = await client.fine_tuning.create(model="davinci-002", training_file=created.id)
    validate(fake_openai.requests[-1])
    await client.fine_tuning.list(limit=5)
    validate(fake_openai.requests[-1])
    await client.fine_tuning.retrieve(job.id)
    validate(fake_openai.requests[-1])
    await client.fine_tuning.list_events(job.id, limit=2)
    validate(fake_openai.requests[-1])
    await client.fine_tuning.cancel(job.id)
    validate(fake_openai.requests[-1])
    notes = await client.files.create(file=b"a,b\n", filename="notes.csv", purpose="user_data")
    assert await client.files.content(notes.id) == b"a,b\n"
    validate(fake_openai.requests[-1])
    await client.files.delete(created.id)
    validate(fake_openai.requests[-1])


async def test_models_request(fake_openai: FakeOpenAI, client: OpenAIClient, validate: Validator) -> None:
    models = await client.models.list()
    assert any(m.id == "gpt-3.5-turbo-instruct" for m in models.data)
    validate(fake_openai.requests[-1])
