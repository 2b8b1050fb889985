"""Deterministic text of the fake OpenAI server: completions, token estimates, output markers.

Owns how a prompt maps to generated tokens, so tests can predict exactly what a client receives.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from dataclasses import dataclass

# Token estimate for *input* text (prompts, embeddings, moderation): ceil(chars / 4), the usual rule
# of thumb for English; empty text is 0 tokens. Generated output counts one token per word/chunk.
CHARS_PER_TOKEN = 4

_SENTENCE = (
    "the quick answer is that every small system grows when people care about it and share what they "
    "learn along the way so we write clear notes test each change keep promises simple and measure "
    "before we optimise because data beats opinion most days bright river stone garden lantern signal "
    "harbor meadow window thunder compass violet orbit candle maple silver"
)
_WORDS = _SENTENCE.split()

_CJK = "我们今天一起学习新的知识然后分享给大家这是一个简单而有趣的例子请慢慢阅读"

_MARKER = re.compile(r"\[\[(words|paragraphs):(\d+)\]\]|\[\[(code|no-usage|filter|echo|mentions|cjk)\]\]")


def estimate_tokens(text: str) -> int:
    """Approximate token count of input text: ceil(len(text) / 4)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def tokenize_output(text: str) -> list[str]:
    """Split generated text into the chunks streamed one per event: each word with the whitespace
    before it. Joining them gives back the text exactly."""
    return re.findall(r"\s*\S+|\s+$", text) if text else []


@dataclass(frozen=True)
class Markers:
    words: int | None = None
    paragraphs: int | None = None
    code: bool = False
    no_usage: bool = False
    filter: bool = False
    echo: bool = False
    mentions: bool = False
    cjk: bool = False


def parse_markers(prompt: str) -> Markers:
    found: dict[str, object] = {}
    for match in _MARKER.finditer(prompt):
        if match.group(1):
            found[match.group(1)] = int(match.group(2))
        else:
            found[match.group(3).replace("-", "_")] = True
    return Markers(**found)  # type: ignore[arg-type]


def strip_markers(prompt: str) -> str:
    return _MARKER.sub("", prompt).strip()


def _rng(seed: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))


def _sentence_words(rng: random.Random, count: int) -> list[str]:
    return [rng.choice(_WORDS) for _ in range(count)]


def _prose(rng: random.Random, count: int) -> str:
    words = _sentence_words(rng, count)
    if not words:
        return ""
    words[0] = words[0].capitalize()
    return " ".join(words) + "."


def _code_block(rng: random.Random) -> str:
    lines = ["Here is the code:", "", "```python"]
    for i in range(40):
        name = f"{rng.choice(_WORDS)}_{i}"
        lines += [
            f"def {name}(value: int) -> int:",
            f"    # {' '.join(_sentence_words(rng, 6))}",
            f"    return value * {i + 2} + {rng.randint(1, 99)}",
            "",
        ]
    lines += ["```", "", "That is all."]
    return "\n".join(lines)


def full_text(prompt: str, seed_suffix: str = "") -> tuple[str, bool]:
    """The whole answer for `prompt` before max_tokens, and whether it ends by content filter."""
    markers = parse_markers(prompt)
    rng = _rng(prompt + seed_suffix)
    if markers.echo:
        text = strip_markers(prompt)
    elif markers.code:
        text = _code_block(rng)
    elif markers.paragraphs is not None:
        text = "\n\n".join(_prose(rng, rng.randint(8, 20)) for _ in range(markers.paragraphs))
    elif markers.words is not None:
        text = " ".join(_sentence_words(rng, markers.words))
    elif markers.cjk:
        text = " ".join("".join(rng.choice(_CJK) for _ in range(rng.randint(4, 12))) for _ in range(30))
    else:
        text = _prose(rng, rng.randint(20, 60))
    if markers.mentions:
        text = "@everyone @here <@&123456789012345678> <@123456789012345678> " + text
    if markers.filter:
        # A filtered answer stops early, like the real API when the output trips the filter.
        text = "".join(tokenize_output(text)[:5])
    return text, markers.filter


@dataclass(frozen=True)
class Generation:
    tokens: list[str]
    finish_reason: str

    @property
    def text(self) -> str:
        return "".join(self.tokens)


def generate(
    prompt: str, max_tokens: int | None, choice: int = 0, stop: list[str] | None = None
) -> Generation:
    """What the fake answers to `prompt`: max_tokens defaults to 16 like the API; one chunk = one token."""
    text, filtered = full_text(prompt, "" if choice == 0 else f"#{choice}")
    tokens = tokenize_output(text)
    finish = "content_filter" if filtered else "stop"
    limit = 16 if max_tokens is None else max_tokens
    if len(tokens) > limit:
        tokens, finish = tokens[:limit], "length"
    if stop:
        joined = "".join(tokens)
        cuts = [joined.find(s) for s in stop if s and s in joined]
        if cuts:
            tokens, finish = tokenize_output(joined[: min(cuts)]), "stop"
    return Generation(tokens, finish)


def transcript_text(data: bytes) -> str:
    """The fake transcript for audio bytes: text after a `FAKE-TRANSCRIPT:` prefix, else sentences
    derived from the bytes' hash."""
    prefix = b"FAKE-TRANSCRIPT:"
    if data.startswith(prefix):
        return data[len(prefix) :].decode("utf-8", "replace").strip()
    rng = _rng(hashlib.sha256(data).hexdigest())
    return " ".join(_prose(rng, rng.randint(6, 14)) for _ in range(rng.randint(2, 4)))
