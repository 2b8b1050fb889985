"""POST /embeddings: request/response models.
A vector is kept as the API sent it (floats, or base64 float32 when asked for): `packed()` gives its
float32 bytes without building Python floats, `floats()` gives a list."""

from __future__ import annotations

import base64
import sys
from array import array
from typing import Any, Literal

from pydantic import Field

from bot.openai_api._base import APIModel, RequestModel, Usage
from bot.openai_api.transport import Transport

EmbeddingInput = str | list[str] | list[int] | list[list[int]]


def decode_base64_floats(value: str) -> list[float]:
    """The API packs float32 little-endian values; array() reads them in native order."""
    packed = array("f", base64.b64decode(value))
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tolist()


def _little_endian_f32(values: list[float]) -> bytes:
    packed = array("f", values)
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


class EmbeddingRequest(RequestModel):
    input: EmbeddingInput
    model: str
    dimensions: int | None = None
    encoding_format: Literal["float", "base64"] | None = None
    user: str | None = None


class Embedding(APIModel):
    index: int = 0
    object: str = "embedding"
    #: As sent: floats, or (encoding_format="base64") base64 of little-endian float32 values. Decoding
    #: base64 into Python floats cost half of ingesting a passage, so it is decoded only when asked.
    embedding: list[float] | str

    def packed(self) -> bytes:
        """The vector as little-endian float32 bytes (what numpy's frombuffer("<f4") reads)."""
        if isinstance(self.embedding, str):
            return base64.b64decode(self.embedding)
        return _little_endian_f32(self.embedding)

    def floats(self) -> list[float]:
        if isinstance(self.embedding, str):
            return decode_base64_floats(self.embedding)
        return self.embedding


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
