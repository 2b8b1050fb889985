"""split_message and StreamSplitter: size limit, boundaries, code fences, reconstruction."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.discord_io.splitting import (
    MIN_LIMIT,
    StreamSplitter,
    split_message,
    split_spans,
)

FENCE_LINE = re.compile(r"^```[A-Za-z0-9_+#.\-]*$")


def check(text: str, limit: int) -> list[str]:
    spans = split_spans(text, limit)
    chunks = split_message(text, limit)
    assert chunks == [s.render(text) for s in spans]
    # Spans tile the text exactly, in order.
    assert spans[0].start == 0 and spans[-1].end == len(text)
    for a, b in itertools.pairwise(spans):
        assert a.end == b.start and a.end > a.start
    assert "".join(text[s.start : s.end] for s in spans) == text
    for span, chunk in zip(spans, chunks, strict=True):
        assert len(chunk) <= limit
        # Only fence lines are ever added, and a chunk closed by a fence is reopened by the next.
        assert span.prefix == "" or FENCE_LINE.match(span.prefix.removesuffix("\n"))
        assert span.suffix in ("", "```", "\n```")
    for a, b in itertools.pairwise(spans):
        assert bool(a.suffix) == bool(b.prefix)
    return chunks


def test_short_text_is_one_chunk() -> None:
    assert split_message("hello") == ["hello"]
    assert split_message("") == [""]


def test_prefers_paragraph_then_line_then_word() -> None:
    para = "a" * 60 + "\n\n" + "b" * 60
    assert split_message(para, 100) == ["a" * 60 + "\n\n", "b" * 60]
    lines = "a" * 60 + "\n" + "b" * 60
    assert split_message(lines, 100) == ["a" * 60 + "\n", "b" * 60]
    sentences = "Aaaa aaaa aaaa aaaa aaaa aaaa aaaa aaaa aaaa aaaa aaaa aaa. Bbb bbb bbb bbb bbb bbb bbb bbb."
    assert split_message(sentences, 80)[0].endswith("aaa. ")
    words = " ".join(["word"] * 40)
    chunks = check(words, 60)
    assert all(not c.startswith("ord") for c in chunks)
    assert all(re.fullmatch(r"(word ?)+", c) for c in chunks)


def test_long_single_word_is_hard_split() -> None:
    word = "x" * 5000
    chunks = check(word, 2000)
    assert [len(c) for c in chunks] == [2000, 2000, 1000]


def test_code_block_crossing_a_split_is_closed_and_reopened() -> None:
    code = "".join(f"line_{i} = {i}\n" for i in range(60))
    text = "Intro paragraph.\n\n```python\n" + code + "```\nAfter."
    chunks = check(text, 300)
    assert len(chunks) >= 3
    for chunk in chunks[1:-1]:
        assert chunk.startswith("```python\n")
        assert chunk.endswith("```")
    assert chunks[0].startswith("Intro paragraph.") and chunks[0].endswith("```")
    assert chunks[-1].startswith("```python\n") and chunks[-1].endswith("```\nAfter.")
    # Inside code, lines are never cut.
    for chunk in chunks:
        for line in chunk.splitlines():
            assert re.fullmatch(r"(line_\d+ = \d+|```(python)?|Intro paragraph\.|After\.|)", line), line


def test_untagged_fence_reopens_without_language() -> None:
    text = "```\n" + "".join(f"{i}\n" for i in range(200)) + "```"
    chunks = check(text, 100)
    assert all(c.startswith("```\n") for c in chunks)


def test_crlf_is_kept_and_never_split_between_cr_and_lf() -> None:
    text = "".join(f"line number {i}\r\n" for i in range(300))
    chunks = check(text, 200)
    assert all(c.endswith("\r\n") for c in chunks)
    assert "".join(chunks) == text


def test_limit_below_minimum_is_rejected() -> None:
    with pytest.raises(ValueError):
        split_message("x", MIN_LIMIT - 1)


# Text made of words, spaces, newlines (LF and CRLF), sentence ends and fences with or without language.
TOKENS = st.one_of(
    st.text(alphabet="abcXYZ中文", min_size=1, max_size=12),
    st.text(alphabet="abc", min_size=60, max_size=300),
    st.sampled_from(
        [" ", "  ", "\n", "\n\n", "\r\n", ". ", "。", "```", "```python\n", "```js\n", "\n```\n", "`"]
    ),
)
TEXTS = st.lists(TOKENS, max_size=120).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=TEXTS, limit=st.integers(MIN_LIMIT, 400))
def test_property_split_fits_and_reconstructs(text: str, limit: int) -> None:
    check(text, limit)


@settings(max_examples=250, deadline=None)
@given(text=TEXTS, limit=st.integers(MIN_LIMIT, 300), cuts=st.lists(st.integers(1, 40), max_size=200))
def test_property_incremental_splitter_equals_splitting_the_whole_text_at_every_step(
    text: str, limit: int, cuts: list[int]
) -> None:
    """After every step the finalized chunks and the live tail are the first chunks of splitting the
    text so far in one go; finalized chunks never change, so they are a prefix of the final split.
    Small steps cut fences and their language tags in every possible place."""
    final = split_message(text, limit)
    splitter = StreamSplitter(limit)
    pos = 0
    for cut in [*cuts, len(text)]:
        pos = min(len(text), pos + cut)
        so_far = text[:pos]
        before = list(splitter.finalized)
        new = splitter.feed(so_far)
        assert splitter.finalized == before + new
        whole = split_spans(so_far, limit)
        done = len(splitter.finalized)
        assert splitter.finalized == [span.render(so_far) for span in whole[:done]]
        assert splitter.finalized == final[:done]
        if so_far:
            assert splitter.live_start == whole[done].start
            assert splitter.live() == whole[done].render(so_far)
            assert len(splitter.live()) <= limit
        else:
            assert splitter.live() == "" and splitter.live_start == 0
        if pos == len(text):
            break


def test_stream_live_tail_is_the_next_chunk() -> None:
    text = "word " * 1000
    splitter = StreamSplitter(2000)
    splitter.feed(text)
    done = len(splitter.finalized)
    assert done == 2
    assert [*splitter.finalized, splitter.live()] == split_message(text, 2000)
    assert text[splitter.live_start :] == splitter.live()


def test_incremental_splitter_starts_over_on_a_text_that_does_not_continue() -> None:
    splitter = StreamSplitter(60)
    splitter.feed("```py\n" + "x = 1\n" * 40)
    assert splitter.finalized
    splitter.feed("plain text now")
    assert splitter.finalized == [] and splitter.live() == "plain text now"
