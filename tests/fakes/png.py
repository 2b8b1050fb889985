"""Small, valid PNG images for the fake image endpoint, written with zlib + struct (no Pillow).

Owns the bytes behind `b64_json` and the served image URLs (small by default, full size on request).
"""

from __future__ import annotations

import hashlib
import random
import struct
import zlib

# Images are drawn at 1/SCALE of the requested size so a 1792x1024 request stays a few KB and fast.
SCALE = 16


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def make_png(width: int, height: int, seed: str) -> bytes:
    """An 8-bit RGB gradient whose colours come from `seed`, so different prompts give different images."""
    digest = hashlib.sha256(seed.encode()).digest()
    r0, g0, b0 = digest[0], digest[1], digest[2]
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type None for each scanline
        for x in range(width):
            rows += bytes(((r0 + x * 4) & 0xFF, (g0 + y * 4) & 0xFF, (b0 + (x + y) * 2) & 0xFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 6))
        + _chunk(b"IEND", b"")
    )


def png_for_size(size: str, seed: str) -> bytes:
    width, height = (int(part) for part in size.split("x"))
    return make_png(max(1, width // SCALE), max(1, height // SCALE), seed)


_FULL_CACHE: dict[tuple[int, int, int, bool], bytes] = {}


def full_size_png(width: int, height: int, seed: str, *, noise_only: bool = False) -> bytes:
    """A PNG at the full requested size, about as large as a real model's (half noise, half gradient
    per row) or, with `noise_only`, incompressible. A handful of variants per size are cached, so a
    benchmark's server is not the bottleneck."""
    variant = hashlib.sha256(seed.encode()).digest()[0] % 4
    key = (width, height, variant, noise_only)
    cached = _FULL_CACHE.get(key)
    if cached is not None:
        return cached
    rng = random.Random(f"{width}x{height}|{variant}|{noise_only}")
    row_bytes = width * 3
    noisy = row_bytes if noise_only else row_bytes // 2
    ramp = bytes((variant * 60 + i // 3) & 0xFF for i in range(row_bytes - noisy))
    rows = bytearray()
    for _ in range(height):
        rows.append(0)
        rows += rng.randbytes(noisy)
        rows += ramp
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 1))
        + _chunk(b"IEND", b"")
    )
    if len(_FULL_CACHE) < 32:
        _FULL_CACHE[key] = png
    return png


def png_dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, or None when `data` is not one."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height
