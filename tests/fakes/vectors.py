"""Deterministic embeddings for the fake OpenAI server.

Owns the vector for a text: a bag-of-words hashing embedding, so equal texts give equal vectors and
texts sharing words have a positive cosine similarity (useful for search and dedup tests).
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from functools import lru_cache

import numpy as np

_FEATURES_PER_WORD = 16


_WORD = re.compile(r"\w+")


@lru_cache(maxsize=65536)
def _word_features(word: str, model: str, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions, values) a word adds to the vector."""
    digest = hashlib.blake2b(f"{model}|{word}".encode(), digest_size=_FEATURES_PER_WORD * 4).digest()
    quads = np.frombuffer(digest, dtype=np.uint8).reshape(_FEATURES_PER_WORD, 4).astype(np.int64)
    positions = (quads[:, 0] << 16 | quads[:, 1] << 8 | quads[:, 2]) % dims
    return positions, (quads[:, 3] - 127.5) / 127.5


def embed_array(text: str, model: str, dims: int) -> np.ndarray:
    """`embed` as a float64 array (numpy, so the fake's CPU time does not hide the bot's in benches)."""
    words = _WORD.findall(text.lower()) or [text]
    features = [_word_features(word, model, dims) for word in words]
    vector = np.bincount(
        np.concatenate([p for p, _ in features]),
        weights=np.concatenate([v for _, v in features]),
        minlength=dims,
    )
    norm = float(np.sqrt(vector @ vector)) or 1.0
    return np.round(vector / norm, 7)


def embed(text: str, model: str, dims: int) -> list[float]:
    """A unit-length vector of `dims` floats for `text`."""
    values: list[float] = embed_array(text, model, dims).tolist()
    return values


def to_base64(vector: list[float] | np.ndarray) -> str:
    """How the API encodes `encoding_format: base64`: little-endian float32 bytes, base64."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()


def from_base64(data: str) -> list[float]:
    raw = base64.b64decode(data)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))
