"""The fine-tuning JSONL validator: each kind of problem named with its line number, token
estimates, legacy prompt/completion lines, the size cap, and streaming from a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cogs.finetune.validate import (
    MAX_LISTED_PROBLEMS,
    MIN_EXAMPLES,
    Problem,
    is_legacy_model,
    validate_bytes,
    validate_lines,
)


def chat(user: str = "Hi there", answer: str = "Hello! How can I help?") -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": "You are kind."},
            {"role": "user", "content": user},
            {"role": "assistant", "content": answer},
        ]
    }


def jsonl(*examples: Any) -> bytes:
    return b"".join((e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\n" for e in examples)


def good(n: int = MIN_EXAMPLES) -> list[dict[str, Any]]:
    return [chat(f"question {i}") for i in range(n)]


def test_a_valid_file_counts_examples_and_estimates_tokens() -> None:
    report = validate_bytes(jsonl(*good(12)))
    assert report.ok and report.problems == []
    assert report.examples == 12
    # 13 + 10 + 22 characters at about 4 a token (rounded up), + 4 tokens of framing per message.
    assert report.tokens == 12 * (12 + 3 * 4)


def test_each_problem_names_its_line() -> None:
    lines = [
        *good(10),
        b"{not json",  # 11
        b"[1, 2]",  # 12
        {"prompt": "x"},  # 13: no messages
        {"messages": [{"role": "robot", "content": "beep"}]},  # 14
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "  "}]},  # 15
        {"messages": [{"role": "user", "content": "hi"}]},  # 16: no assistant
        {"messages": [{"role": "user", "content": "a<|endoftext|>"}, {"role": "assistant", "content": "b"}]},
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "<|fim_suffix|>"}]},
        {"messages": ["hello"]},  # 19
    ]
    report = validate_bytes(jsonl(*lines))
    assert not report.ok
    assert [(p.line, p.key) for p in report.problems] == [
        (11, "finetune.check.not_json"),
        (12, "finetune.check.not_object"),
        (13, "finetune.check.no_messages"),
        (14, "finetune.check.bad_role"),
        (15, "finetune.check.empty_content"),
        (16, "finetune.check.no_assistant"),
        (17, "finetune.check.special_token"),
        (18, "finetune.check.special_token"),
        (19, "finetune.check.message_not_object"),
    ]
    assert report.problems[3].params == {"message": 1, "role": "robot"}
    assert report.problems[6].params == {"token": "<|endoftext|>"}
    assert report.problems[7].params == {"token": "<|fim_suffix|>"}
    assert report.examples == 10


def test_a_line_that_is_not_utf8_is_not_json() -> None:
    (problem,) = validate_bytes(jsonl(*good(10)) + b"\xff\xfe{}\n").problems
    assert problem == Problem(11, "finetune.check.not_json")


def test_blank_lines_are_skipped_but_keep_numbering() -> None:
    data = jsonl(*good(10)) + b"\n\n" + b"oops\n"
    (problem,) = validate_bytes(data).problems
    assert problem == Problem(13, "finetune.check.not_json")


def test_too_few_examples_is_reported_for_the_whole_file() -> None:
    report = validate_bytes(jsonl(*good(3)))
    assert report.problems == [Problem(0, "finetune.check.too_few", {"count": 3, "minimum": MIN_EXAMPLES})]


def test_tool_messages_and_tool_calls_are_accepted() -> None:
    example = {
        "messages": [
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "w"}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            {"role": "assistant", "content": [{"type": "text", "text": "It is sunny."}]},
        ]
    }
    report = validate_bytes(jsonl(*[example] * 10))
    assert report.ok and report.examples == 10


def test_an_example_beyond_the_context_is_refused_with_its_estimate() -> None:
    long = chat(user="word " * 400)
    report = validate_bytes(jsonl(*good(10), long), context_tokens=100)
    (problem,) = report.problems
    assert problem.line == 11 and problem.key == "finetune.check.too_long"
    assert problem.params["limit"] == 100 and problem.params["tokens"] > 500


def test_legacy_lines_for_babbage_and_davinci() -> None:
    assert is_legacy_model("davinci-002") and is_legacy_model("babbage-002")
    assert not is_legacy_model("gpt-4o-mini-2024-07-18")
    lines = [{"prompt": f"Q{i}", "completion": " A"} for i in range(10)]
    assert validate_bytes(jsonl(*lines), legacy=True).ok
    bad = validate_bytes(jsonl(*lines, {"prompt": "x", "completion": ""}, good(1)[0]), legacy=True)
    assert [(p.line, p.key) for p in bad.problems] == [
        (11, "finetune.check.empty_completion"),
        (12, "finetune.check.no_prompt_completion"),
    ]
    # Chat models do not take legacy lines.
    assert validate_bytes(jsonl(*lines)).problems[0] == Problem(1, "finetune.check.no_messages")


def test_the_size_cap_stops_reading() -> None:
    report = validate_bytes(jsonl(*good(100)), max_bytes=2000)
    assert report.problems[-1] == Problem(0, "finetune.check.too_big", {"limit_mb": 0})
    assert report.examples < 100


def test_the_listing_is_capped_and_the_rest_counted() -> None:
    report = validate_bytes(b"x\n" * (MAX_LISTED_PROBLEMS + 7))
    assert len(report.problems) == MAX_LISTED_PROBLEMS
    assert report.more_problems == 7 + 1  # and too_few at the end


def test_streams_from_an_open_file(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_bytes(jsonl(*good(20)))
    with path.open("rb") as handle:
        report = validate_lines(handle)
    assert report.ok and report.examples == 20 and report.bytes == path.stat().st_size


def test_a_conversation_becomes_one_example_with_roles_from_authors() -> None:
    from cogs.finetune.export import Turn, example_line

    line, report = example_line(
        [
            Turn(True, "Welcome! Ask me anything."),  # nothing to answer yet: dropped
            Turn(False, "What is the tide?"),
            Turn(False, "  "),
            Turn(False, "At noon?"),
            Turn(True, "High at noon."),
        ]
    )
    assert report.ok and line is not None
    assert json.loads(line) == {
        "messages": [
            {"role": "user", "content": "What is the tide?\n\nAt noon?"},
            {"role": "assistant", "content": "High at noon."},
        ]
    }
    none, why = example_line([Turn(False, "Hello?")])
    assert none is None and [p.key for p in why.problems] == ["finetune.check.no_assistant"]
