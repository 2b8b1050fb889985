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


def _word_features(word: str, model: str, dims: int) -> tuple[list[int], list[float]]:
    """The 16 (position, value) pairs a word adds to the vector."""
    digest = hashlib.blake2b(f"{model}|{word}".encode(), digest_size=_FEATURES_PER_WORD * 4).digest()
    positions = [int.from_bytes(digest[i * 4 : i * 4 + 3], "big") % dims for i in range(_FEATURES_PER_WORD)]
    return positions, [(digest[i * 4 + 3] - 127.5) / 127.5 for i in range(_FEATURES_PER_WORD)]


class _Vocabulary:
    """Each word seen for one (model, dims) as a row of its feature positions and values, so a batch
    of texts is one gather and one bincount (the fake's CPU time must not hide the bot's in benches)."""

    def __init__(self, model: str, dims: int) -> None:
        self.model, self.dims = model, dims
        self.rows: dict[str, int] = {}
        self.positions = np.zeros((64, _FEATURES_PER_WORD), dtype=np.int64)
        self.values = np.zeros((64, _FEATURES_PER_WORD), dtype=np.float64)

    def row(self, word: str) -> int:
        found = self.rows.get(word)
        if found is not None:
            return found
        row = len(self.rows)
        if row == len(self.positions):
            self.positions = np.concatenate([self.positions, np.zeros_like(self.positions)])
            self.values = np.concatenate([self.values, np.zeros_like(self.values)])
        self.positions[row], self.values[row] = _word_features(word, self.model, self.dims)
        self.rows[word] = row
        return row


@lru_cache(maxsize=64)
def _vocabulary(model: str, dims: int) -> _Vocabulary:
    return _Vocabulary(model, dims)


def embed_many(texts: list[str], model: str, dims: int) -> np.ndarray:
    """`embed` of each text, as rows of a float64 matrix."""
    vocabulary = _vocabulary(model, dims)
    rows: list[int] = []
    owners: list[int] = []
    known = vocabulary.rows.get
    for index, text in enumerate(texts):
        words = _WORD.findall(text.lower()) or [text]
        found = list(map(known, words))
        rows += found if None not in found else [vocabulary.row(word) for word in words]
        owners += [index] * len(words)
    picked = np.asarray(rows, dtype=np.int64)
    bins = vocabulary.positions[picked] + (np.asarray(owners, dtype=np.int64) * dims)[:, None]
    matrix = np.bincount(
        bins.ravel(), weights=vocabulary.values[picked].ravel(), minlength=len(texts) * dims
    ).reshape(len(texts), dims)
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
    norms[norms == 0] = 1.0
    return np.round(matrix / norms[:, None], 7)


def embed_array(text: str, model: str, dims: int) -> np.ndarray:
    """`embed` as a float64 array."""
    return embed_many([text], model, dims)[0]


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
