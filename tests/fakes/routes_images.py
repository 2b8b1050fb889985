"""Image endpoints of the fake OpenAI server: /v1/images/generations (JSON) and /v1/images/edits
(multipart), plain or streamed as partial/completed image events, plus serving generated image URLs.

Prompt markers (besides `flag:` for a content-policy refusal):
  [[fullsize]]       images at the full requested size, about as heavy as real ones (default: 1/16 scale)
  [[noise]]          full size and incompressible (upload-limit tests)
  [[final-first]]    streamed: the completed event comes before the last partial image
  [[url-html]]       URL responses point at a page serving HTML instead of an image
  [[url-huge:N]]     URL responses point at an image of N bytes (download-cap tests)
  [[no-usage]]       behave like a compatible server: no usage object
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
from typing import Any

from aiohttp import web

from tests.fakes.catalog import FREEFORM_SIZE_MODELS, GPT_IMAGE_QUALITIES, IMAGE_QUALITIES, IMAGE_SIZES
from tests.fakes.common import fake_of, fault_of, json_body, lookup_model, now, record_of
from tests.fakes.errors import ApiError, invalid
from tests.fakes.png import full_size_png, png_dimensions, png_for_size
from tests.fakes.textgen import estimate_tokens
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
_EDIT_FIELDS = (
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
    "background",
    "input_fidelity",
    "user",
)
_PROMPT_LIMITS = {"dall-e-2": 1000, "dall-e-3": 4000}
# Output tokens the GPT image models bill for a 1024x1024 image per quality (larger sizes scale by area).
_IMAGE_TOKENS = {"low": 272, "medium": 1056, "high": 4160}
_EDIT_MODELS = ("dall-e-2",)  # and every gpt-image model
MAX_GPT_IMAGE_INPUT = 50 * 1024 * 1024
MAX_DALLE_INPUT = 4 * 1024 * 1024
_HUGE = re.compile(r"\[\[url-huge:(\d+)\]\]")


def register(app: web.Application) -> None:
    app.router.add_post("/v1/images/generations", generate_images)
    app.router.add_post("/v1/images/edits", edit_images)
    app.router.add_get("/cdn/images/{image_id}", serve_image)


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


class _Params:
    """A validated image request, whichever endpoint and encoding it came in."""

    def __init__(
        self, values: dict[str, Any], model: str, *, edit: bool, input_image_tokens: int = 0
    ) -> None:
        prompt = values["prompt"]
        self.prompt: str = prompt
        self.model = model
        self.edit = edit
        self.gpt_image = model.startswith("gpt-image") or model.startswith("chatgpt-image")
        limit = _PROMPT_LIMITS.get(model, 32000)
        if len(prompt) > limit:
            raise invalid(
                f"Invalid 'prompt': string too long. Expected a string with maximum length {limit}, but "
                f"got a string with length {len(prompt)} instead.",
                "prompt",
                "string_above_max_length",
            )
        self.n: int = values.get("n", 1)
        in_range("n", self.n, 1, 10)
        if model == "dall-e-3" and self.n != 1:
            raise invalid("Invalid 'n': dall-e-3 only supports n=1.", "n", "invalid_value")
        self.size = _check_size(model, values.get("size") or "auto")
        quality = values.get("quality") or "auto"
        one_of(
            "quality",
            quality,
            GPT_IMAGE_QUALITIES if self.gpt_image else IMAGE_QUALITIES.get(model, ("auto",)),
        )
        self.quality: str = quality
        self.response_format: str | None = values.get("response_format")
        if self.response_format is not None:
            if self.gpt_image:
                raise unsupported("response_format")
            one_of("response_format", self.response_format, ("url", "b64_json"))
        for name, options in (
            ("output_format", ("png", "jpeg", "webp")),
            ("background", ("transparent", "opaque", "auto")),
            ("moderation", ("low", "auto")),
            ("input_fidelity", ("high", "low")),
        ):
            value = values.get(name)
            if value is not None:
                if not self.gpt_image:
                    raise unsupported(name)
                one_of(name, value, options)
        self.output_format: str = values.get("output_format") or "png"
        self.background: str = values.get("background") or "auto"
        compression = values.get("output_compression")
        if compression is not None:
            if not self.gpt_image:
                raise unsupported("output_compression")
            in_range("output_compression", compression, 0, 100)
        self.stream: bool = bool(values.get("stream"))
        self.partial_images: int = values.get("partial_images") or 0
        if self.stream and not self.gpt_image:
            raise invalid(
                f"Streaming is not supported for model '{model}'.", "stream", "unsupported_parameter"
            )
        if values.get("partial_images") is not None:
            in_range("partial_images", self.partial_images, 0, 3)
        self.input_image_tokens = input_image_tokens
        if "flag:" in prompt:
            raise ApiError(
                400,
                "Your request was rejected as a result of our safety system. Your prompt may contain "
                "text that is not allowed by our safety system.",
                type_="image_generation_user_error",
                code="content_policy_violation",
            )

    @property
    def level(self) -> str:
        return "medium" if self.quality in ("auto", "standard", "hd") else self.quality

    def image(self, index: int, partial: int | None = None) -> bytes:
        seed = f"{self.model}|{self.prompt}|{index}|{partial}"
        width, height = (int(p) for p in self.size.split("x"))
        if "[[noise]]" in self.prompt:
            return full_size_png(width, height, seed, noise_only=True)
        if "[[fullsize]]" in self.prompt:
            return full_size_png(width, height, seed)
        return png_for_size(self.size, seed)

    def usage(self, images: int, *, with_input: bool = True) -> dict[str, Any]:
        width, height = (int(p) for p in self.size.split("x"))
        per_image = round(_IMAGE_TOKENS[self.level] * width * height / (1024 * 1024))
        text_tokens = estimate_tokens(self.prompt) if with_input else 0
        image_tokens = self.input_image_tokens if with_input else 0
        return {
            "input_tokens": text_tokens + image_tokens,
            "output_tokens": per_image * images,
            "total_tokens": text_tokens + image_tokens + per_image * images,
            "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
        }

    @property
    def reported_size(self) -> str:
        # The documented response enum holds only the three standard sizes.
        return self.size if self.size in ("1024x1024", "1024x1536", "1536x1024") else "1024x1024"


def _model_of(request: web.Request, values: dict[str, Any], default: str, *, edit: bool) -> str:
    model = values.get("model") or default
    lookup_model(request, model, "image", "images")
    if edit and not (model.startswith("gpt-image") or model in _EDIT_MODELS):
        raise invalid(
            f"Invalid model {model}. The model must be one of gpt-image-1, gpt-image-1.5, gpt-image-2 or "
            "dall-e-2.",
            "model",
            "invalid_value",
        )
    return model


async def generate_images(request: web.Request) -> web.StreamResponse:
    body = require_object(json_body(request))
    reject_unknown(body, _IMAGE_FIELDS)
    typed(body, "prompt", str)
    required(body, "prompt")
    for name, kind in (
        ("model", str),
        ("n", int),
        ("size", str),
        ("quality", str),
        ("response_format", str),
        ("style", str),
        ("output_format", str),
        ("background", str),
        ("moderation", str),
        ("output_compression", int),
        ("partial_images", int),
        ("stream", bool),
    ):
        typed(body, name, kind)
    style = body.get("style")
    if style is not None:
        one_of("style", style, ("vivid", "natural"))
    model = _model_of(request, body, "dall-e-2", edit=False)
    params = _Params(body, model, edit=False)
    return await _answer(request, params)


def _image_type(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


_INT_FIELDS = ("n", "output_compression", "partial_images")


async def edit_images(request: web.Request) -> web.StreamResponse:
    rec = record_of(request)
    if request.content_type != "multipart/form-data":
        raise invalid("Invalid Content-Type header (expected multipart/form-data).", None, None)
    for key in rec.form:
        if key not in _EDIT_FIELDS:
            raise invalid(f"Unrecognized request argument supplied: {key}", key, "unknown_parameter")
    for key in rec.files:
        if key not in ("image", "image[]", "mask"):
            raise invalid(f"Unrecognized request argument supplied: {key}", key, "unknown_parameter")
    image = rec.files.get("image") or rec.files.get("image[]")
    if image is None:
        raise invalid("Missing required parameter: 'image'.", "image", "missing_required_parameter")
    if not rec.form.get("prompt"):
        raise invalid("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
    values: dict[str, Any] = dict(rec.form)
    for key in _INT_FIELDS:
        if key in values:
            try:
                values[key] = int(values[key])
            except ValueError:
                raise invalid(
                    f"Invalid type for '{key}': expected an integer.", key, "invalid_type"
                ) from None
    if "stream" in values:
        values["stream"] = values["stream"].lower() == "true"
    model = _model_of(request, values, "gpt-image-1.5", edit=True)
    kind = _image_type(image.data)
    gpt_image = model.startswith("gpt-image")
    if kind is None or (not gpt_image and kind != "png"):
        allowed = "'image/jpeg', 'image/png' or 'image/webp'" if gpt_image else "'image/png'"
        raise invalid(
            f"Invalid file 'image': unsupported mimetype. Supported file formats are {allowed}.",
            "image",
            "invalid_image_format",
        )
    limit = MAX_GPT_IMAGE_INPUT if gpt_image else MAX_DALLE_INPUT
    if len(image.data) > limit:
        raise invalid(
            f"Invalid file 'image': file too large ({len(image.data)} bytes; limit {limit}).",
            "image",
            "image_too_large",
        )
    dims = png_dimensions(image.data)
    if not gpt_image and dims is not None and dims[0] != dims[1]:
        raise invalid("Invalid input image - image must be square.", "image", "invalid_image")
    mask = rec.files.get("mask")
    if mask is not None:
        mask_dims = png_dimensions(mask.data)
        if mask_dims is None:
            raise invalid("Invalid file 'mask': the mask must be a PNG.", "mask", "invalid_image_format")
        if len(mask.data) > MAX_DALLE_INPUT:
            raise invalid("Invalid file 'mask': file too large (limit 4MB).", "mask", "image_too_large")
        if dims is not None and mask_dims != dims:
            raise invalid(
                "Invalid mask image: the mask and the image must have the same dimensions.",
                "mask",
                "invalid_image",
            )
    # Input image tokens: what the API bills for reading the image, by its area (1024x1024 ~ 1,000).
    width, height = dims or (1024, 1024)
    image_tokens = max(85, round(width * height / 1024))
    params = _Params(values, model, edit=True, input_image_tokens=image_tokens)
    return await _answer(request, params)


def _url_for(request: web.Request, data: bytes) -> str:
    fake = fake_of(request)
    image_id = fake.store.add_image(data)
    return f"{fake.origin}/cdn/images/{image_id}.png?se={now() + 3600}&sp=r&sig={secrets.token_urlsafe(24)}"


async def _answer(request: web.Request, params: _Params) -> web.StreamResponse:
    if params.stream:
        return await _stream(request, params)
    prompt = params.prompt
    data: list[dict[str, Any]] = []
    for index in range(params.n):
        png = params.image(index)
        item: dict[str, Any] = {}
        if params.gpt_image or params.response_format == "b64_json":
            item["b64_json"] = base64.b64encode(png).decode()
        elif "[[url-html]]" in prompt:
            item["url"] = _url_for(request, b"<!DOCTYPE html><html><body>Sign in</body></html>")
        elif (huge := _HUGE.search(prompt)) is not None:
            item["url"] = _url_for(request, png + b"\0" * max(0, int(huge.group(1)) - len(png)))
        else:
            item["url"] = _url_for(request, png)
        if params.model == "dall-e-3":
            item["revised_prompt"] = f"A detailed rendering of: {prompt}"
        data.append(item)
    out: dict[str, Any] = {"created": now(), "data": data}
    if params.gpt_image:
        out.update(
            background="opaque" if params.background == "auto" else params.background,
            output_format=params.output_format,
            quality=params.level,
            size=params.reported_size,
        )
        if "[[no-usage]]" not in prompt:
            out["usage"] = params.usage(params.n)
    return web.json_response(out)


def _event(params: _Params, kind: str, png: bytes) -> dict[str, Any]:
    prefix = "image_edit" if params.edit else "image_generation"
    return {
        "type": f"{prefix}.{kind}",
        "b64_json": base64.b64encode(png).decode(),
        "created_at": now(),
        "size": params.reported_size,
        "quality": params.level,
        "background": "opaque" if params.background == "auto" else params.background,
        "output_format": params.output_format,
    }


async def _stream(request: web.Request, params: _Params) -> web.StreamResponse:
    """Per image: `partial_images` previews, then the completed image with its usage (the prompt's
    input tokens on the first image's event); the stream ends after the last one, without [DONE]."""
    fake = fake_of(request)
    fault = fault_of(request)
    events: list[dict[str, Any]] = []
    for index in range(params.n):
        partials = []
        for partial in range(params.partial_images):
            event = _event(params, "partial_image", params.image(index, partial))
            event["partial_image_index"] = partial
            partials.append(event)
        done = _event(params, "completed", params.image(index))
        if "[[no-usage]]" not in params.prompt:
            done["usage"] = params.usage(1, with_input=index == 0)
        if "[[final-first]]" in params.prompt and partials:
            events += [*partials[:-1], done, partials[-1]]
        else:
            events += [*partials, done]
    response = web.StreamResponse(
        status=200, headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    for index, event in enumerate(events):
        if fault is not None and fault.drop_after_chunks is not None and index >= fault.drop_after_chunks:
            # Let the events already written reach the client first: a reset can make its kernel
            # discard data it had received but not yet read, which is not what the test asks for.
            await asyncio.sleep(0.2)
            if request.transport is not None:
                request.transport.abort()
            return response
        if index and fake.stream_delay:
            await asyncio.sleep(fake.stream_delay)
        payload = json.dumps(event, separators=(",", ":")).encode()
        await response.write(f"event: {event['type']}\ndata: ".encode() + payload + b"\n\n")
    await response.write_eof()
    return response


async def serve_image(request: web.Request) -> web.Response:
    data = fake_of(request).store.get_image(request.match_info["image_id"].removesuffix(".png"))
    if data is None:
        return web.Response(
            status=404, text="<Error><Code>BlobNotFound</Code></Error>", content_type="application/xml"
        )
    kind = "text/html" if data.startswith(b"<!DOCTYPE") else "image/png"
    return web.Response(body=data, content_type=kind)
