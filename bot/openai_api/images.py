"""POST /images/generations and /images/edits (multipart), plain and streamed (partial images).
Each result exposes the image URL or, for base64 responses, the decoded bytes; streams keep the usage."""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from bot.openai_api._base import APIModel, RequestModel
from bot.openai_api.multipart import (
    FilePart,
    MultipartBody,
    encode_multipart_files,
    form_fields,
    guess_content_type,
)
from bot.openai_api.stream import JSONEventStream
from bot.openai_api.transport import Transport

log = logging.getLogger(__name__)


class ImageRequest(RequestModel):
    prompt: str
    model: str | None = None
    n: int | None = None
    size: str | None = None
    quality: str | None = None
    response_format: Literal["url", "b64_json"] | None = None
    output_format: str | None = None
    output_compression: int | None = None
    background: str | None = None
    moderation: str | None = None
    style: str | None = None
    stream: bool | None = None
    partial_images: int | None = None
    user: str | None = None


class ImageUsage(APIModel):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_tokens_details: dict[str, Any] | None = None
    output_tokens_details: dict[str, Any] | None = None

    @property
    def text_input_tokens(self) -> int:
        """Prompt text tokens; all input tokens when the server did not break them down."""
        details = self.input_tokens_details or {}
        if "text_tokens" not in details and "image_tokens" not in details:
            return self.input_tokens
        return int(details.get("text_tokens") or 0)

    @property
    def image_input_tokens(self) -> int:
        """Tokens of the input image(s) of an edit; 0 for a generation."""
        return int((self.input_tokens_details or {}).get("image_tokens") or 0)

    def plus(self, other: ImageUsage) -> ImageUsage:
        return ImageUsage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            input_tokens_details={
                "text_tokens": self.text_input_tokens + other.text_input_tokens,
                "image_tokens": self.image_input_tokens + other.image_input_tokens,
            },
        )


def _decode(b64: str | None) -> bytes | None:
    if b64 is None:
        return None
    try:
        return base64.b64decode(b64, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the server sent an image that is not valid base64") from exc


class ImageData(APIModel):
    url: str | None = None
    b64_json: str | None = None
    revised_prompt: str | None = None

    def image_bytes(self) -> bytes | None:
        """The decoded image when the server sent base64, None when it sent only a URL."""
        return _decode(self.b64_json)


class ImagesResponse(APIModel):
    created: int = 0
    data: list[ImageData] = Field(default_factory=list)
    usage: ImageUsage | None = None
    background: str | None = None
    output_format: str | None = None
    quality: str | None = None
    size: str | None = None


class ImageStreamEvent(APIModel):
    """`image_generation.partial_image` / `image_edit.partial_image` (a preview, `partial_image_index`
    set) or `image_generation.completed` / `image_edit.completed` (a final image, with `usage`)."""

    type: str = ""
    b64_json: str | None = None
    created_at: int = 0
    size: str | None = None
    quality: str | None = None
    background: str | None = None
    output_format: str | None = None
    partial_image_index: int | None = None
    usage: ImageUsage | None = None

    @property
    def is_partial(self) -> bool:
        return self.type.endswith(".partial_image")

    @property
    def is_completed(self) -> bool:
        return self.type.endswith(".completed")

    def image_bytes(self) -> bytes | None:
        return _decode(self.b64_json)


class ImageStream(JSONEventStream[ImageStreamEvent]):
    """Streamed images: iterate for events; `completed` holds the final images' events in arrival order
    and `usage` the sum of their usage (what the API reported, also when the stream stops early)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.completed: list[ImageStreamEvent] = []
        self.usage: ImageUsage | None = None

    def _on_chunk(self, chunk: ImageStreamEvent) -> None:
        if chunk.is_completed:
            self.completed.append(chunk)
            if chunk.usage is not None:
                self.usage = chunk.usage if self.usage is None else self.usage.plus(chunk.usage)

    def _ended_cleanly(self) -> bool:
        # Image streams end with the last completed event, without [DONE].
        return bool(self.completed)


@dataclass(frozen=True, slots=True)
class ImageFile:
    """An image to upload: bytes, a file name (its extension names the type) and optionally the type."""

    data: bytes
    filename: str
    content_type: str | None = None

    def part(self, field: str) -> FilePart:
        return FilePart(
            field, self.data, self.filename, self.content_type or guess_content_type(self.filename)
        )


class Images:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def generate(
        self,
        *,
        prompt: str,
        model: str | None = None,
        n: int | None = None,
        size: str | None = None,
        quality: str | None = None,
        response_format: Literal["url", "b64_json"] | None = None,
        output_format: str | None = None,
        background: str | None = None,
        request_timeout: float | None = None,
        **extra: Any,
    ) -> ImagesResponse:
        body = self._generation_body(
            prompt, model, n, size, quality, response_format, output_format, background, extra
        )
        raw = await self._t.post_json("/images/generations", body, request_timeout=request_timeout)
        return self._t.parse(ImagesResponse, raw)

    async def generate_stream(
        self,
        *,
        prompt: str,
        model: str | None = None,
        n: int | None = None,
        size: str | None = None,
        quality: str | None = None,
        partial_images: int | None = None,
        output_format: str | None = None,
        background: str | None = None,
        request_timeout: float | None = None,
        **extra: Any,
    ) -> ImageStream:
        """Open a streamed generation (GPT image models); retries apply until the response starts."""
        extra.pop("stream", None)
        body = self._generation_body(
            prompt,
            model,
            n,
            size,
            quality,
            None,
            output_format,
            background,
            {**extra, "stream": True, "partial_images": partial_images},
        )
        response, meta = await self._t.open_stream(
            "/images/generations", body, request_timeout=request_timeout
        )
        return ImageStream(response, meta, ImageStreamEvent, self._t.secret_to_scrub)

    async def edit(
        self,
        *,
        image: ImageFile,
        prompt: str,
        mask: ImageFile | None = None,
        model: str | None = None,
        n: int | None = None,
        size: str | None = None,
        quality: str | None = None,
        response_format: Literal["url", "b64_json"] | None = None,
        output_format: str | None = None,
        request_timeout: float | None = None,
        **extra: Any,
    ) -> ImagesResponse:
        """Edit `image` (its transparent `mask` areas, when given) as `prompt` says (multipart)."""
        extra.pop("stream", None)
        body = self._edit_body(
            image, prompt, mask, model, n, size, quality, response_format, output_format, extra
        )
        raw = await self._t.post_multipart(
            "/images/edits", body.body, body.content_type, request_timeout=request_timeout
        )
        return self._t.parse(ImagesResponse, raw)

    async def edit_stream(
        self,
        *,
        image: ImageFile,
        prompt: str,
        mask: ImageFile | None = None,
        model: str | None = None,
        n: int | None = None,
        size: str | None = None,
        quality: str | None = None,
        partial_images: int | None = None,
        output_format: str | None = None,
        request_timeout: float | None = None,
        **extra: Any,
    ) -> ImageStream:
        """Open a streamed edit (GPT image models); retries apply until the response starts."""
        extra.pop("stream", None)
        body = self._edit_body(
            image,
            prompt,
            mask,
            model,
            n,
            size,
            quality,
            None,
            output_format,
            {**extra, "stream": True, "partial_images": partial_images},
        )
        response, meta = await self._t.open_stream(
            "/images/edits", body.body, request_timeout=request_timeout, content_type=body.content_type
        )
        return ImageStream(response, meta, ImageStreamEvent, self._t.secret_to_scrub)

    @staticmethod
    def _generation_body(
        prompt: str,
        model: str | None,
        n: int | None,
        size: str | None,
        quality: str | None,
        response_format: Literal["url", "b64_json"] | None,
        output_format: str | None,
        background: str | None,
        extra: dict[str, Any],
    ) -> bytes:
        return ImageRequest(
            prompt=prompt,
            model=model,
            n=n,
            size=size,
            quality=quality,
            response_format=response_format,
            output_format=output_format,
            background=background,
            **extra,
        ).to_json()

    @staticmethod
    def _edit_body(
        image: ImageFile,
        prompt: str,
        mask: ImageFile | None,
        model: str | None,
        n: int | None,
        size: str | None,
        quality: str | None,
        response_format: str | None,
        output_format: str | None,
        extra: dict[str, Any],
    ) -> MultipartBody:
        fields = form_fields(
            {
                "prompt": prompt,
                "model": model,
                "n": n,
                "size": size,
                "quality": quality,
                "response_format": response_format,
                "output_format": output_format,
                **extra,
            }
        )
        files = [image.part("image")]
        if mask is not None:
            files.append(mask.part("mask"))
        return encode_multipart_files(fields, files)
