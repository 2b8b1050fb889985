"""Image size, quality and count rules per model family, checked before any API call.
GPT image models (gpt-image-2 also takes free WIDTHxHEIGHT), dall-e-2-style and dall-e-3-style models."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import UserFacingError

_SIZE = re.compile(r"^(\d{2,5})x(\d{2,5})$")
# gpt-image-2: both sides divisible by 16, ratio within 1:3..3:1, at most 3840x2160 (pixels and edge).
FREEFORM_MAX_EDGE = 3840
FREEFORM_MAX_PIXELS = 3840 * 2160
FREEFORM_STEP = 16


@dataclass(frozen=True, slots=True)
class Family:
    """What a group of models accepts."""

    name: str
    sizes: tuple[str, ...]
    qualities: tuple[str, ...]
    max_n: int
    #: Streams partial images (`stream: true`, `partial_images`).
    streams: bool
    #: Served by /images/edits (Variation and Edit image need it).
    edits: bool
    #: Accepts `response_format`; GPT image models reject it ("Unknown parameter").
    response_format: bool
    freeform: bool = False


GPT_IMAGE = Family(
    "gpt-image", ("auto", "1024x1024", "1536x1024", "1024x1536"), ("auto", "low", "medium", "high"), 10, True,
    True, False,
)  # fmt: skip
GPT_IMAGE_FREEFORM = Family(
    "gpt-image", GPT_IMAGE.sizes, GPT_IMAGE.qualities, 10, True, True, False, freeform=True
)
DALLE2 = Family("dall-e-2", ("256x256", "512x512", "1024x1024"), ("auto", "standard"), 10, False, True, True)
DALLE3 = Family(
    "dall-e-3", ("1024x1024", "1792x1024", "1024x1792"), ("auto", "standard", "hd"), 1, False, False, True
)


def family_of(model: str) -> Family:
    """The rules for `model`; unknown models (compatible servers) get the dall-e-2 rules they imitate."""
    name = model.lower()
    if "dall-e-3" in name:
        return DALLE3
    if "gpt-image-2" in name:
        return GPT_IMAGE_FREEFORM
    if "gpt-image" in name or "chatgpt-image" in name:
        return GPT_IMAGE
    return DALLE2


def is_image_model(model: str) -> bool:
    name = model.lower()
    return "dall-e" in name or "image" in name


class SizeNotAllowed(UserFacingError):
    key = "imagine.error.size"

    def __init__(self, model: str, size: str, allowed: str) -> None:
        super().__init__(model=model, size=size, allowed=allowed)


class QualityNotAllowed(UserFacingError):
    key = "imagine.error.quality"

    def __init__(self, model: str, quality: str, allowed: tuple[str, ...]) -> None:
        super().__init__(model=model, quality=quality, allowed=", ".join(allowed))


class CountNotAllowed(UserFacingError):
    key = "imagine.error.count"

    def __init__(self, model: str, n: int, limit: int) -> None:
        super().__init__(model=model, n=str(n), limit=str(limit))


def parse_size(size: str) -> tuple[int, int] | None:
    match = _SIZE.match(size)
    return (int(match.group(1)), int(match.group(2))) if match else None


def freeform_ok(width: int, height: int) -> bool:
    return (
        width % FREEFORM_STEP == 0
        and height % FREEFORM_STEP == 0
        and 1 / 3 <= width / height <= 3
        and max(width, height) <= FREEFORM_MAX_EDGE
        and width * height <= FREEFORM_MAX_PIXELS
    )


def allowed_sizes_text(family: Family) -> str:
    text = ", ".join(family.sizes)
    if family.freeform:
        text += " (+ WIDTHxHEIGHT: multiples of 16, ratio 1:3–3:1, up to 3840x2160)"
    return text


def check_size(model: str, size: str) -> str:
    """The size to send, normalised (`1536X1024` -> `1536x1024`), or SizeNotAllowed saying what is."""
    family = family_of(model)
    wanted = size.strip().lower().replace(" ", "").replace("×", "x")
    if wanted in family.sizes:
        return wanted
    dims = parse_size(wanted)
    if family.freeform and dims is not None and freeform_ok(*dims):
        return wanted
    raise SizeNotAllowed(model, size, allowed_sizes_text(family))


def check_quality(model: str, quality: str, server_allows: tuple[str, ...]) -> str:
    family = family_of(model)
    allowed = tuple(q for q in family.qualities if q in server_allows or q == "auto")
    if quality not in allowed:
        raise QualityNotAllowed(model, quality, allowed)
    return quality


def check_count(model: str, n: int, server_max: int) -> int:
    limit = min(family_of(model).max_n, server_max)
    if not 1 <= n <= limit:
        raise CountNotAllowed(model, n, limit)
    return n


def default_size(model: str) -> str:
    family = family_of(model)
    return "auto" if "auto" in family.sizes else "1024x1024"


def size_choices(model: str, current: str) -> list[str]:
    """Autocomplete: the family's sizes matching what was typed, and the typed size itself when it is a
    valid free size."""
    family = family_of(model)
    needle = current.strip().lower()
    found = [s for s in family.sizes if needle in s]
    dims = parse_size(needle)
    if family.freeform and dims is not None and freeform_ok(*dims) and needle not in found:
        found.insert(0, needle)
    if family.freeform and not needle:
        found += ["1536x864", "2560x1440", "3840x2160"]
    return found[:25]


def pixels(size: str) -> tuple[int, int]:
    """Dimensions to plan for; `auto` may come back as the largest standard GPT image size."""
    return parse_size(size) or (1536, 1024)
