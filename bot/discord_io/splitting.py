"""Splits long text into Discord-sized messages without breaking words or ``` code blocks.
split_message for a finished text; StreamSplitter for a growing one (finalized chunks never change)."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

DISCORD_LIMIT = 2000
# The smallest limit for which a reopened fence (``` + language + newline) plus a closing fence still
# leaves room for text; below it chunks could not make progress.
MIN_LIMIT = 50
_FENCE = "```"
_LANG_RE = re.compile(r"[A-Za-z0-9_+#.\-]{1,16}(?=\r?\n)")
# How far past a window StreamSplitter must see before the window's split point is final: the split
# decision reads at most a fence's language tag and line ending beyond the window.
STREAM_LOOKAHEAD = 32
_SENTENCE_ENDS = (". ", "! ", "? ", ".\n", "。", "！", "？", "；")


@dataclass(frozen=True, slots=True)
class Span:
    """One chunk: text[start:end] wrapped in the fence lines needed to keep code blocks intact."""

    start: int
    end: int
    prefix: str
    suffix: str

    def render(self, text: str) -> str:
        return self.prefix + text[self.start : self.end] + self.suffix


@dataclass(frozen=True, slots=True)
class _Fence:
    start: int
    end: int
    opens: bool
    lang: str
    # Split points in (start, guard_end] would cut the marker or separate it from its language tag.
    guard_end: int


# An opening fence's tag and guard read at most this far past the marker (tag, then \r\n).
_FENCE_SETTLE = 24


def _read_fence(text: str, pos: int, end: int, opens: bool) -> _Fence:
    lang = ""
    if opens:
        match = _LANG_RE.match(text, end)
        after = match.end() if match else end
        lang = match.group(0) if match else ""
        # Keep the opening line whole: a chunk ending in "```py\n" would show an empty block.
        if text.startswith("\n", after):
            guard_end = after + 1
        elif text.startswith("\r\n", after):
            guard_end = after + 2
        else:
            guard_end = after
    else:
        # Splitting right before a closing fence would leave an empty reopened block.
        guard_end = end - 1
    return _Fence(pos, end, opens, lang, guard_end)


class _FenceMap:
    """Where code blocks are, as Discord sees them: each ``` toggles, the first one opens.

    extend() brings it up to date with a longer text in time proportional to the new part: fence
    positions never change as text is appended, and an opening fence's language tag and guard are
    re-read only while the text may still be growing right after it.
    """

    def __init__(self, text: str = "") -> None:
        self.fences: list[_Fence] = []
        self._ends: list[int] = []
        self._scanned = 0
        self.extend(text)

    def extend(self, text: str) -> None:
        """Update for text, which must start with the text seen so far."""
        # Fences whose tag or guard could still change (the text ended within reach of them)
        # are found again; a marker cut by the old end is found by scanning a little before it.
        settled = self._scanned - _FENCE_SETTLE
        while self.fences and self.fences[-1].end > settled:
            self.fences.pop()
            self._ends.pop()
        # No marker starts between the last kept fence and settled - 2: the scan found none there.
        resume = max(self.fences[-1].end if self.fences else 0, settled - len(_FENCE) + 1)
        pos = text.find(_FENCE, resume)
        opens = len(self.fences) % 2 == 0
        while pos != -1:
            end = pos + len(_FENCE)
            self.fences.append(_read_fence(text, pos, end, opens))
            self._ends.append(end)
            opens = not opens
            pos = text.find(_FENCE, end)
        self._scanned = len(text)

    def open_lang(self, pos: int) -> str | None:
        """The language of the code block open at pos ("" if untagged), or None outside code."""
        count = bisect.bisect_right(self._ends, pos)
        if count == 0:
            return None
        last = self.fences[count - 1]
        return last.lang if last.opens else None

    def allowed(self, pos: int) -> bool:
        index = bisect.bisect_left(self._ends, pos)
        # Only fences ending at or after pos can cover it; the first two are enough (guards are short).
        for fence in self.fences[max(0, index - 1) : index + 2]:
            lo = fence.start if not fence.opens else fence.start + 1
            if lo <= pos <= fence.guard_end and not (fence.opens and pos == fence.start):
                return False
        return True


def _prefix(lang: str | None) -> str:
    return "" if lang is None else f"{_FENCE}{lang}\n"


def _suffix(text: str, fences: _FenceMap, end: int) -> str:
    if fences.open_lang(end) is None:
        return ""
    return _FENCE if text[end - 1 : end] == "\n" else "\n" + _FENCE


def _is_boundary(text: str, end: int, kind: str) -> bool:
    before = text[end - 2 : end]
    if kind == "paragraph":
        return before == "\n\n" or text[end - 4 : end] == "\r\n\r\n"
    if kind == "line":
        return before[-1:] == "\n"
    if kind == "sentence":
        return any(before.endswith(mark) for mark in _SENTENCE_ENDS)
    if kind == "word":
        # Never between \r and \n: the pair is one line ending.
        return before[-1:].isspace() and not (before[-1:] == "\r" and text[end : end + 1] == "\n")
    return not (before[-1:] == "\r" and text[end : end + 1] == "\n")


def _choose_end(text: str, fences: _FenceMap, start: int, limit: int) -> tuple[int, str]:
    prefix = _prefix(fences.open_lang(start))
    room = limit - len(prefix)
    last = min(len(text), start + room)
    # A separator near the start would waste a message; finer boundaries closer to the limit win.
    min_fill = start + room // 2
    for kind in ("paragraph", "line", "sentence", "word", "hard"):
        lowest = min_fill if kind in ("paragraph", "line", "sentence") else start + 1
        for end in range(last, lowest - 1, -1):
            if not _is_boundary(text, end, kind) or not fences.allowed(end):
                continue
            if len(prefix) + (end - start) + len(_suffix(text, fences, end)) <= limit:
                return end, prefix
    # Only reachable when guards cover the whole window; progress matters more than pretty fences.
    end = start + max(1, room - len(_FENCE) - 1)
    return end, prefix


def _next_span(text: str, fences: _FenceMap, start: int, limit: int) -> Span:
    prefix = _prefix(fences.open_lang(start))
    suffix = _suffix(text, fences, len(text))
    if len(prefix) + (len(text) - start) + len(suffix) <= limit:
        return Span(start, len(text), prefix, suffix)
    end, prefix = _choose_end(text, fences, start, limit)
    return Span(start, end, prefix, _suffix(text, fences, end))


def _check_limit(limit: int) -> None:
    if limit < MIN_LIMIT:
        raise ValueError(f"limit must be at least {MIN_LIMIT}, got {limit}")


def split_spans(text: str, limit: int = DISCORD_LIMIT, *, start: int = 0) -> list[Span]:
    """The chunks of text[start:] as spans; concatenating text[s.start:s.end] gives it back.

    A non-zero start keeps the code-block context of the text before it (used to re-split a tail).
    """
    _check_limit(limit)
    fences = _FenceMap(text)
    spans = [_next_span(text, fences, start, limit)]
    while spans[-1].end < len(text):
        spans.append(_next_span(text, fences, spans[-1].end, limit))
    return spans


def split_message(text: str, limit: int = DISCORD_LIMIT) -> list[str]:
    """Split text into chunks of at most limit characters, closing and reopening code fences."""
    return [span.render(text) for span in split_spans(text, limit)]


class StreamSplitter:
    """Splits a text that is still growing, at a cost proportional to what was added.

    A chunk is finalized once the text runs STREAM_LOOKAHEAD characters past its window, because
    the split decision never reads further; so finalized chunks are a prefix of split_message of
    any longer text, and they are kept: only the text after them is looked at again. The live tail
    is what follows, shown as the first chunk it would split into (it may lag the text by up to the
    lookahead until more arrives), and rendered only when asked for, i.e. when an edit goes out.
    """

    def __init__(self, limit: int = DISCORD_LIMIT) -> None:
        _check_limit(limit)
        self._limit = limit
        self._text = ""
        self._fences = _FenceMap()
        self._start = 0
        self.finalized: list[str] = []

    @property
    def text(self) -> str:
        return self._text

    @property
    def live_start(self) -> int:
        return self._start

    def feed(self, text: str) -> list[str]:
        """Take the whole text so far; returns the chunks it finalized (in order, maybe none).

        A text that does not continue the previous one (a caller started over) is split afresh.
        """
        if not text.startswith(self._text):
            self.__init__(self._limit)  # type: ignore[misc]  # reset to the empty state
        self._text = text
        self._fences.extend(text)
        new: list[str] = []
        # While the text runs past the whole window, the remainder cannot fit, so split_message of
        # this text or any longer one must split here, at the same point.
        while len(text) >= self._start + self._limit + STREAM_LOOKAHEAD:
            end, prefix = _choose_end(text, self._fences, self._start, self._limit)
            new.append(Span(self._start, end, prefix, _suffix(text, self._fences, end)).render(text))
            self._start = end
        self.finalized.extend(new)
        return new

    def live(self) -> str:
        """The live tail as it would be shown now ("" when nothing follows the finalized chunks)."""
        if self._start >= len(self._text):
            return ""
        return _next_span(self._text, self._fences, self._start, self._limit).render(self._text)
