"""Moderation scoring for the fake OpenAI server, driven by marker words in the input.

Owns the categories, the `flag:<category>` / `score:<category>=x` markers and the result objects.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

CATEGORIES = (
    "hate",
    "hate/threatening",
    "harassment",
    "harassment/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
# Categories the omni model also scores on images (the others apply to text only).
IMAGE_CATEGORIES = (
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "violence",
    "violence/graphic",
)
FLAG_SCORE = 0.97
THRESHOLD = 0.5

_FLAG = re.compile(r"flag[:\-]([a-z]+(?:-[a-z]+)?(?:[/_][a-z]+)?)")
_SCORE = re.compile(r"score[:\-]([a-z]+(?:-[a-z]+)?(?:[/_][a-z]+)?)=([01](?:\.\d+)?)")


def _category(raw: str) -> str | None:
    name = raw.replace("_", "/")
    return name if name in CATEGORIES else None


def marker_scores(text: str) -> dict[str, float]:
    """Scores set by markers in `text` (lower-cased); `flag:all` flags every category."""
    lowered = text.lower()
    scores: dict[str, float] = {}
    for raw in _FLAG.findall(lowered):
        if raw == "all":
            scores.update(dict.fromkeys(CATEGORIES, FLAG_SCORE))
        elif (name := _category(raw)) is not None:
            scores[name] = FLAG_SCORE
    for raw, value in _SCORE.findall(lowered):
        if (name := _category(raw)) is not None:
            scores[name] = min(1.0, float(value))
    return scores


def _baseline(seed: str, category: str) -> float:
    # Tiny, deterministic, non-zero scores like the real model gives harmless text.
    digest = hashlib.sha256(f"{seed}|{category}".encode()).digest()
    return round(1e-6 + int.from_bytes(digest[:2], "big") / 65535 * 1e-3, 8)


def result(texts: list[str], image_urls: list[str], legacy: bool) -> dict[str, Any]:
    """One moderation result for a set of parts (a text input, or one multimodal input)."""
    text_scores: dict[str, float] = {}
    for text in texts:
        for name, score in marker_scores(text).items():
            text_scores[name] = max(score, text_scores.get(name, 0.0))
    image_scores: dict[str, float] = {}
    for url in image_urls:
        for name, score in marker_scores(url).items():
            if name in IMAGE_CATEGORIES:
                image_scores[name] = max(score, image_scores.get(name, 0.0))
    seed = "|".join(texts + image_urls)
    scores: dict[str, float] = {}
    applied: dict[str, list[str]] = {}
    for name in CATEGORIES:
        scores[name] = max(text_scores.get(name, 0.0), image_scores.get(name, 0.0)) or _baseline(seed, name)
        kinds = []
        if texts:
            kinds.append("text")
        if image_urls and name in IMAGE_CATEGORIES:
            kinds.append("image")
        applied[name] = kinds
    categories: dict[str, bool | None] = {name: scores[name] >= THRESHOLD for name in CATEGORIES}
    if legacy:
        # The text-moderation models predate the illicit categories.
        categories["illicit"] = categories["illicit/violent"] = None
    return {
        "flagged": any(bool(v) for v in categories.values()),
        "categories": categories,
        "category_scores": scores,
        "category_applied_input_types": applied,
    }
