"""Response writers of the fake OpenAI server that can misbehave on purpose.

Owns server-sent-event streams and the mid-body connection drops / malformed bodies faults ask for.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from tests.fakes.errors import error_body
from tests.fakes.faults import Fault

MALFORMED_BODY = b'{"id": "cmpl-broken", "object": "text_completion", "choices": [{"text": "unterminated'


def _abort(request: web.Request) -> None:
    # Closing the transport without the terminating chunk is what a dropped upstream connection
    # looks like to the client (aiohttp reports ClientPayloadError / ServerDisconnectedError).
    if request.transport is not None:
        request.transport.abort()


async def send_stream(
    request: web.Request, events: Sequence[dict[str, Any]], delay: float, fault: Fault | None
) -> web.StreamResponse:
    """Write `events` as `data:` lines, `delay` seconds apart, then `data: [DONE]`."""
    response = web.StreamResponse(
        status=200, headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    for index, event in enumerate(events):
        if fault is not None and fault.drop_after_chunks is not None and index >= fault.drop_after_chunks:
            _abort(request)
            return response
        if (
            fault is not None
            and fault.stream_error_after_chunks is not None
            and index >= fault.stream_error_after_chunks
        ):
            await response.write(b"data: " + json.dumps(error_body(500)).encode() + b"\n\n")
            await response.write_eof()
            return response
        if index and delay:
            await asyncio.sleep(delay)
        if fault is not None and fault.malformed and index == 0:
            await response.write(b"data: " + MALFORMED_BODY + b"\n\n")
            continue
        await response.write(b"data: " + json.dumps(event).encode() + b"\n\n")
    if fault is not None and fault.drop_after_chunks is not None and fault.drop_after_chunks >= len(events):
        _abort(request)
        return response
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def send_truncated(request: web.Request, response: web.Response, chunks: int) -> web.StreamResponse:
    """Send `response`'s headers and part of its body (declared full length), then drop the connection."""
    body = response.body if isinstance(response.body, bytes) else b""
    partial = web.StreamResponse(status=response.status, headers={"Content-Type": response.content_type})
    partial.content_length = len(body)
    if chunks <= 0:
        _abort(request)
        return partial
    await partial.prepare(request)
    await partial.write(body[: max(1, len(body) // 2)])
    _abort(request)
    return partial
