"""Splitting a document into passages for embedding: a few hundred tokens each, with a small overlap.

Markdown headings stay with their paragraphs: every passage starts with the headings it sits under,
and a new heading starts a new passage, so a passage found by search says what it is about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.usage.estimate import estimate_tokens

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")


@dataclass
class _Section:
    headings: list[str]
    paragraphs: list[str] = field(default_factory=list)


def _sections(text: str) -> list[_Section]:
    """Paragraphs (blank-line separated) grouped under the heading path they follow."""
    stack: list[tuple[int, str]] = []
    sections = [_Section([])]
    paragraph: list[str] = []

    def end_paragraph() -> None:
        if paragraph:
            sections[-1].paragraphs.append("\n".join(paragraph).strip())
            paragraph.clear()

    in_code = False
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.strip().startswith("```"):
            in_code = not in_code
        match = None if in_code else _HEADING.match(line)
        if match:
            end_paragraph()
            level = len(match.group(1))
            stack = [(lvl, h) for lvl, h in stack if lvl < level]
            stack.append((level, line.strip()))
            sections.append(_Section([h for _, h in stack]))
        elif not line.strip() and not in_code:
            end_paragraph()
        else:
            paragraph.append(line.rstrip())
    end_paragraph()
    return [s for s in sections if s.paragraphs or s.headings]


def _tokens(text: str) -> int:
    """`estimate_tokens`, skipping its CJK scan for ASCII text: the same number, several times faster
    (a long paragraph without sentence ends is measured word by word, so this runs once per word)."""
    return -(-len(text) // 4) if text.isascii() else estimate_tokens(text)


def _cut_at_spaces(text: str, limit: int) -> list[str]:
    """ASCII text (four characters a token) cut at spaces into pieces of at most `limit` tokens;
    a run without spaces is cut by characters. Found with rfind, not word by word: a long paragraph
    without sentence ends has thousands of words."""
    width = limit * 4
    pieces: list[str] = []
    start = 0
    while len(text) - start > width:
        space = text.rfind(" ", start + 1, start + width + 1)
        if space < 0:
            pieces.append(text[start : start + width])
            start += width
        else:
            pieces.append(text[start:space])
            start = space + 1
    pieces.append(text[start:])
    return [p for p in (p.strip() for p in pieces) if p]


def _pieces(paragraph: str, limit: int) -> list[str]:
    """A paragraph cut into pieces of at most `limit` tokens, at sentence ends, else at words."""
    if _tokens(paragraph) <= limit:
        return [paragraph]
    units = [u for u in _SENTENCE_END.split(paragraph) if u]
    if len(units) == 1:
        if paragraph.isascii():
            return _cut_at_spaces(paragraph, limit)
        units = paragraph.split(" ") if " " in paragraph else [paragraph]
    pieces: list[str] = []
    current: list[str] = []
    size = 0  # estimated tokens of `current`, summed per unit (re-estimating the join is quadratic)
    for unit in units:
        tokens = _tokens(unit)
        if tokens > limit:
            # One unbroken run (a URL, CJK text without spaces): cut by characters.
            if current:
                pieces.append(" ".join(current))
                current, size = [], 0
            step = max(1, limit * 2)
            pieces.extend(unit[start : start + step] for start in range(0, len(unit), step))
            continue
        if current and size + tokens > limit:
            pieces.append(" ".join(current))
            current, size = [], 0
        current.append(unit)
        size += tokens
    if current:
        pieces.append(" ".join(current))
    return pieces


def _tail(text: str, tokens: int) -> str:
    """The end of `text`, about `tokens` long, starting at a word."""
    if tokens <= 0:
        return ""
    chars = tokens * 4
    if len(text) <= chars:
        return text
    tail = text[-chars:]
    space = tail.find(" ")
    return tail[space + 1 :] if 0 <= space < len(tail) - 1 else tail


def _emit(chunks: list[str], prefix: str, body: list[str]) -> None:
    content = "\n\n".join(body).strip()
    if content:
        chunks.append(f"{prefix}\n\n{content}" if prefix else content)


def chunk_text(text: str, chunk_tokens: int, overlap_tokens: int) -> list[str]:
    """The document's passages, in order; none is empty or longer than about `chunk_tokens` plus
    its headings."""
    chunks: list[str] = []
    for section in _sections(text):
        prefix = "\n".join(section.headings)
        body: list[str] = []
        size = 0

        for paragraph in section.paragraphs:
            for piece in _pieces(paragraph, chunk_tokens):
                tokens = _tokens(piece)
                if body and size + tokens > chunk_tokens:
                    _emit(chunks, prefix, body)
                    overlap = _tail(body[-1], overlap_tokens)
                    body, size = ([overlap], _tokens(overlap)) if overlap else ([], 0)
                body.append(piece)
                size += tokens
        # A heading directly followed by a sub-heading has no body: the sub-section carries it.
        if body:
            _emit(chunks, prefix, body)
    return [c for c in chunks if c.strip()]
