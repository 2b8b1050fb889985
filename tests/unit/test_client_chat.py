"""Chat completions in the client, against the fake server: bodies sent, parameter rules, streams,
usage, finish reasons, errors and rate limits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.openai_api import (
    APIConnectionError,
    BadRequestError,
    ChatParameterError,
    InternalServerError,
    NotFoundError,
    OpenAIClient,
    RateLimitError,
    is_reasoning_model,
    message,
    token_limit_field,
)
from tests.fakes.openai_server import FakeOpenAI, Fault
from tests.fakes.routes_chat import prompt_tokens

CHAT = "/v1/chat/completions"


@pytest.fixture
async def client(fake_openai: FakeOpenAI) -> AsyncIterator[OpenAIClient]:
    async with OpenAIClient(
        api_key=fake_openai.api_key or "", base_url=fake_openai.base_url, max_retries=0
    ) as c:
        yield c


@pytest.mark.parametrize(
    ("model", "reasoning"),
    [
        ("gpt-5.4-mini", True),
        ("gpt-5.5", True),
        ("o4-mini", True),
        ("o3", True),
        ("ft:gpt-5.4-mini:org::x", True),
        ("gpt-4.1", False),
        ("gpt-4o-mini", False),
        ("gpt-3.5-turbo", False),
        ("llama3", False),
    ],
)
def test_reasoning_models_are_recognised(model: str, reasoning: bool) -> None:
    assert is_reasoning_model(model) is reasoning
    # Compatible servers' models (llama3, ...) are not named like reasoning models: classic fields.
    assert token_limit_field(model) == ("max_completion_tokens" if reasoning else "max_tokens")


async def test_create_sends_only_set_fields_and_parses_the_answer(
    fake_openai: FakeOpenAI, client: OpenAIClient
) -> None:
    messages = [message("system", "Be brief."), message("user", "Hello [[words:7]]", name="alice")]
    result = await client.chat.completions.create(model="gpt-4.1", messages=messages, max_tokens=50)
    rec = fake_openai.requests[-1]
    assert rec.path == "/v1/chat/completions"
    assert rec.json == {"model": "gpt-4.1", "messages": messages, "max_tokens": 50}
    assert result.text == fake_openai.chat_text_for(messages, 50)
    assert len(result.text.split()) == 7
    assert result.choices[0].finish_reason == "stop"
    assert result.usage is not None and result.usage.prompt_tokens == prompt_tokens(messages)
    assert result.usage.completion_tokens == 7
    assert result.meta.request_id == rec.request_id


async def test_reasoning_model_gets_max_completion_tokens_and_no_temperature(
    fake_openai: FakeOpenAI, client: OpenAIClient
) -> None:
    messages = [message("user", "hi")]
    await client.chat.completions.create(
        model="gpt-5.4-mini", messages=messages, max_tokens=20, reasoning_effort="low", user="g:1"
    )
    body = fake_openai.requests[-1].json
    assert body == {
        "model": "gpt-5.4-mini",
        "messages": messages,
        "max_completion_tokens": 20,
        "reasoning_effort": "low",
        "user": "g:1",
    }
    sent = len(fake_openai.requests)
    with pytest.raises(ChatParameterError):
        await client.chat.completions.create(model="o4-mini", messages=messages, temperature=0.2)
    assert len(fake_openai.requests) == sent  # refused before the call
    # The default temperature is allowed.
    await client.chat.completions.create(model="o4-mini", messages=messages, temperature=1)


async def test_the_fake_refuses_classic_parameters_for_reasoning_models(fake_openai: FakeOpenAI) -> None:
    """What OpenAI answers a reasoning model given classic parameters: why the rules are needed."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {fake_openai.api_key}"}) as http:
        body = {"model": "gpt-5.5", "messages": [{"role": "user", "content": "x"}], "max_tokens": 5}
        async with http.post(fake_openai.base_url + "/chat/completions", json=body) as response:
            assert response.status == 400
            assert (await response.json())["error"]["code"] == "unsupported_parameter"
        body = {"model": "gpt-5.5", "messages": [{"role": "user", "content": "x"}], "temperature": 0.3}
        async with http.post(fake_openai.base_url + "/chat/completions", json=body) as response:
            assert (await response.json())["error"]["code"] == "unsupported_value"


async def test_stream_accumulates_text_finish_reason_and_final_usage(
    fake_openai: FakeOpenAI, client: OpenAIClient
) -> None:
    messages = [message("user", "Tell me [[words:12]]")]
    stream = await client.chat.completions.stream(model="gpt-4o-mini", messages=messages, max_tokens=100)
    chunks = 0
    async with stream:
        async for _ in stream:
            chunks += 1
    rec = fake_openai.requests[-1]
    assert rec.json["stream"] is True and rec.json["stream_options"] == {"include_usage": True}
    assert stream.text == fake_openai.chat_text_for(messages, 100)
    assert stream.finish_reason == "stop" and stream.deltas == 12
    assert stream.usage is not None and stream.usage.completion_tokens == 12
    assert stream.usage_reported and chunks == 12 + 3  # role, 12 deltas, finish, usage


async def test_stream_length_filter_and_no_usage(fake_openai: FakeOpenAI, client: OpenAIClient) -> None:
    stream = await client.chat.completions.stream(
        model="gpt-4.1", messages=[message("user", "[[words:30]]")], max_tokens=5
    )
    async for _ in stream:
        pass
    assert stream.finish_reason == "length" and len(stream.text.split()) == 5
    stream = await client.chat.completions.stream(model="gpt-4.1", messages=[message("user", "x [[filter]]")])
    async for _ in stream:
        pass
    assert stream.finish_reason == "content_filter"
    stream = await client.chat.completions.stream(
        model="gpt-4.1", messages=[message("user", "x [[no-usage]]")]
    )
    async for _ in stream:
        pass
    assert stream.finish_reason == "stop" and not stream.usage_reported


async def test_errors_and_rate_limits(fake_openai: FakeOpenAI, client: OpenAIClient) -> None:
    with pytest.raises(NotFoundError) as info:
        await client.chat.completions.create(model="gpt-3.5-turbo-instruct", messages=[message("user", "x")])
    assert "not a chat model" in info.value.message
    with pytest.raises(NotFoundError) as info:
        await client.chat.completions.create(model="gone", messages=[message("user", "x")])
    assert info.value.code == "model_not_found"
    with pytest.raises(BadRequestError):
        await client.chat.completions.create(model="gpt-4.1", messages=[])
    with pytest.raises(BadRequestError):
        await client.chat.completions.create(
            model="gpt-3.5-turbo",
            messages=[
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}]}
            ],
        )
    with pytest.raises(BadRequestError) as info:
        await client.chat.completions.create(model="gpt-3.5-turbo", messages=[message("user", "x" * 70_000)])
    assert info.value.code == "context_length_exceeded"
    fake_openai.set_rate_limits(requests_per_minute=1)
    await client.chat.completions.create(model="gpt-4.1", messages=[message("user", "x")])
    with pytest.raises(RateLimitError):
        await client.chat.completions.create(model="gpt-4.1", messages=[message("user", "x")])


async def test_stream_faults(fake_openai: FakeOpenAI, client: OpenAIClient) -> None:
    fake_openai.add_fault(Fault(path=CHAT, stream_error_after_chunks=3))
    stream = await client.chat.completions.stream(model="gpt-4.1", messages=[message("user", "[[words:20]]")])
    with pytest.raises(InternalServerError):
        async for _ in stream:
            pass
    assert len(stream.text.split()) == 2  # what came before the error is kept
    fake_openai.add_fault(Fault(path=CHAT, drop_after_chunks=4))
    stream = await client.chat.completions.stream(model="gpt-4.1", messages=[message("user", "[[words:20]]")])
    with pytest.raises(APIConnectionError):
        async for _ in stream:
            pass
    assert len(stream.text.split()) == 3


async def test_completions_endpoint_answers_chat_models_with_openais_error(client: OpenAIClient) -> None:
    with pytest.raises(NotFoundError) as info:
        await client.completions.create(model="gpt-5.4-mini", prompt="x")
    assert "chat model" in info.value.message and "v1/chat/completions" in info.value.message


async def test_image_parts_reach_vision_models(fake_openai: FakeOpenAI, client: OpenAIClient) -> None:
    parts = [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": "https://x/a.png"}},
    ]
    result = await client.chat.completions.create(model="gpt-4o", messages=[message("user", parts)])
    assert result.usage is not None and result.usage.prompt_tokens == prompt_tokens([message("user", parts)])
    assert fake_openai.requests[-1].json["messages"][0]["content"] == parts
