"""Turns a conversation (a /chat thread or a reply chain) into one chat fine-tuning example.
Pure: the cog collects the messages; this decides roles and whether the example can train."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from cogs.finetune.validate import Report, validate_lines


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
