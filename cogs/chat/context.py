"""A turn's context: the conversation's instructions, then as much of the thread's history as fits
the token budget, newest kept first; only this conversation's stored messages are ever read."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.usage.estimate import estimate_tokens
from cogs.chat.conversations import (
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD_TOKENS,
    StoredMessage,
    speaker_text,
)


@dataclass(frozen=True, slots=True)
class TurnContext:
    messages: list[dict[str, Any]]
    #: Estimated input tokens of `messages`.
    tokens: int
    #: History messages included (the instructions not counted) and left out for the budget.
    included: int
    dropped: int


def _cost(message: StoredMessage, with_images: bool) -> int:
    # Stored at insert time; images cost nothing when the model does not receive them.
    return message.tokens - (0 if with_images else len(message.images) * IMAGE_TOKENS)


def _payload(message: StoredMessage, with_images: bool) -> dict[str, Any]:
    text = speaker_text(message.role, message.author_name, message.content)
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


def _order(message: StoredMessage) -> tuple[int, bool, int]:
    # An answer sorts right after the message it answers (as the repository orders history).
    if message.reply_to is not None:
        return (message.reply_to, True, message.id)
    return (message.id, False, message.id)


class ContextWindow:
    """The newest stored messages of one conversation, kept in memory between its turns, so a turn
    reads no rows: the repository is the truth, loaded once per conversation and budget.

    It keeps twice the budget, so an answer waiting behind later messages still finds its context.
    """

    __slots__ = ("_ids", "_messages", "_orders", "_tokens", "budget")

    def __init__(self, messages: Sequence[StoredMessage], budget: int) -> None:
        self.budget = budget
        self._messages: list[StoredMessage] = sorted(messages, key=_order)
        self._orders = [_order(m) for m in self._messages]
        self._tokens = sum(m.tokens for m in self._messages)
        self._ids = {m.id for m in self._messages}

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._ids

    def __len__(self) -> int:
        return len(self._messages)

    def add(self, message: StoredMessage) -> None:
        if message.id in self._ids:
            return
        self._ids.add(message.id)
        order = _order(message)
        index = bisect.bisect(self._orders, order)
        self._orders.insert(index, order)
        self._messages.insert(index, message)
        self._tokens += message.tokens
        while len(self._messages) > 1 and self._tokens - self._messages[0].tokens >= 2 * self.budget:
            self._tokens -= self._messages[0].tokens
            self._ids.discard(self._messages[0].id)
            del self._messages[0], self._orders[0]

    def remove(self, message_id: int) -> None:
        for index, message in enumerate(self._messages):
            if message.id == message_id:
                self._tokens -= message.tokens
                self._ids.discard(message_id)
                del self._messages[index], self._orders[index]
                return

    def up_to(self, trigger_id: int) -> list[StoredMessage]:
        """The messages a turn answering `trigger_id` sees: those ordered up to and including it."""
        return self._messages[: bisect.bisect(self._orders, (trigger_id, False, trigger_id))]
