"""Retries, timeouts, broken streams and error mapping, driven by the fake server's fault injection.
Also checks that the API key never leaks into logs, exception text or reprs."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import pytest

from bot.openai_api import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    ContentPolicyError,
    InternalServerError,
    OpenAIClient,
    OpenAIError,
    QuotaExceededError,
    RateLimitError,
)
from tests.fakes.openai_server import FakeOpenAI, Fault

KEY = "sk-test-faults-fedcba9876543210"
MODEL = "gpt-3.5-turbo-instruct"
COMPLETIONS = "/v1/completions"


class Sleeps:
    """Replaces asyncio.sleep between retries, recording each delay instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI(api_key=KEY, stream_delay=0.0)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def client(fake: FakeOpenAI, sleeps: Sleeps) -> AsyncIterator[OpenAIClient]:
    async with OpenAIClient(api_key=KEY, base_url=fake.base_url, timeout=5.0, sleep=sleeps) as c:
        yield c


async def test_429_retry_after_one_second_then_success(fake: FakeOpenAI) -> None:
    fake.add_fault(Fault(method="POST", path=COMPLETIONS, status=429, headers={"Retry-After": "1"}, times=1))
    prompt = "after the wait [[words:4]]"
    async with OpenAIClient(api_key=KEY, base_url=fake.base_url) as client:  # real sleep here, on purpose
        started = time.monotonic()
        result = await client.completions.create(model=MODEL, prompt=prompt, max_tokens=20)
        elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 5.0
    assert result.meta.attempts == 2
    sent = fake.requests_to("/completions")
    assert [r.status for r in sent] == [429, 200]
    # One usage, the final response's, and the meta of the response that succeeded.
    assert result.usage is not None and result.usage.completion_tokens == 4
    assert result.meta.request_id == sent[1].request_id


async def test_insufficient_quota_is_raised_at_once(
    fake: FakeOpenAI, client: OpenAIClient, sleeps: Sleeps
) -> None:
    fake.add_fault(Fault(method="POST", path=COMPLETIONS, status=429, code="insufficient_quota", times=3))
    with pytest.raises(QuotaExceededError) as info:
        await client.completions.create(model=MODEL, prompt="x")
    assert info.value.status == 429 and info.value.code == "insufficient_quota"
    assert info.value.request_id and info.value.request_id.startswith("req_")
    assert len(fake.requests_to("/completions")) == 1
    assert sleeps.delays == []


async def test_500_500_200_retries_twice_with_backoff(
    fake: FakeOpenAI, client: OpenAIClient, sleeps: Sleeps
) -> None:
    fake.add_fault(Fault(method="POST", path=COMPLETIONS, status=500, times=2))
    result = await client.completions.create(model=MODEL, prompt="third time [[words:3]]", max_tokens=20)
    assert result.meta.attempts == 3 and result.text
    assert result.usage is not None and result.usage.completion_tokens == 3
    assert [r.status for r in fake.requests_to("/completions")] == [500, 500, 200]
    assert len(sleeps.delays) == 2
    assert 0.375 <= sleeps.delays[0] <= 0.5 and 0.75 <= sleeps.delays[1] <= 1.0


async def test_retries_are_bounded_by_max_retries(
    fake: FakeOpenAI, client: OpenAIClient, sleeps: Sleeps
) -> None:
    fake.add_fault(Fault(method="POST", path=COMPLETIONS, status=503, times=5))
    with pytest.raises(InternalServerError) as info:
        await client.completions.create(model=MODEL, prompt="x")
    assert info.value.status == 503
    assert len(fake.requests_to("/completions")) == 3 and len(sleeps.delays) == 2


async def test_a_call_can_lower_the_retries_to_none(
    fake: FakeOpenAI, client: OpenAIClient, sleeps: Sleeps
) -> None:
    fake.add_fault(Fault(method="GET", path="/v1/models", status=503, times=5))
    with pytest.raises(InternalServerError):
        await client.models.list(max_retries=0)
    assert len(fake.requests_to("/v1/models")) == 1 and sleeps.delays == []
    # The client's own setting still applies to the next call.
    with pytest.raises(InternalServerError):
        await client.models.list()
    assert len(fake.requests_to("/v1/models")) == 4 and len(sleeps.delays) == 2


async def test_408_and_409_are_retried(fake: FakeOpenAI, client: OpenAIClient) -> None:
    fake.add_fault(Fault(method="GET", path="/v1/models", status=408, times=1))
    fake.add_fault(Fault(method="GET", path="/v1/models", status=409, times=1))
    result = await client.models.list()
    assert result.meta.attempts == 3


async def test_409_conflict_after_retries_is_conflict_error(fake: FakeOpenAI, client: OpenAIClient) -> None:
    fake.add_fault(Fault(method="GET", path="/v1/models", status=409, times=3))
    with pytest.raises(ConflictError):
        await client.models.list()


async def test_html_502_body_gives_typed_error_with_message(
    fake: FakeOpenAI, client: OpenAIClient, sleeps: Sleeps
) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    fake.add_fault(Fault(method="GET", path="/v1/models", status=502, body=page, times=3))
    with pytest.raises(InternalServerError) as info:
        await client.models.list()
    assert "502 Bad Gateway" in info.value.message and info.value.status == 502
    assert len(sleeps.delays) == 2


async def test_content_policy_is_not_retried(fake: FakeOpenAI, client: OpenAIClient, sleeps: Sleeps) -> None:
    fake.add_fault(
        Fault(
            method="POST", path="/v1/images/generations", status=400, code="content_policy_violation", times=3
        )
    )
    with pytest.raises(ContentPolicyError) as info:
        await client.images.generate(model="dall-e-3", prompt="something")
    assert info.value.code == "content_policy_violation" and info.value.status == 400
    assert len(fake.requests_to("/images/generations")) == 1 and sleeps.delays == []


async def test_plain_429_rate_limit_exhausts_retries(
    fake: FakeOpenAI, client: OpenAIClient, sleeps: Sleeps
) -> None:
    fake.add_fault(
        Fault(method="GET", path="/v1/models", status=429, headers={"retry-after-ms": "5"}, times=3)
    )
    with pytest.raises(RateLimitError):
        await client.models.list()
    assert sleeps.delays == [0.005, 0.005]


async def test_timeout_raises_timeout_error(fake: FakeOpenAI, sleeps: Sleeps) -> None:
    fake.add_fault(Fault(method="GET", path="/v1/models", delay=1.0, times=2))
    async with OpenAIClient(
        api_key=KEY, base_url=fake.base_url, timeout=0.2, max_retries=1, sleep=sleeps
    ) as client:
        with pytest.raises(APITimeoutError) as info:
            await client.models.list()
    assert isinstance(info.value, APIConnectionError)
    assert len(fake.requests_to("/models")) == 2 and len(sleeps.delays) == 1


async def test_per_request_timeout_overrides_default(fake: FakeOpenAI, client: OpenAIClient) -> None:
    fake.add_fault(Fault(method="GET", path="/v1/models", delay=0.5, times=3))
    with pytest.raises(APITimeoutError):
        await client.models.list(request_timeout=0.1)


async def test_truncated_plain_body_is_retried(fake: FakeOpenAI, client: OpenAIClient) -> None:
    fake.add_fault(Fault(method="GET", path="/v1/models", drop_after_chunks=1, times=1))
    result = await client.models.list()
    assert result.meta.attempts == 2 and result.data


async def test_malformed_success_body_is_validation_error(fake: FakeOpenAI, client: OpenAIClient) -> None:
    fake.add_fault(Fault(method="POST", path=COMPLETIONS, malformed=True, times=1))
    with pytest.raises(APIResponseValidationError) as info:
        await client.completions.create(model=MODEL, prompt="x")
    assert info.value.request_id


async def test_connection_dropped_mid_stream(fake: FakeOpenAI, client: OpenAIClient) -> None:
    fake.add_fault(Fault(method="POST", path=COMPLETIONS, drop_after_chunks=3, times=1))
    prompt = "a long one [[words:10]]"
    stream = await client.completions.stream(model=MODEL, prompt=prompt, max_tokens=50)
    seen: list[str] = []
    with pytest.raises(APIConnectionError) as info:
        async for chunk in stream:
            seen.append(chunk.choices[0].text)
    assert not isinstance(info.value, APITimeoutError)
    assert len(seen) == 3
    expected = fake.completion_text_for(prompt, 50)
    assert stream.text == "".join(seen) and expected.startswith(stream.text)
    assert stream.finish_reason is None and stream.usage is None and stream.closed
    assert len(fake.requests_to("/completions")) == 1  # no silent retry duplicating text


async def test_error_event_mid_stream_is_typed(fake: FakeOpenAI, client: OpenAIClient) -> None:
    fake.add_fault(Fault(method="POST", path=COMPLETIONS, stream_error_after_chunks=2, times=1))
    async with await client.completions.stream(model=MODEL, prompt="x [[words:10]]", max_tokens=50) as stream:
        with pytest.raises(InternalServerError) as info:
            async for _ in stream:
                pass
    assert info.value.type == "server_error" and info.value.request_id == stream.meta.request_id
    assert stream.text and stream.finish_reason is None


async def test_stream_establishment_is_retried(
    fake: FakeOpenAI, client: OpenAIClient, sleeps: Sleeps
) -> None:
    fake.add_fault(Fault(method="POST", path=COMPLETIONS, status=500, times=1))
    async with await client.completions.stream(model=MODEL, prompt="x [[words:3]]", max_tokens=9) as stream:
        [c async for c in stream]
    assert stream.meta.attempts == 2 and len(sleeps.delays) == 1
    assert stream.usage is not None and stream.usage.completion_tokens == 3


async def test_early_close_of_stream_closes_connection(fake: FakeOpenAI, client: OpenAIClient) -> None:
    fake.stream_delay = 0.01
    async with await client.completions.stream(
        model=MODEL, prompt="x [[words:200]]", max_tokens=400
    ) as stream:
        async for _ in stream:
            break
        response = stream._response
    assert stream.closed and response.closed and response.connection is None
    assert len(stream.text.split()) <= 1
    # The client is still usable afterwards.
    assert (await client.models.list()).data


async def test_api_key_never_leaks(
    fake: FakeOpenAI, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[OpenAIError] = []
    results: list[object] = []
    async with OpenAIClient(api_key=KEY, base_url=fake.base_url, timeout=0.2, sleep=sleeps) as client:
        fake.add_fault(Fault(method="POST", path=COMPLETIONS, status=500, times=1))
        results.append(await client.completions.create(model=MODEL, prompt="x"))
        async with await client.completions.stream(model=MODEL, prompt="y") as stream:
            results.extend([c async for c in stream])
        results.append(stream.meta)
        faults = [
            Fault(method="GET", path="/v1/models", status=429, code="insufficient_quota"),
            Fault(method="GET", path="/v1/models", status=400, body=f"echo {KEY}"),
            Fault(method="GET", path="/v1/models", status=401, body={"error": {"message": f"bad key {KEY}"}}),
            Fault(method="GET", path="/v1/models", delay=1.0, times=3),
            Fault(method="GET", path="/v1/models", malformed=True),
        ]
        for fault in faults:
            fake.clear_faults()
            fake.add_fault(fault)
            with pytest.raises(OpenAIError) as info:
                await client.models.list()
            errors.append(info.value)
        fake.clear_faults()
        results.append(client)
    async with OpenAIClient(api_key="sk-wrong-key-000000000000", base_url=fake.base_url) as wrong:
        with pytest.raises(AuthenticationError) as auth:
            await wrong.models.list()
        errors.append(auth.value)
    assert len(errors) == 6
    for error in errors:
        assert KEY not in str(error) and KEY not in repr(error) and KEY not in error.message
        assert "sk-wrong-key-000000000000" not in str(error)
    for result in results:
        assert KEY not in repr(result)
    assert caplog.records, "DEBUG logging was captured"
    assert KEY not in caplog.text
    assert all(KEY not in r.getMessage() for r in caplog.records)
