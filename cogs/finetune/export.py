"""Turns a conversation (a /chat thread or a reply chain) into one chat fine-tuning example: reading
its messages from Discord, then deciding roles and whether the example can train (pure)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import discord

from cogs.finetune.validate import Report, validate_lines

#: The longest conversation one export reads (a thread's history or a reply chain).
EXPORT_MAX_MESSAGES = 50


@dataclass(frozen=True, slots=True)
class Turn:
    from_bot: bool
    text: str


def example_line(turns: Sequence[Turn]) -> tuple[str | None, Report]:
    """The JSONL line for `turns` (bot -> assistant, members -> user; consecutive turns of one side
    joined), or None with the validator's report saying why it cannot train a model."""
    messages: list[dict[str, str]] = []
    for turn in turns:
        text = turn.text.strip()
        if not text:
            continue
        role = "assistant" if turn.from_bot else "user"
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] += "\n\n" + text
        else:
            messages.append({"role": role, "content": text})
    # An example teaches the answers after a question: a leading bot message has nothing to answer.
    while messages and messages[0]["role"] == "assistant":
        messages.pop(0)
    line = json.dumps({"messages": messages}, ensure_ascii=False)
    # Checked as a file of one example: only the per-line problems count here.
    report = validate_lines([line.encode()])
    report.problems = [p for p in report.problems if p.line]
    return (line if report.ok else None), report


async def conversation_until(message: discord.Message, bot_user_id: int | None) -> list[discord.Message]:
    """The bot's thread (a /chat conversation) up to `message`, or else the reply chain ending at
    it; oldest first, at most EXPORT_MAX_MESSAGES."""
    channel = message.channel
    if isinstance(channel, discord.Thread) and bot_user_id is not None and channel.owner_id == bot_user_id:
        earlier = [m async for m in channel.history(limit=EXPORT_MAX_MESSAGES, before=message)]
        return [*reversed(earlier), message]
    chain = [message]
    current = message
    while len(chain) < EXPORT_MAX_MESSAGES:
        reference = current.reference
        if reference is None or reference.message_id is None:
            break
        if isinstance(reference.resolved, discord.Message):
            current = reference.resolved
        else:
            try:
                current = await channel.fetch_message(reference.message_id)
            except discord.HTTPException:
                break  # deleted or out of reach: the chain starts here
        chain.append(current)
    return list(reversed(chain))
