"""Making generated images fit Discord's upload limit: the per-file budget, whether to ask the model
for a compressed format, re-encoding (Pillow) whatever still comes back too large, and previews."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

from PIL import Image

from cogs.imagine.sizes import pixels

log = logging.getLogger(__name__)

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
# Discord takes at most this much in one request, whatever the per-file limit says.
MAX_REQUEST_BYTES = 25 * 1024 * 1024
# Room for the multipart framing and the JSON payload that travel with the files.
REQUEST_MARGIN = 64 * 1024
# What the model is asked for when a PNG of the requested size might not fit.
COMPRESSED_FORMAT = "webp"
COMPRESSION = 85
_QUALITIES = (85, 70, 55)
_MAX_ROUNDS = 6


def upload_limit(interaction: Any) -> int:
    """The reply's per-file limit: the interaction payload's `attachment_size_limit`, else the guild's
    `filesize_limit`, else Discord's default."""
    limit = getattr(interaction, "filesize_limit", None)
    if not limit:
        guild = getattr(interaction, "guild", None)
        limit = getattr(guild, "filesize_limit", None) if guild is not None else None
    return int(limit or DEFAULT_UPLOAD_LIMIT)


def per_file_budget(limit: int, count: int) -> int:
    """Bytes each of `count` files may use so that every file and the whole request fit."""
    return max(64 * 1024, min(limit, (MAX_REQUEST_BYTES - REQUEST_MARGIN) // max(1, count)) - 1024)


def needs_compressed_output(size: str, budget: int) -> bool:
    """True when a PNG of `size` could exceed the budget: an image with much detail compresses little,
    so plan for three bytes a pixel."""
    width, height = pixels(size)
    return width * height * 3 > budget


def image_extension(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return "png"


def image_dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height read from the header (nothing is decoded), or None when it is no image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


@dataclass(frozen=True, slots=True)
class FittedImage:
    data: bytes
    extension: str
    reencoded: bool


class ImageTooLarge(Exception):
    """Even small re-encodings did not fit (a budget far below any real Discord limit)."""


def _decode(data: bytes) -> tuple[Image.Image, bool]:
    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        alpha = opened.mode in ("RGBA", "LA", "PA") or "transparency" in opened.info
        return opened.convert("RGBA" if alpha else "RGB"), alpha


def _encode(image: Image.Image, alpha: bool, quality: int) -> tuple[bytes, str]:
    # JPEG encodes about 15 times faster than WebP at the same size; WebP only where transparency
    # must survive (method 0: its fastest, and barely larger).
    out = io.BytesIO()
    if alpha:
        image.save(out, format="WEBP", quality=quality, method=0)
        return out.getvalue(), "webp"
    image.save(out, format="JPEG", quality=quality, optimize=False)
    return out.getvalue(), "jpg"


def fit_image(data: bytes, budget: int) -> FittedImage:
    """`data` itself when it fits, else a JPEG (WebP with transparency) re-encoding below `budget`:
    lower quality first when the gap is small, smaller dimensions when it is not. CPU-bound: run it in
    a thread."""
    if len(data) <= budget:
        return FittedImage(data, image_extension(data), False)
    image, alpha = _decode(data)
    quality = _QUALITIES[0]
    encoded, extension = _encode(image, alpha, quality)
    for _ in range(_MAX_ROUNDS):
        if len(encoded) <= budget:
            log.debug("re-encoded %d bytes to %d (%s q%d)", len(data), len(encoded), extension, quality)
            return FittedImage(encoded, extension, True)
        ratio = budget / len(encoded)
        if ratio >= 0.7 and quality > _QUALITIES[-1]:
            quality = max(_QUALITIES[-1], quality - 15)
        else:
            # Bytes follow the area, roughly: aim a little below the budget.
            factor = max(0.25, min(0.9, ratio**0.5 * 0.9))
            image = image.resize(
                (max(1, int(image.width * factor)), max(1, int(image.height * factor))),
                Image.Resampling.BILINEAR,
            )
        encoded, extension = _encode(image, alpha, quality)
    if len(encoded) <= budget:
        return FittedImage(encoded, extension, True)
    raise ImageTooLarge(f"could not fit a {len(data)}-byte image into {budget} bytes")


PREVIEW_EDGE = 768


def preview_image(data: bytes, budget: int) -> FittedImage:
    """A partial image as a small, quickly encoded preview: it is replaced within seconds, so it need
    not be sharp, only cheap to make and to upload."""
    image, alpha = _decode(data)
    image.thumbnail((PREVIEW_EDGE, PREVIEW_EDGE), Image.Resampling.BILINEAR)
    encoded, extension = _encode(image, alpha, 75)
    if len(encoded) <= budget:
        return FittedImage(encoded, extension, True)
    return fit_image(encoded, budget)
