"""Tests of the incremental SSE decoder: split reads, line ends, comments, multi-line data.
Pure: no network; every byte offset of a sample stream is tried as a split point."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.openai_api.sse import SSEDecoder, SSEEvent

# Mixed line ends, a comment, a multi-line data field, an event name, an id, a retry, a UTF-8
# character of 3 bytes and one of 4 bytes, a field without a colon, and the OpenAI [DONE] sentinel.
SAMPLE = (
    b": keep-alive comment\r\n"
    b'data: {"text": "Hello"}\r\n'
    b"\r\n"
    b'data: {"text": "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"}\n'
    b"\n"
    b"event: update\n"
    b"id: 42\n"
    b"retry: 1500\n"
    b"data: line one\n"
    b"data:line two\n"
    b"data\n"
    b"\n"
    b"\r"
    b"data: after lone blank\r"
    b"\r"
    b"data: [DONE]\n\n"
)

EXPECTED = [
    SSEEvent(data='{"text": "Hello"}'),
    SSEEvent(data='{"text": "café € 😀"}'),
    SSEEvent(data="line one\nline two\n", event="update", id="42", retry=1500),
    SSEEvent(data="after lone blank", id="42", retry=1500),
    SSEEvent(data="[DONE]", id="42", retry=1500),
]


def decode(pieces: list[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    events.extend(decoder.flush())
    return events


def test_whole_sample_decodes_to_expected_events() -> None:
    assert decode([SAMPLE]) == EXPECTED


def test_split_at_every_byte_offset() -> None:
    for offset in range(len(SAMPLE) + 1):
        assert decode([SAMPLE[:offset], SAMPLE[offset:]]) == EXPECTED, f"split at byte {offset}"


def test_one_byte_at_a_time() -> None:
    assert decode([SAMPLE[i : i + 1] for i in range(len(SAMPLE))]) == EXPECTED


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(SAMPLE)), max_size=12))
def test_split_at_any_set_of_offsets(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(SAMPLE)]
    pieces = [SAMPLE[a:b] for a, b in itertools.pairwise(bounds)]
    assert decode(pieces) == EXPECTED


def test_crlf_split_between_cr_and_lf_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    # If the CR had been taken as a line end, the LF would be a blank line and dispatch here already.
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\r\n") == [SSEEvent(data="a")]


def test_event_is_returned_as_soon_as_its_blank_line_arrives() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"a": 1}\n') == []
    assert decoder.feed(b"\n") == [SSEEvent(data='{"a": 1}')]


def test_comment_only_and_empty_data_do_not_dispatch() -> None:
    assert decode([b": ping\n\n: ping\n\nevent: x\n\n"]) == []


def test_unterminated_last_event_is_dropped_at_end_of_stream() -> None:
    # The standard discards an event whose blank line never came (a truncated stream).
    assert decode([b"data: complete\n\ndata: trunc"]) == [SSEEvent(data="complete")]


def test_only_one_space_after_colon_is_stripped() -> None:
    assert decode([b"data:  two spaces\n\n"]) == [SSEEvent(data=" two spaces")]


def test_id_with_nul_is_ignored_and_bad_retry_is_ignored() -> None:
    events = decode([b"id: ok\nretry: 10x\ndata: a\n\nid: bad\x00\ndata: b\n\n"])
    assert events == [SSEEvent(data="a", id="ok"), SSEEvent(data="b", id="ok")]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert decode([b"data: \xff\n\n"]) == [SSEEvent(data="\ufffd")]
