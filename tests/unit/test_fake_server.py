"""The fake OpenAI server's own behaviour: completions, errors, auth, faults, rate limits, threading.

Plain aiohttp requests against the fake, so a broken fake cannot hide behind the bot's client.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.openai_server import TEST_API_KEY, FakeOpenAI, Fault
from tests.fakes.ratelimit import RateLimiter, format_reset
from tests.fakes.textgen import estimate_tokens, tokenize_output

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
MODEL = "gpt-3.5-turbo-instruct"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


async def post_json(http: aiohttp.ClientSession, fake: FakeOpenAI, path: str, body: Any) -> tuple[int, Any]:
    async with http.post(fake.base_url + path, json=body) as response:
        return response.status, await response.json()


async def read_sse(response: aiohttp.ClientResponse) -> list[str]:
    """The payload of each `data:` line, in order."""
    text = await response.text()
    return [line[len("data: ") :] for line in text.split("\n") if line.startswith("data: ")]


def assert_error(body: Any, code: str | None, param: str | None = None) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    assert body["error"]["code"] == code
    if param is not None:
        assert body["error"]["param"] == param


# completions --------------------------------------------------------------------------------------


async def test_completion_text_matches_completion_text_for_and_usage(fake_openai: FakeOpenAI, http) -> None:
    prompt = "Tell me a story about rivers."
    status, body = await post_json(
        http, fake_openai, "/completions", {"model": MODEL, "prompt": prompt, "max_tokens": 200}
    )
    assert status == 200
    choice = body["choices"][0]
    assert choice["text"] == fake_openai.completion_text_for(prompt, 200)
    assert choice["finish_reason"] == "stop"
    words = len(choice["text"].split())
    assert 20 <= words <= 60
    assert body["usage"] == {
        "prompt_tokens": estimate_tokens(prompt),
        "completion_tokens": words,
        "total_tokens": estimate_tokens(prompt) + words,
    }
    assert body["object"] == "text_completion" and body["id"].startswith("cmpl-")


async def test_default_max_tokens_is_16_and_cuts_with_length(fake_openai: FakeOpenAI, http) -> None:
    status, body = await post_json(
        http, fake_openai, "/completions", {"model": MODEL, "prompt": "[[words:40]]"}
    )
    assert status == 200
    assert len(body["choices"][0]["text"].split()) == 16
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 16


@pytest.mark.parametrize(
    ("prompt", "check"),
    [
        ("[[words:7]]", lambda text: len(text.split()) == 7),
        ("[[code]]", lambda text: "```python\n" in text and text.count("\n") > 100 and len(text) > 2000),
        ("[[paragraphs:3]]", lambda text: len(text.split("\n\n")) == 3),
        ("[[echo]] repeat after me", lambda text: text == "repeat after me"),
        ("[[mentions]]", lambda text: "@everyone" in text and "<@&" in text),
        ("[[cjk]]", lambda text: re.search(r"[\u4e00-\u9fff]", text) is not None),
    ],
)
async def test_output_markers_shape_the_answer(
    fake_openai: FakeOpenAI, http, prompt: str, check: Any
) -> None:
    status, body = await post_json(
        http, fake_openai, "/completions", {"model": MODEL, "prompt": prompt, "max_tokens": 2000}
    )
    assert status == 200
    text = body["choices"][0]["text"]
    assert check(text), text
    assert body["choices"][0]["finish_reason"] == "stop"


async def test_filter_and_no_usage_markers(fake_openai: FakeOpenAI, http) -> None:
    _, body = await post_json(http, fake_openai, "/completions", {"model": MODEL, "prompt": "x [[filter]]"})
    assert body["choices"][0]["finish_reason"] == "content_filter"
    _, body = await post_json(http, fake_openai, "/completions", {"model": MODEL, "prompt": "x [[no-usage]]"})
    assert "usage" not in body


async def test_stream_sends_word_chunks_then_finish_then_usage_then_done(
    fake_openai: FakeOpenAI, http
) -> None:
    prompt = "Stream this [[words:5]]"
    async with http.post(
        fake_openai.base_url + "/completions",
        json={"model": MODEL, "prompt": prompt, "stream": True, "stream_options": {"include_usage": True}},
    ) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        payloads = await read_sse(response)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    texts = [c["choices"][0]["text"] for c in chunks if c["choices"]]
    assert "".join(texts) == fake_openai.completion_text_for(prompt)
    assert texts[:-1] == tokenize_output(fake_openai.completion_text_for(prompt))
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]] == [None] * 5 + ["stop"]
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 5


async def test_stream_without_include_usage_or_with_no_usage_marker_has_no_usage(fake_openai, http) -> None:
    for body in (
        {"model": MODEL, "prompt": "a", "stream": True},
        {
            "model": MODEL,
            "prompt": "a [[no-usage]]",
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    ):
        async with http.post(fake_openai.base_url + "/completions", json=body) as response:
            chunks = [json.loads(p) for p in (await read_sse(response))[:-1]]
        assert all("usage" not in c for c in chunks)
        assert all(c["choices"] for c in chunks)


async def test_stream_delay_spaces_chunks(fake_openai: FakeOpenAI, http) -> None:
    # Asserts behaviour, not timing: with a delay the server is still mid-stream after the first chunk.
    fake_openai.stream_delay = 0.05
    async with http.post(
        fake_openai.base_url + "/completions", json={"model": MODEL, "prompt": "[[words:4]]", "stream": True}
    ) as response:
        first = await response.content.readuntil(b"\n\n")
        assert first.startswith(b"data: {")
        assert not response.content.at_eof()
        rest = await response.content.read()
    assert rest.endswith(b"data: [DONE]\n\n")


async def test_multiple_prompts_and_n_give_indexed_choices(fake_openai: FakeOpenAI, http) -> None:
    _, body = await post_json(
        http, fake_openai, "/completions", {"model": MODEL, "prompt": ["a", "b"], "n": 2}
    )
    assert [c["index"] for c in body["choices"]] == [0, 1, 2, 3]
    assert body["choices"][0]["text"] == fake_openai.completion_text_for("a")
    assert body["choices"][2]["text"] == fake_openai.completion_text_for("b")


async def test_stop_sequence_truncates(fake_openai: FakeOpenAI, http) -> None:
    full = fake_openai.completion_text_for("[[words:10]]", 100)
    stop = full.split()[3]
    _, body = await post_json(
        http,
        fake_openai,
        "/completions",
        {"model": MODEL, "prompt": "[[words:10]]", "max_tokens": 100, "stop": [" " + stop]},
    )
    assert body["choices"][0]["text"] == full[: full.index(" " + stop)]
    assert body["choices"][0]["finish_reason"] == "stop"


# validation and errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        ({"model": MODEL}, 400, "missing_required_parameter", "prompt"),
        ({"model": "gpt-nope", "prompt": "x"}, 404, "model_not_found", None),
        ({"model": MODEL, "prompt": "x", "max_tokens": "ten"}, 400, "invalid_type", "max_tokens"),
        ({"model": MODEL, "prompt": "x", "temperature": 3}, 400, "integer_above_max_value", "temperature"),
        ({"model": MODEL, "prompt": "x", "bogus": 1}, 400, "unknown_parameter", "bogus"),
        (
            {"model": MODEL, "prompt": "x", "stream_options": {"include_usage": True}},
            400,
            None,
            "stream_options",
        ),
        ({"model": MODEL, "prompt": "x" * 16400}, 400, "context_length_exceeded", "prompt"),
        (
            {"model": MODEL, "prompt": "x" * 16000, "max_tokens": 100},
            400,
            "context_length_exceeded",
            "prompt",
        ),
        ({"model": "gpt-4o", "prompt": "x"}, 404, None, "model"),
    ],
)
async def test_completion_validation_errors(fake_openai, http, body, status, code, param) -> None:
    got_status, got = await post_json(http, fake_openai, "/completions", body)
    assert got_status == status
    assert_error(got, code, param)


async def test_context_limit_counts_chars_over_four(fake_openai: FakeOpenAI, http) -> None:
    fits = "x" * (4096 - 16) * 4  # exactly at the limit with the default 16 completion tokens
    status, _ = await post_json(http, fake_openai, "/completions", {"model": MODEL, "prompt": fits})
    assert status == 200
    status, body = await post_json(http, fake_openai, "/completions", {"model": MODEL, "prompt": fits + "x"})
    assert status == 400
    assert "4096" in body["error"]["message"]


async def test_bad_or_missing_key_is_401(fake_openai: FakeOpenAI) -> None:
    async with aiohttp.ClientSession() as anon:
        async with anon.get(
            fake_openai.base_url + "/models", headers={"Authorization": "Bearer sk-wrong-key-123"}
        ) as response:
            assert response.status == 401
            body = await response.json()
            assert_error(body, "invalid_api_key")
            assert "sk-wrong-key-123" not in body["error"]["message"]
        async with anon.get(fake_openai.base_url + "/models") as response:
            assert response.status == 401
            assert_error(await response.json(), None)


async def test_without_api_key_any_key_is_accepted() -> None:
    fake = FakeOpenAI(api_key=None)
    await fake.start()
    try:
        async with (
            aiohttp.ClientSession() as anon,
            anon.get(fake.base_url + "/models", headers={"Authorization": "Bearer whatever"}) as response,
        ):
            assert response.status == 200
    finally:
        await fake.stop()


async def test_invalid_json_and_unknown_route(fake_openai: FakeOpenAI, http) -> None:
    async with http.post(
        fake_openai.base_url + "/completions", data=b"{nope", headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 400
        assert_error(await response.json(), None)
    async with http.get(fake_openai.base_url + "/completions") as response:
        assert response.status == 404
        assert "Invalid URL" in (await response.json())["error"]["message"]


async def test_every_response_has_request_id_and_ratelimit_headers(fake_openai: FakeOpenAI, http) -> None:
    seen = set()
    for _ in range(2):
        async with http.post(fake_openai.base_url + "/completions", json={"model": MODEL}) as response:
            assert response.status == 400
            headers = response.headers
            assert re.fullmatch(r"req_[0-9a-f]{32}", headers["x-request-id"])
            seen.add(headers["x-request-id"])
            for name in ("limit-requests", "limit-tokens", "remaining-requests", "remaining-tokens"):
                assert headers[f"x-ratelimit-{name}"].isdigit()
            for name in ("reset-requests", "reset-tokens"):
                assert re.fullmatch(r"(\d+h)?(\d+m)?(\d+(\.\d+)?s|\d+ms)", headers[f"x-ratelimit-{name}"])
    assert len(seen) == 2


# faults -------------------------------------------------------------------------------------------


async def test_fault_status_default_body_headers_and_times(fake_openai: FakeOpenAI, http) -> None:
    fake_openai.add_fault(Fault(status=429, headers={"Retry-After": "1", "retry-after-ms": "250"}, times=2))
    body = {"model": MODEL, "prompt": "x"}
    for _ in range(2):
        async with http.post(fake_openai.base_url + "/completions", json=body) as response:
            assert response.status == 429
            assert response.headers["Retry-After"] == "1"
            assert response.headers["retry-after-ms"] == "250"
            assert_error(await response.json(), "rate_limit_exceeded")
    status, _ = await post_json(http, fake_openai, "/completions", body)
    assert status == 200
    assert [r.status for r in fake_openai.requests] == [429, 429, 200]


async def test_fault_named_code_and_custom_bodies(fake_openai: FakeOpenAI, http) -> None:
    fake_openai.add_fault(Fault(status=429, code="insufficient_quota"))
    fake_openai.add_fault(Fault(status=502, body="<html><body>Bad gateway</body></html>"))
    fake_openai.add_fault(
        Fault(status=400, body={"error": {"message": "custom", "type": "t", "param": None, "code": "c"}})
    )
    body = {"model": MODEL, "prompt": "x"}
    status, got = await post_json(http, fake_openai, "/completions", body)
    assert status == 429 and got["error"]["type"] == "insufficient_quota"
    assert_error(got, "insufficient_quota")
    async with http.post(fake_openai.base_url + "/completions", json=body) as response:
        assert response.status == 502
        assert response.content_type == "text/html"
        assert "Bad gateway" in await response.text()
    status, got = await post_json(http, fake_openai, "/completions", body)
    assert (status, got["error"]["message"]) == (400, "custom")


async def test_fault_matches_method_and_pattern_and_forever(fake_openai: FakeOpenAI, http) -> None:
    fake_openai.add_fault(Fault(method="GET", path="/files/*", status=500, times=None))
    for _ in range(3):
        async with http.get(fake_openai.base_url + "/files/file-abc") as response:
            assert response.status == 500
            assert_error(await response.json(), None)
    async with http.get(fake_openai.base_url + "/files") as response:
        assert response.status == 200
    fake_openai.clear_faults()
    async with http.get(fake_openai.base_url + "/files/file-abc") as response:
        assert response.status == 404


async def test_fault_malformed_plain_and_stream(fake_openai: FakeOpenAI, http) -> None:
    fake_openai.add_fault(Fault(malformed=True, times=2))
    async with http.post(
        fake_openai.base_url + "/completions", json={"model": MODEL, "prompt": "x"}
    ) as response:
        assert response.status == 200
        with pytest.raises(ValueError):
            json.loads(await response.text())
    async with http.post(
        fake_openai.base_url + "/completions", json={"model": MODEL, "prompt": "x", "stream": True}
    ) as response:
        payloads = await read_sse(response)
    with pytest.raises(ValueError):
        json.loads(payloads[0])


async def test_fault_drop_after_chunks_breaks_stream_and_plain_body(fake_openai: FakeOpenAI, http) -> None:
    fake_openai.add_fault(Fault(drop_after_chunks=2))
    async with http.post(
        fake_openai.base_url + "/completions", json={"model": MODEL, "prompt": "[[words:6]]", "stream": True}
    ) as response:
        assert response.status == 200
        first = await response.content.readuntil(b"\n\n")
        assert json.loads(first[len(b"data: ") :])["choices"][0]["text"]
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.content.read()
    fake_openai.add_fault(Fault(drop_after_chunks=1))
    async with http.post(
        fake_openai.base_url + "/completions", json={"model": MODEL, "prompt": "x"}
    ) as response:
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    fake_openai.add_fault(Fault(drop_after_chunks=0))
    with pytest.raises(aiohttp.ClientError):
        async with http.post(
            fake_openai.base_url + "/completions", json={"model": MODEL, "prompt": "x"}
        ) as resp:
            await resp.read()


async def test_fault_stream_error_event(fake_openai: FakeOpenAI, http) -> None:
    fake_openai.add_fault(Fault(stream_error_after_chunks=2))
    async with http.post(
        fake_openai.base_url + "/completions", json={"model": MODEL, "prompt": "[[words:6]]", "stream": True}
    ) as response:
        payloads = await read_sse(response)
    assert len(payloads) == 3
    assert "[DONE]" not in payloads
    assert_error(json.loads(payloads[-1]), None)
    assert json.loads(payloads[-1])["error"]["type"] == "server_error"


async def test_fault_delay_holds_the_answer(fake_openai: FakeOpenAI, http) -> None:
    fake_openai.add_fault(Fault(delay=5.0))
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(
            fake_openai.base_url + "/completions",
            json={"model": MODEL, "prompt": "x"},
            timeout=aiohttp.ClientTimeout(total=0.2),
        ) as response:
            await response.read()


# rate limits --------------------------------------------------------------------------------------


async def test_request_rate_limit_gives_429_with_headers(fake_openai: FakeOpenAI, http) -> None:
    fake_openai.set_rate_limits(requests_per_minute=2)
    for remaining in ("1", "0"):
        async with http.get(fake_openai.base_url + "/models") as response:
            assert response.status == 200
            assert response.headers["x-ratelimit-limit-requests"] == "2"
            assert response.headers["x-ratelimit-remaining-requests"] == remaining
    async with http.get(fake_openai.base_url + "/models") as response:
        assert response.status == 429
        body = await response.json()
        assert_error(body, "rate_limit_exceeded")
        assert body["error"]["type"] == "requests"
        assert int(response.headers["Retry-After"]) >= 1
        assert int(response.headers["retry-after-ms"]) > 0
        assert response.headers["x-ratelimit-remaining-requests"] == "0"


async def test_token_rate_limit_counts_prompt_and_max_tokens(fake_openai: FakeOpenAI, http) -> None:
    fake_openai.set_rate_limits(tokens_per_minute=1000)
    body = {"model": MODEL, "prompt": "x" * 400, "max_tokens": 300}  # 100 + 300 tokens
    for _ in range(2):
        status, _ = await post_json(http, fake_openai, "/completions", body)
        assert status == 200
    async with http.post(fake_openai.base_url + "/completions", json=body) as response:
        assert response.status == 429
        got = await response.json()
        assert got["error"]["type"] == "tokens"
        assert "Retry-After" in response.headers
        assert int(response.headers["x-ratelimit-remaining-tokens"]) < 400


def test_rate_limiter_refills_over_time() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    limiter.configure(60, None)
    for _ in range(60):
        assert limiter.admit(0).allowed
    refused = limiter.admit(0)
    assert not refused.allowed and refused.retry_after == pytest.approx(1.0)
    now[0] += 1.0
    assert limiter.admit(0).allowed


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.012, "12ms"),
        (1, "1s"),
        (1.5, "1.5s"),
        (360, "6m0s"),
        (17.28, "17.28s"),
        (3725, "1h2m5s"),
    ],
)
def test_reset_durations_are_formatted_like_the_api(seconds: float, text: str) -> None:
    assert format_reset(seconds) == text


# record and threading -----------------------------------------------------------------------------


async def test_requests_are_recorded_with_headers_query_and_json(fake_openai: FakeOpenAI, http) -> None:
    await post_json(http, fake_openai, "/completions", {"model": MODEL, "prompt": "hello"})
    async with http.get(fake_openai.base_url + "/files?purpose=batch&limit=2"):
        pass
    first, second = fake_openai.requests
    assert (first.method, first.path, first.json) == (
        "POST",
        "/v1/completions",
        {"model": MODEL, "prompt": "hello"},
    )
    assert first.headers["Authorization"] == f"Bearer {TEST_API_KEY}"
    assert first.request_id.startswith("req_")
    assert second.query == {"purpose": "batch", "limit": "2"}
    assert fake_openai.requests_to("/files", "GET") == [second]
    fake_openai.reset()
    assert fake_openai.requests == []


def test_threaded_server_serves_from_its_own_loop() -> None:
    async def call(fake: FakeOpenAI) -> tuple[int, int]:
        async with aiohttp.ClientSession(headers=AUTH) as session:
            async with session.get(fake.base_url + "/models") as response:
                first = response.status
            fake.add_fault(Fault(method="GET", path="/v1/models", status=503))
            async with session.get(fake.base_url + "/models") as response:
                return first, response.status

    with FakeOpenAI.threaded() as fake:
        assert asyncio.run(call(fake)) == (200, 503)
        assert [r.status for r in fake.requests] == [200, 503]
        port = fake.port
    with pytest.raises(OSError):
        asyncio.run(asyncio.open_connection("127.0.0.1", port))


def test_session_fixture_is_reset_per_test(fake_openai_threaded: FakeOpenAI) -> None:
    assert fake_openai_threaded.requests == []
    assert fake_openai_threaded.faults == []
    fake_openai_threaded.add_fault(Fault(status=500))
    fake_openai_threaded.set_rate_limits(requests_per_minute=1)


def test_session_fixture_is_reset_per_test_again(fake_openai_threaded: FakeOpenAI) -> None:
    assert fake_openai_threaded.faults == []
    assert fake_openai_threaded.limiter.headers()["x-ratelimit-limit-requests"] != "1"


def test_runs_standalone_with_python_dash_m() -> None:
    """`python -m tests.fakes.openai_server` (README's way to try the bot without a key) answers."""
    import json
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    repo = Path(__file__).resolve().parents[2]
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openai_server", "--port", str(port)],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": "Bearer anything"}
                )
                with urllib.request.urlopen(request, timeout=2) as response:
                    body = json.load(response)
                break
            except OSError:
                assert time.monotonic() < deadline, "the standalone fake did not come up"
                time.sleep(0.1)
        assert body["object"] == "list" and any(m["id"] == "gpt-3.5-turbo-instruct" for m in body["data"])
    finally:
        server.terminate()
        server.wait(timeout=10)
