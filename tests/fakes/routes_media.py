"""Image generation and audio transcription endpoints of the fake OpenAI server.

Owns /v1/images/generations (+ serving generated image URLs) and /v1/audio/transcriptions.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
from typing import Any

from aiohttp import web

from tests.fakes import transcripts
from tests.fakes.catalog import FREEFORM_SIZE_MODELS, GPT_IMAGE_QUALITIES, IMAGE_QUALITIES, IMAGE_SIZES
from tests.fakes.common import fake_of, fault_of, json_body, lookup_model, now, record_of
from tests.fakes.errors import ApiError, invalid
from tests.fakes.png import png_for_size
from tests.fakes.textgen import estimate_tokens, transcript_text
from tests.fakes.validate import (
    in_range,
    one_of,
    reject_unknown,
    require_object,
    required,
    typed,
    unsupported,
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
    app.router.add_post("/v1/images/generations", generate_images)
    app.router.add_post("/v1/audio/transcriptions", transcribe)
    app.router.add_get("/cdn/images/{image_id}", serve_image)


# images -----------------------------------------------------------------------------------------------


def _check_size(model: str, size: str) -> str:
    """The concrete WxH to draw, or a 400 with the sizes the model supports."""
    allowed = IMAGE_SIZES[model]
    if size in allowed or size == "auto":  # auto is the documented default for every model
        return "1024x1024" if size == "auto" else size
    match = re.fullmatch(r"(\d+)x(\d+)", size)
    if model in FREEFORM_SIZE_MODELS and match:
        width, height = int(match.group(1)), int(match.group(2))
        if (
            width % 16 == 0
            and height % 16 == 0
            and 1 / 3 <= width / height <= 3
            and max(width, height) <= 3840
            and width * height <= 3840 * 2160
        ):
            return size
    one_of("size", size, allowed)
    return size


async def generate_images(request: web.Request) -> web.Response:
    fake = fake_of(request)
    body = require_object(json_body(request))
    reject_unknown(body, _IMAGE_FIELDS)
    prompt = typed(body, "prompt", str)
    required(body, "prompt")
    model = typed(body, "model", str, "dall-e-2")
    lookup_model(request, model, "image", "images")
    gpt_image = model.startswith("gpt-image")
    limit = _PROMPT_LIMITS.get(model, 32000)
    if len(prompt) > limit:
        raise invalid(
            f"Invalid 'prompt': string too long. Expected a string with maximum length {limit}, but got "
            f"a string with length {len(prompt)} instead.",
            "prompt",
            "string_above_max_length",
        )
    n = typed(body, "n", int, 1)
    in_range("n", n, 1, 10)
    if model == "dall-e-3" and n != 1:
        raise invalid("Invalid 'n': dall-e-3 only supports n=1.", "n", "invalid_value")
    size = _check_size(model, typed(body, "size", str, "auto"))
    quality = typed(body, "quality", str, "auto")
    one_of("quality", quality, GPT_IMAGE_QUALITIES if gpt_image else IMAGE_QUALITIES.get(model, ("auto",)))
    response_format = typed(body, "response_format", str)
    if response_format is not None:
        if gpt_image:
            raise unsupported("response_format")
        one_of("response_format", response_format, ("url", "b64_json"))
    style = typed(body, "style", str)
    if style is not None:
        one_of("style", style, ("vivid", "natural"))
    for name, options in (
        ("output_format", ("png", "jpeg", "webp")),
        ("background", ("transparent", "opaque", "auto")),
        ("moderation", ("low", "auto")),
    ):
        value = typed(body, name, str)
        if value is not None:
            if not gpt_image:
                raise unsupported(name)
            one_of(name, value, options)
    if typed(body, "stream", bool, False):
        raise invalid("Streaming is not supported by this fake server.", "stream", "invalid_value")
    if "flag:" in prompt:
        raise ApiError(
            400,
            "Your request was rejected as a result of our safety system. Your prompt may contain "
            "text that is not allowed by our safety system.",
            type_="image_generation_user_error",
            code="content_policy_violation",
        )

    data: list[dict[str, Any]] = []
    for index in range(n):
        png = png_for_size(size, f"{model}|{prompt}|{index}")
        item: dict[str, Any] = {}
        if gpt_image or response_format == "b64_json":
            item["b64_json"] = base64.b64encode(png).decode()
        else:
            image_id = fake.store.add_image(png)
            item["url"] = (
                f"{fake.origin}/cdn/images/{image_id}.png?se={now() + 3600}&sp=r"
                f"&sig={secrets.token_urlsafe(24)}"
            )
        if model == "dall-e-3":
            item["revised_prompt"] = f"A detailed rendering of: {prompt}"
        data.append(item)
    out: dict[str, Any] = {"created": now(), "data": data}
    if gpt_image:
        width, height = (int(p) for p in size.split("x"))
        level = "medium" if quality == "auto" else quality
        per_image = round(_IMAGE_TOKENS[level] * width * height / (1024 * 1024))
        text_tokens = estimate_tokens(prompt)
        out.update(
            background="opaque" if body.get("background") in (None, "auto") else body["background"],
            output_format=body.get("output_format") or "png",
            quality=level,
            size=size if size in ("1024x1024", "1024x1536", "1536x1024") else "1024x1024",
            usage={
                "input_tokens": text_tokens,
                "output_tokens": per_image * n,
                "total_tokens": text_tokens + per_image * n,
                "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": 0},
            },
        )
    return web.json_response(out)


async def serve_image(request: web.Request) -> web.Response:
    data = fake_of(request).store.get_image(request.match_info["image_id"].removesuffix(".png"))
    if data is None:
        return web.Response(
            status=404, text="<Error><Code>BlobNotFound</Code></Error>", content_type="application/xml"
        )
    return web.Response(body=data, content_type="image/png")


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
