"""A turn's context: the conversation's instructions, then as much of the thread's history as fits
the token budget, newest kept first; only this conversation's stored messages are ever read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.usage.estimate import estimate_tokens
from cogs.chat.conversations import StoredMessage

# What a message costs beyond its text (role and separators), and an image at low detail.
MESSAGE_OVERHEAD_TOKENS = 4
IMAGE_TOKENS = 85


@dataclass(frozen=True, slots=True)
class TurnContext:
    messages: list[dict[str, Any]]
    #: Estimated input tokens of `messages`.
    tokens: int
    #: History messages included (the instructions not counted) and left out for the budget.
    included: int
    dropped: int


def speaker_text(message: StoredMessage) -> str:
    """A member's message as the model reads it: their display name as the speaker."""
    if message.role == "assistant":
        return message.content
    return f"{message.author_name}: {message.content}" if message.content else f"{message.author_name}:"


def _cost(message: StoredMessage, with_images: bool) -> int:
    images = len(message.images) * IMAGE_TOKENS if with_images else 0
    return MESSAGE_OVERHEAD_TOKENS + estimate_tokens(speaker_text(message)) + images


def _payload(message: StoredMessage, with_images: bool) -> dict[str, Any]:
    text = speaker_text(message)
    if with_images and message.images and message.role == "user":
        parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
        parts += [{"type": "image_url", "image_url": {"url": url}} for url in message.images]
        return {"role": "user", "content": parts}
    return {"role": message.role, "content": text}


def build_context(
    history: Sequence[StoredMessage], instructions: str, budget: int, *, with_images: bool = False
) -> TurnContext:
    """Instructions first, then the newest messages that fit `budget` (estimated tokens), in order.

    The newest message is always kept, even alone over the budget: without it there is nothing to
    answer (the API then says the context is too long, and the member is told).
    """
    tokens = 0
    head: list[dict[str, Any]] = []
    if instructions:
        head.append({"role": "system", "content": instructions})
        tokens += MESSAGE_OVERHEAD_TOKENS + estimate_tokens(instructions)
    start = len(history)
    for index in range(len(history) - 1, -1, -1):
        cost = _cost(history[index], with_images)
        if tokens + cost > budget and index != len(history) - 1:
            break
        tokens += cost
        start = index
    kept = history[start:]
    return TurnContext(
        head + [_payload(m, with_images) for m in kept], tokens, len(kept), len(history) - len(kept)
    )


def accepts_images(model: str) -> bool:
    """Whether a model takes image input: OpenAI's current families, and compatible servers'
    vision models by their usual names (the API lists no capabilities to ask instead)."""
    name = model.lower().removeprefix("ft:")
    if name.startswith(("gpt-4o", "gpt-4.1", "gpt-4-turbo", "gpt-5", "o3", "o4", "chatgpt-4o")):
        return True
    return any(tag in name for tag in ("vision", "llava", "-vl", "gemma3"))
