"""Client tests against a tiny local aiohttp app, for wire-level cases the shared fake cannot stage:
awkwardly split SSE writes, streams without usage or [DONE], server-side view of an early close."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from bot.openai_api import (
    APIConnectionError,
    APIResponseValidationError,
    InternalServerError,
    OpenAIClient,
    RateLimitError,
)

KEY = "sk-local-secret-0123456789"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Local:
    base_url: str
    handlers: dict[str, Handler] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def local() -> AsyncIterator[Local]:
    state = Local(base_url="")

    async def dispatch(request: web.Request) -> web.StreamResponse:
        name = request.match_info["tail"]
        state.hits[name] = state.hits.get(name, 0) + 1
        return await state.handlers[name](request)

    app = web.Application()
    app.router.add_route("*", "/v1/{tail:.*}", dispatch)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.base_url = f"http://127.0.0.1:{port}/v1"
    yield state
    await runner.cleanup()


class Sleeps:
    """Stands in for asyncio.sleep between retries and records the delays."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def chunk(text: str, finish: str | None = None) -> bytes:
    event = {
        "id": "c1",
        "object": "text_completion",
        "created": 1,
        "model": "m",
        "choices": [{"text": text, "index": 0, "finish_reason": finish, "logprobs": None}],
    }
    return json.dumps(event, ensure_ascii=False).encode()


USAGE = json.dumps(
    {
        "id": "c1",
        "object": "text_completion",
        "created": 1,
        "model": "m",
        "choices": [],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
).encode()


def sse_handler(body: bytes, cuts: list[int] | None = None, end: bool = True) -> Handler:
    """Serve `body` as an event stream written in pieces split at `cuts`."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "x-request-id": "req_s"})
        await response.prepare(request)
        bounds = [0, *(cuts or []), len(body)]
        for a, b in itertools.pairwise(bounds):
            await response.write(body[a:b])
            await asyncio.sleep(0.005)  # let each piece arrive as its own network read
        if end:
            await response.write_eof()
        return response

    return handler


def client_for(local: Local, **kwargs: object) -> OpenAIClient:
    return OpenAIClient(api_key=KEY, base_url=local.base_url, **kwargs)  # type: ignore[arg-type]


async def test_stream_with_crlf_comments_and_split_reads(local: Local) -> None:
    body = (
        b": hello\r\n\r\n"
        + b"data: "
        + chunk("Hel")
        + b"\r\n\r\n"
        + b"data: "
        + chunk("lo €")
        + b"\r\n\r\n"
        + b"data: "
        + chunk("", "stop")
        + b"\r\n\r\n"
        + b"data: "
        + USAGE
        + b"\r\n\r\n"
        + b"data: [DONE]\r\n\r\n"
    )
    # Cut inside a CRLF, inside the JSON, inside the 3-byte euro sign and inside "[DONE]".
    euro = body.index(b"\xe2\x82\xac")
    cuts = [body.index(b"\r\n") + 1, 30, euro + 1, euro + 2, len(body) - 5]
    local.handlers["completions"] = sse_handler(body, sorted(cuts))
    async with client_for(local) as client:
        stream = await client.completions.stream(model="m", prompt="p")
        async with stream:
            texts = [c.choices[0].text for c in [c async for c in stream] if c.choices]
        assert texts == ["Hel", "lo €", ""]
        assert stream.text == "Hello €"
        assert stream.finish_reason == "stop"
        assert stream.usage is not None and stream.usage.total_tokens == 5
        assert stream.usage_reported
        assert stream.meta.request_id == "req_s"


async def test_stream_without_usage_says_so(local: Local, caplog: pytest.LogCaptureFixture) -> None:
    body = b"data: " + chunk("Hi", "stop") + b"\n\ndata: [DONE]\n\n"
    local.handlers["completions"] = sse_handler(body)
    caplog.set_level(logging.INFO, logger="bot.openai_api")
    async with client_for(local) as client, await client.completions.stream(model="m", prompt="p") as stream:
        [c async for c in stream]
    assert stream.text == "Hi"
    assert stream.usage is None and not stream.usage_reported
    assert any("without a usage report" in r.getMessage() for r in caplog.records)


async def test_stream_ending_with_finish_reason_but_no_done_is_accepted(local: Local) -> None:
    local.handlers["completions"] = sse_handler(b"data: " + chunk("ok", "length") + b"\n\n")
    async with client_for(local) as client, await client.completions.stream(model="m", prompt="p") as stream:
        [c async for c in stream]
    assert (stream.text, stream.finish_reason) == ("ok", "length")


async def test_stream_cut_before_finish_raises_and_keeps_partial_text(local: Local) -> None:
    local.handlers["completions"] = sse_handler(b"data: " + chunk("part") + b"\n\ndata: " + chunk("ial"))
    async with client_for(local) as client:
        stream = await client.completions.stream(model="m", prompt="p")
        seen = []
        with pytest.raises(APIConnectionError):
            async for c in stream:
                seen.append(c.choices[0].text)
        assert seen == ["part"] and stream.text == "part" and stream.finish_reason is None
    assert local.hits["completions"] == 1  # never retried once text was yielded


async def test_error_object_inside_stream_raises_typed_error(local: Local) -> None:
    err = json.dumps(
        {"error": {"message": "overloaded", "type": "server_error", "param": None, "code": None}}
    )
    local.handlers["completions"] = sse_handler(
        b"data: " + chunk("a") + b"\n\ndata: " + err.encode() + b"\n\n"
    )
    async with client_for(local) as client:
        stream = await client.completions.stream(model="m", prompt="p")
        with pytest.raises(InternalServerError) as info:
            async for _ in stream:
                pass
        assert info.value.message == "overloaded" and info.value.request_id == "req_s"
        assert stream.text == "a" and stream.closed


async def test_text_mentioning_error_is_not_an_error(local: Local) -> None:
    body = b"data: " + chunk('"error"', "stop") + b"\n\ndata: [DONE]\n\n"
    local.handlers["completions"] = sse_handler(body)
    async with client_for(local) as client, await client.completions.stream(model="m", prompt="p") as stream:
        [c async for c in stream]
    assert stream.text == '"error"'


async def test_unreadable_chunk_raises_validation_error(local: Local) -> None:
    local.handlers["completions"] = sse_handler(b'data: {"choices": [{"text": 5}\n\n')
    async with client_for(local) as client, await client.completions.stream(model="m", prompt="p") as stream:
        with pytest.raises(APIResponseValidationError):
            [c async for c in stream]


async def test_early_close_closes_the_connection(local: Local) -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            for _ in range(2000):
                await response.write(b"data: " + chunk("x") + b"\n\n")
                await asyncio.sleep(0.01)
        except (ConnectionResetError, ConnectionError):
            local.disconnected.set()
        return response

    local.handlers["completions"] = endless
    async with client_for(local) as client:
        async with await client.completions.stream(model="m", prompt="p") as stream:
            got = 0
            async for _ in stream:
                got += 1
                if got == 2:
                    break
        assert stream.closed
        # The server notices the closed socket on its next writes; bound generously.
        await asyncio.wait_for(local.disconnected.wait(), timeout=5)


async def test_stream_retries_until_the_response_starts(local: Local) -> None:
    calls = 0
    good = sse_handler(b"data: " + chunk("ok", "stop") + b"\n\ndata: [DONE]\n\n")

    async def flaky(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        if calls == 1:
            return web.json_response({"error": {"message": "busy", "type": "server_error"}}, status=503)
        return await good(request)

    local.handlers["completions"] = flaky
    sleeps = Sleeps()
    async with client_for(local, sleep=sleeps) as client:
        async with await client.completions.stream(model="m", prompt="p") as stream:
            [c async for c in stream]
        assert stream.text == "ok" and stream.meta.attempts == 2
    assert len(sleeps.delays) == 1 and 0.37 <= sleeps.delays[0] <= 0.5


async def test_retry_after_ms_is_honoured(local: Local) -> None:
    calls = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        if calls == 1:
            return web.json_response(
                {"error": {"message": "slow", "type": "requests", "code": "rate_limit_exceeded"}},
                status=429,
                headers={"retry-after-ms": "40", "Retry-After": "1"},
            )
        return web.json_response({"data": [], "object": "list"})

    local.handlers["models"] = handler
    sleeps = Sleeps()
    async with client_for(local, sleep=sleeps) as client:
        result = await client.models.list()
    assert result.data == [] and result.meta.attempts == 2
    assert sleeps.delays == [pytest.approx(0.04)]


async def test_retry_after_above_cap_fails_without_waiting(local: Local) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {"error": {"message": "slow", "type": "tokens", "code": "rate_limit_exceeded"}},
            status=429,
            headers={"Retry-After": "600"},
        )

    local.handlers["models"] = handler
    sleeps = Sleeps()
    async with client_for(local, sleep=sleeps, max_retry_wait=60.0) as client:
        with pytest.raises(RateLimitError):
            await client.models.list()
    assert sleeps.delays == [] and local.hits["models"] == 1


async def test_connection_refused_retries_with_backoff_then_raises() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps = Sleeps()
    async with OpenAIClient(api_key=KEY, base_url=f"http://127.0.0.1:{port}/v1", sleep=sleeps) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.models.list()
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    assert len(sleeps.delays) == 2
    assert 0.37 <= sleeps.delays[0] <= 0.5 and 0.75 <= sleeps.delays[1] <= 1.0


async def test_shared_session_is_not_closed_owned_one_is(local: Local) -> None:
    local.handlers["models"] = lambda request: _json({"object": "list", "data": []})
    async with aiohttp.ClientSession() as session:
        client = OpenAIClient(api_key=KEY, base_url=local.base_url, session=session)
        await client.models.list()
        await client.close()
        assert not session.closed
        with pytest.raises(APIConnectionError):
            await client.models.list()
    owned = OpenAIClient(api_key=KEY, base_url=local.base_url)
    await owned.models.list()
    inner = owned.transport._session
    await owned.close()
    assert inner is not None and inner.closed


async def _json(payload: object) -> web.Response:
    return web.json_response(payload)
