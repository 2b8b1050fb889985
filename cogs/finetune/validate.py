"""Checks a fine-tuning JSONL file line by line before anything is uploaded.
Streams the file (never holds it whole) and reports problems by line number, with estimated tokens."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: The API refuses fewer; gains usually start around 50-100 examples.
MIN_EXAMPLES = 10
#: OpenAI's per-file limit for fine-tuning uploads is far above what Discord carries; the bot's cap.
MAX_FILE_BYTES = 512 * 1024 * 1024
#: Reports stop listing after this many problems (the count of the rest is still given).
MAX_LISTED_PROBLEMS = 15
#: Models that take legacy prompt/completion lines instead of chat messages.
LEGACY_MODELS = ("babbage-002", "davinci-002")

_CHAT_ROLES = frozenset({"system", "user", "assistant", "tool", "developer"})
# Tokens the tokenizer treats as control tokens: an example holding one fails the job late.
_SPECIAL_TOKEN = re.compile(
    r"<\|(?:endoftext|fim_prefix|fim_middle|fim_suffix|endofprompt|im_start|im_end|im_sep)\|>"
)
# A cheap estimate: about 4 characters a token, and a few tokens of framing per message.
_CHARS_PER_TOKEN = 4
# The decoder `json.loads` would use, without its per-call argument handling and encoding sniffing.
_decode = json.JSONDecoder().decode
_TOKENS_PER_MESSAGE = 4


def is_legacy_model(model: str) -> bool:
    base = model.removeprefix("ft:").split(":", 1)[0]
    return base in LEGACY_MODELS


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: the 1-based line it is on (0 for the whole file), a catalog key and its values."""

    line: int
    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Report:
    examples: int = 0
    #: Estimated tokens of one pass over the examples (multiply by epochs for training tokens).
    tokens: int = 0
    problems: list[Problem] = field(default_factory=list)
    #: Problems found beyond the listed ones.
    more_problems: int = 0
    bytes: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: Problem) -> None:
        if len(self.problems) < MAX_LISTED_PROBLEMS:
            self.problems.append(problem)
        else:
            self.more_problems += 1


def estimate_tokens(text: str) -> int:
    return -(-len(text) // _CHARS_PER_TOKEN)


def _content_text(content: Any) -> str | None:
    """The text of a message's content (a string or a list of text parts); None if not text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict):
                return None
            text = part.get("text")
            if isinstance(text, str):
                parts.append(text)
        return "".join(parts)
    return None


def _check_chat(number: int, example: dict[str, Any], report: Report) -> int | None:
    """Tokens of one chat example, or None after adding its problem to the report."""
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        report.add(Problem(number, "finetune.check.no_messages"))
        return None
    chars = 0
    assistant = False
    for index, message in enumerate(messages, 1):
        if type(message) is not dict:
            report.add(Problem(number, "finetune.check.message_not_object", {"message": index}))
            return None
        role = message.get("role")
        if role not in _CHAT_ROLES:
            report.add(Problem(number, "finetune.check.bad_role", {"message": index, "role": str(role)[:20]}))
            return None
        content = message.get("content")
        # The common case first (plain, non-empty text): it keeps big files fast to check.
        if type(content) is not str or not content or content.isspace():
            calls = message.get("tool_calls") or message.get("function_call")
            text = _content_text(content) if content is not None else ("" if calls else None)
            if text is None or (not calls and (not text or text.isspace())):
                report.add(Problem(number, "finetune.check.empty_content", {"message": index}))
                return None
            if calls:
                chars += len(json.dumps(calls))
            content = text
        if "<|" in content and (found := _SPECIAL_TOKEN.search(content)):
            report.add(Problem(number, "finetune.check.special_token", {"token": found.group(0)}))
            return None
        if role == "assistant":
            assistant = True
        chars += len(content)
    if not assistant:
        report.add(Problem(number, "finetune.check.no_assistant"))
        return None
    return -(-chars // _CHARS_PER_TOKEN) + _TOKENS_PER_MESSAGE * len(messages)


def _check_legacy(number: int, example: dict[str, Any], report: Report) -> int | None:
    prompt, completion = example.get("prompt"), example.get("completion")
    if not isinstance(prompt, str) or not isinstance(completion, str):
        report.add(Problem(number, "finetune.check.no_prompt_completion"))
        return None
    if not completion.strip():
        report.add(Problem(number, "finetune.check.empty_completion"))
        return None
    for text in (prompt, completion):
        if "<|" in text and (found := _SPECIAL_TOKEN.search(text)):
            report.add(Problem(number, "finetune.check.special_token", {"token": found.group(0)}))
            return None
    return estimate_tokens(prompt) + estimate_tokens(completion)


def validate_lines(
    lines: Iterable[bytes],
    *,
    legacy: bool = False,
    context_tokens: int | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> Report:
    """Check a JSONL file given as raw lines (an open binary file streams it).

    `legacy` takes prompt/completion lines (babbage-002, davinci-002) instead of chat examples;
    `context_tokens` is the model's training context, when known.
    """
    report = Report()
    check = _check_legacy if legacy else _check_chat
    for number, raw in enumerate(lines, 1):
        report.bytes += len(raw)
        if report.bytes > max_bytes:
            report.add(Problem(0, "finetune.check.too_big", {"limit_mb": max_bytes // (1024 * 1024)}))
            return report
        if not raw.strip():
            continue
        try:
            example = _decode(raw.decode("utf-8"))
        except ValueError:  # UnicodeDecodeError and JSONDecodeError are both ValueErrors
            report.add(Problem(number, "finetune.check.not_json"))
            continue
        if not isinstance(example, dict):
            report.add(Problem(number, "finetune.check.not_object"))
            continue
        tokens = check(number, example, report)
        if tokens is None:
            continue
        if context_tokens is not None and tokens > context_tokens:
            report.add(
                Problem(number, "finetune.check.too_long", {"tokens": tokens, "limit": context_tokens})
            )
            continue
        report.examples += 1
        report.tokens += tokens
    if report.examples < MIN_EXAMPLES:
        report.add(Problem(0, "finetune.check.too_few", {"count": report.examples, "minimum": MIN_EXAMPLES}))
    return report


def validate_bytes(data: bytes, **options: Any) -> Report:
    """`validate_lines` over bytes already in memory (a Discord attachment)."""
    return validate_lines(data.splitlines(), **options)
