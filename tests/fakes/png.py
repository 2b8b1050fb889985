"""Small, valid PNG images for the fake image endpoint, written with zlib + struct (no Pillow).

Owns the bytes behind `b64_json` and the served image URLs.
"""

from __future__ import annotations

import hashlib
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
