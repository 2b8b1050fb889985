"""Deterministic embeddings for the fake OpenAI server.

Owns the vector for a text: a bag-of-words hashing embedding, so equal texts give equal vectors and
texts sharing words have a positive cosine similarity (useful for search and dedup tests).
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
from functools import lru_cache

_FEATURES_PER_WORD = 16


@lru_cache(maxsize=65536)
def _word_features(word: str, model: str, dims: int) -> tuple[tuple[int, float], ...]:
    digest = hashlib.blake2b(f"{model}|{word}".encode(), digest_size=_FEATURES_PER_WORD * 4).digest()
    out = []
    for i in range(_FEATURES_PER_WORD):
        position = int.from_bytes(digest[i * 4 : i * 4 + 3], "big") % dims
        out.append((position, (digest[i * 4 + 3] - 127.5) / 127.5))
    return tuple(out)


def embed(text: str, model: str, dims: int) -> list[float]:
    """A unit-length vector of `dims` floats for `text`."""
    words = re.findall(r"\w+", text.lower()) or [text]
    vector = [0.0] * dims
    for word in words:
        for position, value in _word_features(word, model, dims):
            vector[position] += value
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [round(v / norm, 7) for v in vector]


def to_base64(vector: list[float]) -> str:
    """How the API encodes `encoding_format: base64`: little-endian float32 bytes, base64."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def from_base64(data: str) -> list[float]:
    raw = base64.b64decode(data)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))
