"""POST /images/generations: request/response models.
Each result exposes the image URL or, for b64_json responses, the decoded bytes."""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

from pydantic import Field

from bot.openai_api._base import APIModel, RequestModel
from bot.openai_api.transport import Transport


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
    user: str | None = None


class ImageUsage(APIModel):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_tokens_details: dict[str, Any] | None = None
    output_tokens_details: dict[str, Any] | None = None


class ImageData(APIModel):
    url: str | None = None
    b64_json: str | None = None
    revised_prompt: str | None = None

    def image_bytes(self) -> bytes | None:
        """The decoded image when the server sent base64, None when it sent only a URL."""
        if self.b64_json is None:
            return None
        try:
            return base64.b64decode(self.b64_json, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("the server sent an image that is not valid base64") from exc


class ImagesResponse(APIModel):
    created: int = 0
    data: list[ImageData] = Field(default_factory=list)
    usage: ImageUsage | None = None
    background: str | None = None
    output_format: str | None = None
    quality: str | None = None
    size: str | None = None


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
        body = ImageRequest(
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
        raw = await self._t.post_json("/images/generations", body, request_timeout=request_timeout)
        return self._t.parse(ImagesResponse, raw)
