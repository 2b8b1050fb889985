"""POST /moderations: request/response models.
Accepts a string, a list of strings, or mixed text and image-URL parts; results keep input order."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from bot.openai_api._base import APIModel, RequestModel
from bot.openai_api.transport import Transport

# Multi-modal parts: {"type": "text", "text": ...} or {"type": "image_url", "image_url": {"url": ...}}.
ModerationInput = str | list[str] | list[dict[str, Any]]


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def image_part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


class ModerationRequest(RequestModel):
    input: ModerationInput
    model: str | None = None


class ModerationResult(APIModel):
    flagged: bool = False
    # The text-moderation models answer null for categories they predate (illicit, illicit/violent).
    categories: dict[str, bool | None] = Field(default_factory=dict)
    category_scores: dict[str, float] = Field(default_factory=dict)
    # Only omni-moderation models say which input kinds ("text", "image") triggered each category.
    category_applied_input_types: dict[str, list[str]] | None = None

    def flagged_categories(self) -> list[str]:
        return [name for name, hit in self.categories.items() if hit]


class ModerationResponse(APIModel):
    id: str = ""
    model: str = ""
    results: list[ModerationResult] = Field(default_factory=list)


class Moderations:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def create(
        self,
        *,
        input: ModerationInput,
        model: str | None = None,
        request_timeout: float | None = None,
        **extra: Any,
    ) -> ModerationResponse:
        body = ModerationRequest(input=input, model=model, **extra).to_json()
        raw = await self._t.post_json("/moderations", body, request_timeout=request_timeout)
        return self._t.parse(ModerationResponse, raw)
