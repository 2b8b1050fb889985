"""Audio transcription endpoint of the fake OpenAI server (images live in routes_images).

Owns /v1/audio/transcriptions.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from aiohttp import web

from tests.fakes import transcripts
from tests.fakes.common import fake_of, fault_of, lookup_model, record_of
from tests.fakes.errors import ApiError, invalid
from tests.fakes.textgen import transcript_text
from tests.fakes.validate import (
    in_range,
    one_of,
)

_IMAGE_FIELDS = (
    "prompt",
    "model",
    "n",
    "quality",
    "response_format",
    "output_format",
    "output_compression",
    "stream",
    "partial_images",
    "size",
    "moderation",
    "background",
    "style",
    "user",
)
_PROMPT_LIMITS = {"dall-e-2": 1000, "dall-e-3": 4000}
# Output tokens the GPT image models bill for a 1024x1024 image per quality (larger sizes scale by area).
_IMAGE_TOKENS = {"low": 272, "medium": 1056, "high": 4160}
AUDIO_FORMATS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt", "diarized_json")
MAX_AUDIO_BYTES = 25 * 1024 * 1024
_TRANSCRIPTION_FIELDS = (
    "model",
    "language",
    "prompt",
    "response_format",
    "temperature",
    "include[]",
    "timestamp_granularities[]",
    "timestamp_granularities",
    "stream",
    "chunking_strategy",
    "include",
    "known_speaker_names[]",
    "known_speaker_references[]",
)


def register(app: web.Application) -> None:
    app.router.add_post("/v1/audio/transcriptions", transcribe)


# audio ------------------------------------------------------------------------------------------------


async def transcribe(request: web.Request) -> web.StreamResponse:
    rec = record_of(request)
    if request.content_type != "multipart/form-data":
        raise invalid("Invalid Content-Type header (expected multipart/form-data).", None, None)
    for key in rec.form:
        if key not in _TRANSCRIPTION_FIELDS:
            raise invalid(f"Unrecognized request argument supplied: {key}", key, "unknown_parameter")
    audio = rec.files.get("file")
    if audio is None:
        raise invalid("Missing required parameter: 'file'.", "file", "missing_required_parameter")
    model = rec.form.get("model")
    if not model:
        raise invalid("Missing required parameter: 'model'.", "model", "missing_required_parameter")
    lookup_model(request, model, "transcription", "audio/transcriptions")
    extension = (audio.filename or "").rsplit(".", 1)[-1].lower() if "." in (audio.filename or "") else ""
    if extension not in AUDIO_FORMATS:
        raise invalid(
            f"Invalid file format. Supported formats: {list(AUDIO_FORMATS)}", "file", "invalid_value"
        )
    if len(audio.data) > MAX_AUDIO_BYTES:
        raise ApiError(
            413,
            f"Maximum content size limit ({MAX_AUDIO_BYTES}) exceeded ({len(audio.data)} bytes read)",
            type_="server_error",
        )
    if not audio.data:
        raise invalid(
            "Audio file is too short. Minimum audio length is 0.1 seconds.", "file", "audio_too_short"
        )
    response_format = rec.form.get("response_format", "json")
    one_of("response_format", response_format, RESPONSE_FORMATS)
    if model.startswith("gpt-4o") and response_format != "json":
        raise invalid(
            f"response_format '{response_format}' is not compatible with model '{model}'. Use 'json'.",
            "response_format",
            "unsupported_value",
        )
    if response_format == "diarized_json":
        raise invalid(
            f"response_format 'diarized_json' is not compatible with model '{model}'.",
            "response_format",
            "unsupported_value",
        )
    temperature = rec.form.get("temperature")
    if temperature is not None:
        try:
            in_range("temperature", float(temperature), 0, 1)
        except ValueError:
            raise invalid(
                "Invalid type for 'temperature': expected a number.", "temperature", "invalid_type"
            ) from None

    text = transcript_text(audio.data)
    duration = transcripts.duration_for(audio.data, text)
    if rec.form.get("stream") == "true":
        if model == "whisper-1":
            raise invalid(
                "Streaming is not supported for the whisper-1 model.", "stream", "unsupported_value"
            )
        return await _stream_transcript(request, text, transcripts.usage(model, text, duration))
    if response_format == "text":
        return web.Response(text=text + "\n", content_type="text/plain")
    if response_format == "srt":
        return web.Response(text=transcripts.srt(text, duration), content_type="text/plain")
    if response_format == "vtt":
        return web.Response(text=transcripts.vtt(text, duration), content_type="text/plain")
    usage = transcripts.usage(model, text, duration)
    if response_format == "json":
        return web.json_response({"text": text, "usage": usage})
    granularities = (
        rec.form_lists.get("timestamp_granularities[]")
        or rec.form_lists.get("timestamp_granularities")
        or ["segment"]
    )
    out: dict[str, Any] = {
        "task": "transcribe",
        "language": rec.form.get("language") or "english",
        "duration": duration,
        "text": text,
        "usage": usage,
    }
    if "segment" in granularities:
        out["segments"] = transcripts.segments(text, duration)
    if "word" in granularities:
        out["words"] = transcripts.words(text, duration)
    return web.json_response(out)


async def _stream_transcript(request: web.Request, text: str, usage: dict[str, Any]) -> web.StreamResponse:
    """`transcript.text.delta` per word, `stream_delay` apart, then `transcript.text.done` with the
    text and usage; the API ends the body there, without a [DONE] line."""
    fake = fake_of(request)
    fault = fault_of(request)
    response = web.StreamResponse(
        status=200, headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    pieces = re.findall(r"\S+\s*", text)
    for index, piece in enumerate(pieces):
        if fault is not None and fault.drop_after_chunks is not None and index >= fault.drop_after_chunks:
            if request.transport is not None:
                request.transport.abort()
            return response
        if index and fake.stream_delay:
            await asyncio.sleep(fake.stream_delay)
        event = {"type": "transcript.text.delta", "delta": piece, "logprobs": []}
        await response.write(b"data: " + json.dumps(event).encode() + b"\n\n")
    done = {"type": "transcript.text.done", "text": text, "logprobs": [], "usage": usage}
    await response.write(b"data: " + json.dumps(done).encode() + b"\n\n")
    await response.write_eof()
    return response
