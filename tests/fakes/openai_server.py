"""The fake OpenAI server every test and benchmark of the project runs against (aiohttp, loopback).

Owns the `FakeOpenAI` object: start/stop (in-loop or threaded), auth, request record, faults, rate limits.

Endpoints (under /v1): completions and chat/completions (plain and SSE; a chat model on
/completions and a completion model on /chat/completions get OpenAI's errors; reasoning models
gpt-5*/o* refuse `max_tokens` and a temperature other than 1), images/generations and
images/edits (plain and SSE; markers in routes_images), audio/transcriptions,
embeddings, moderations, files (+ /{id}, /{id}/content), fine_tuning/jobs (+ /{id}, /cancel,
/events), models (+ /{id}). Generated image URLs are served by the fake under /cdn/images/.

Completion markers (put them in the prompt; they combine where it makes sense):
  [[words:N]]       exactly N words, then finish_reason "stop" (unless max_tokens cuts it: "length")
  [[code]]          an answer holding a long fenced ```python block with newlines
  [[paragraphs:N]]  N paragraphs separated by blank lines
  [[no-usage]]      behave like a compatible server: no usage object, no usage chunk in streams
  [[filter]]        a short answer with finish_reason "content_filter"
  [[echo]]          the prompt itself (markers removed)
  [[mentions]]      prefix "@everyone @here <@&…> <@…>" (allowed_mentions tests)
  [[cjk]]           Chinese text instead of English
Without markers an answer has 20-60 words chosen deterministically from the prompt. max_tokens
defaults to 16 like the API. Output counts one token per streamed chunk (a word with the
whitespace before it); input text counts ceil(chars / 4) tokens (prompts, embeddings, moderation).
`completion_text_for(prompt, max_tokens)` returns exactly what the fake generates.

Moderation markers (in text, or in an image_url's URL): `flag:<category>` (e.g. `flag:harassment`,
`flag:self-harm/intent`, also `flag-violence` in URLs, `_` may stand for `/`) scores 0.97 and flags it;
`score:<category>=0.42` sets an exact score (flagged when >= 0.5); `flag:all` flags every category.

Transcriptions: audio bytes starting with `FAKE-TRANSCRIPT:` transcribe to the text after it;
other bytes give sentences derived from their hash; duration is bytes / 16000 s (128 kbit/s).

Faults (`add_fault(Fault(...))`): status != 200 answers with that status, `body` (None -> realistic
error body, dict -> JSON, str -> verbatim text/plain or text/html) and `headers`; `delay` sleeps
first; `drop_after_chunks=k` sends k stream events (or half a plain body) and aborts the
connection; `stream_error_after_chunks=k` sends k events then `data: {"error": ...}`;
`malformed=True` answers 200 with invalid JSON. `times=N` for the next N matching requests.

Standalone: `python -m tests.fakes.openai_server --port 8787 [--api-key K] [--stream-delay S]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiohttp import web

from tests.fakes import (
    routes_chat,
    routes_completions,
    routes_files,
    routes_images,
    routes_media,
    routes_models,
    routes_vectors,
)
from tests.fakes.catalog import Catalog, ModelInfo
from tests.fakes.common import FAULT, RATELIMIT_HEADERS, RECORD, REQUEST_ID, STARTED
from tests.fakes.errors import ApiError, error_body
from tests.fakes.faults import Fault, FaultRegistry
from tests.fakes.ratelimit import RateLimiter, format_reset
from tests.fakes.records import RecordedRequest, UploadedFile
from tests.fakes.sse import MALFORMED_BODY, send_truncated
from tests.fakes.store import Store
from tests.fakes.textgen import estimate_tokens, generate, transcript_text

__all__ = [
    "TEST_API_KEY",
    "FakeOpenAI",
    "Fault",
    "ModelInfo",
    "RecordedRequest",
    "UploadedFile",
    "estimate_tokens",
]

TEST_API_KEY = "sk-test-key"
# Endpoints that charge tokens admit themselves once they know the token count.
_TOKEN_ROUTES = {"/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/moderations"}
_MAX_BODY = 64 * 1024 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _mask(key: str) -> str:
    return key[:3] + "*" * 6 + key[-4:] if len(key) > 8 else "*" * len(key)


class FakeOpenAI:
    def __init__(
        self,
        api_key: str | None = TEST_API_KEY,
        stream_delay: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.stream_delay = stream_delay
        self._initial_stream_delay = stream_delay
        self.host = host
        self.port = port
        self.catalog = Catalog()
        self.store = Store()
        self.limiter = RateLimiter()
        self._faults = FaultRegistry()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- public API ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every request received so far, oldest first (API calls and image downloads)."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests for one path (with or without the `/v1` prefix)."""
        full = path if path.startswith(("/v1", "/cdn")) else "/v1" + path
        return [r for r in self.requests if r.path == full and (method is None or r.method == method.upper())]

    def add_fault(self, fault: Fault) -> Fault:
        return self._faults.add(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        return self._faults.snapshot()

    def set_rate_limits(
        self, requests_per_minute: int | None = None, tokens_per_minute: int | None = None
    ) -> None:
        self.limiter.configure(requests_per_minute, tokens_per_minute)

    def completion_text_for(self, prompt: str, max_tokens: int | None = None) -> str:
        return generate(prompt, max_tokens).text

    def chat_text_for(self, messages: list[dict[str, Any]], max_tokens: int | None = None) -> str:
        """Exactly what /v1/chat/completions answers to `messages` (from the last user message)."""
        return routes_chat.chat_text_for(messages, max_tokens)

    def transcript_for(self, audio: bytes) -> str:
        return transcript_text(audio)

    def retire_model(self, model_id: str) -> None:
        """Remove a model: it disappears from /v1/models and using it answers 404 model_not_found."""
        self.catalog.remove(model_id)

    def add_model(self, info: ModelInfo) -> None:
        self.catalog.add(info)

    def reset(self) -> None:
        """Forget requests, faults, files, jobs, images, rate limits and model changes."""
        with self._lock:
            self._requests.clear()
        self._faults.clear()
        self.store.reset()
        self.catalog.reset()
        self.limiter.configure(None, None)
        self.stream_delay = self._initial_stream_delay

    # -- lifecycle -------------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=_MAX_BODY)
        app[FAKE_KEY] = self
        app.on_response_prepare.append(self._add_headers)
        routes_completions.register(app)
        routes_chat.register(app)
        routes_media.register(app)
        routes_images.register(app)
        routes_vectors.register(app)
        routes_files.register(app)
        routes_models.register(app)
        return app

    async def start(self) -> None:
        """Serve in the current event loop on host:port (port 0 -> an ephemeral port)."""
        # Short shutdown timeout: a test that abandons a delayed request must not wait for it at teardown.
        self._runner = web.AppRunner(
            self.make_app(), access_log=None, handle_signals=False, shutdown_timeout=0.1
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server  # aiohttp exposes the bound socket only here
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start_in_thread(self) -> None:
        """Serve from a daemon thread with its own event loop (keeps the fake out of the test's loop)."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # reported to the starting thread below
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-openai", daemon=True)
        self._thread.start()
        ready.wait(timeout=10)
        if failure:
            raise failure[0]

    def stop_thread(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop = None
        self._thread = None

    @classmethod
    @contextlib.contextmanager
    def threaded(cls, api_key: str | None = TEST_API_KEY, stream_delay: float = 0.0) -> Iterator[FakeOpenAI]:
        fake = cls(api_key=api_key, stream_delay=stream_delay)
        fake.start_in_thread()
        try:
            yield fake
        finally:
            fake.stop_thread()

    # -- request pipeline ------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> tuple[RecordedRequest, ApiError | None]:
        rec = RecordedRequest(
            method=request.method,
            path=request.path,
            headers=dict(request.headers),
            query={k: v for k, v in request.query.items()},
            request_id=request[REQUEST_ID],
        )
        problem: ApiError | None = None
        if request.content_type == "multipart/form-data":
            try:
                form = await request.post()
            except web.HTTPRequestEntityTooLarge:
                problem = ApiError(
                    413,
                    f"Maximum content size limit ({_MAX_BODY}) exceeded.",
                    type_="server_error",
                )
            else:
                for name, value in form.items():
                    if isinstance(value, web.FileField):
                        rec.files[name] = UploadedFile(value.filename, value.content_type, value.file.read())
                    else:
                        rec.form.setdefault(name, str(value))
                        rec.form_lists.setdefault(name, []).append(str(value))
        elif request.can_read_body:
            try:
                rec.body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                problem = ApiError(413, "Request too large.", type_="server_error")
            if rec.body and problem is None:
                try:
                    rec.json = json.loads(rec.body)
                except ValueError:
                    problem = ApiError(
                        400,
                        "We could not parse the JSON body of your request. (HINT: This likely means you"
                        " aren't using your HTTP library correctly. The OpenAI API expects a JSON payload,"
                        " but what was sent was not valid JSON.)",
                        code=None,
                    )
        with self._lock:
            self._requests.append(rec)
        return rec, problem

    def _check_auth(self, request: web.Request) -> None:
        if self.api_key is None:
            return
        header = request.headers.get("Authorization", "")
        if not header:
            raise ApiError(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or key.strip() != self.api_key:
            raise ApiError(
                401,
                f"Incorrect API key provided: {_mask(key.strip())}. You can find your API key "
                "at https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )

    def admit(self, request: web.Request, tokens: int, model: str | None = None) -> None:
        """Charge the rate limits; raises a 429 `rate_limit_exceeded` when they are exhausted."""
        decision = self.limiter.admit(tokens)
        request[RATELIMIT_HEADERS] = decision.headers
        if decision.allowed:
            return
        wait = max(decision.retry_after, 0.001)
        unit = "requests per min (RPM)" if decision.kind == "requests" else "tokens per min (TPM)"
        message = (
            f"Rate limit reached for {model or 'default'} in organization org-fake on {unit}: "
            f"Limit {decision.limit}, Used {decision.used}, Requested {decision.requested}. Please try "
            f"again in {format_reset(wait)}. Visit https://platform.openai.com/account/rate-limits to "
            "learn more."
        )
        raise ApiError(
            429,
            message,
            type_=decision.kind,
            code="rate_limit_exceeded",
            headers={
                "Retry-After": str(max(1, int(wait + 0.999))),
                "retry-after-ms": str(max(1, int(wait * 1000))),
            },
        )

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        request[REQUEST_ID] = "req_" + secrets.token_hex(16)
        request[STARTED] = time.monotonic()
        rec, problem = await self._record(request)
        request[RECORD] = rec
        response = await self._answer(request, handler, rec, problem)
        rec.status = response.status
        return response

    async def _answer(
        self, request: web.Request, handler: Handler, rec: RecordedRequest, problem: ApiError | None
    ) -> web.StreamResponse:
        is_api = request.path.startswith("/v1")
        try:
            if is_api:
                self._check_auth(request)
            fault = self._faults.take(request.method, request.path)
            request[FAULT] = fault
            if fault is not None:
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.is_error:
                    return self._fault_response(fault)
            if problem is not None:
                raise problem
            streaming = isinstance(rec.json, dict) and rec.json.get("stream") is True
            if fault is not None and fault.malformed and not streaming:
                return web.Response(body=MALFORMED_BODY, content_type="application/json")
            if is_api and request.path not in _TOKEN_ROUTES:
                self.admit(request, 0)
            response = await handler(request)
        except ApiError as exc:
            return web.json_response(exc.body(), status=exc.status, headers=exc.headers)
        except web.HTTPException as exc:
            if exc.status in (404, 405):
                return web.json_response(
                    error_body(404, f"Invalid URL ({request.method} {request.path})"), status=404
                )
            raise
        if fault is not None and fault.drop_after_chunks is not None and isinstance(response, web.Response):
            return await send_truncated(request, response, fault.drop_after_chunks)
        return response

    def _fault_response(self, fault: Fault) -> web.Response:
        status = fault.status or 500
        headers = dict(fault.headers or {})
        if isinstance(fault.body, str):
            kind = fault.content_type or (
                "text/html" if fault.body.lstrip().startswith("<") else "text/plain"
            )
            return web.Response(status=status, text=fault.body, content_type=kind, headers=headers)
        body = fault.body if fault.body is not None else error_body(status, code=fault.code)
        return web.json_response(body, status=status, headers=headers)

    async def _add_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers["x-request-id"] = request.get(REQUEST_ID) or "req_" + secrets.token_hex(16)
        if request.path.startswith("/v1"):
            response.headers.update(request.get(RATELIMIT_HEADERS) or self.limiter.headers())
            elapsed = time.monotonic() - request.get(STARTED, time.monotonic())
            response.headers.setdefault("openai-processing-ms", str(int(elapsed * 1000)))
            response.headers.setdefault("openai-version", "2020-10-01")
            response.headers.setdefault("openai-organization", "org-fake")


FAKE_KEY = web.AppKey("fake_openai", FakeOpenAI)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI API for trying the bot without an OpenAI key.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--api-key", default=None, help="require this key (default: accept any)")
    parser.add_argument("--stream-delay", type=float, default=0.05, help="seconds between streamed chunks")
    args = parser.parse_args(argv)
    fake = FakeOpenAI(api_key=args.api_key, stream_delay=args.stream_delay, host=args.host, port=args.port)
    fake.store.follow_wall_clock()  # fine-tuning jobs progress in real time (minutes)

    async def serve() -> None:
        await fake.start()
        print(f"Fake OpenAI listening: OPENAI_BASE_URL={fake.base_url}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await fake.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    # Run the copy imported under its package name: `python -m` loads this file as __main__, a
    # second module whose app keys differ from the ones the route modules import.
    from tests.fakes.openai_server import main as package_main

    package_main()
