"""POST /embeddings: request/response models.
Base64-encoded vectors (encoding_format="base64") are decoded to floats, so callers always get floats."""

from __future__ import annotations

import base64
import sys
from array import array
from typing import Any, Literal

from pydantic import Field, field_validator

from bot.openai_api._base import APIModel, RequestModel, Usage
from bot.openai_api.transport import Transport

EmbeddingInput = str | list[str] | list[int] | list[list[int]]


def decode_base64_floats(value: str) -> list[float]:
    """The API packs float32 little-endian values; array() reads them in native order."""
    packed = array("f", base64.b64decode(value))
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tolist()


class EmbeddingRequest(RequestModel):
    input: EmbeddingInput
    model: str
    dimensions: int | None = None
    encoding_format: Literal["float", "base64"] | None = None
    user: str | None = None


class Embedding(APIModel):
    index: int = 0
    object: str = "embedding"
    embedding: list[float]

    @field_validator("embedding", mode="before")
    @classmethod
    def _decode_base64(cls, value: Any) -> Any:
        if isinstance(value, str):
            return decode_base64_floats(value)
        return value


class EmbeddingsResponse(APIModel):
    object: str = "list"
    model: str = ""
    data: list[Embedding] = Field(default_factory=list)
    usage: Usage | None = None


class Embeddings:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def create(
        self,
        *,
        input: EmbeddingInput,
        model: str,
        dimensions: int | None = None,
        encoding_format: Literal["float", "base64"] | None = None,
        request_timeout: float | None = None,
        **extra: Any,
    ) -> EmbeddingsResponse:
        body = EmbeddingRequest(
            input=input, model=model, dimensions=dimensions, encoding_format=encoding_format, **extra
        ).to_json()
        raw = await self._t.post_json("/embeddings", body, request_timeout=request_timeout)
        return self._t.parse(EmbeddingsResponse, raw)
