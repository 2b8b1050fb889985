"""/ask's answer: the prompt built from numbered passages, streamed, then the numbered sources.

The sources list is written by the bot from the passages used, not by the model, so every
citation is a real link to the source message or the document's title.
"""

from __future__ import annotations

from cogs.knowledge.index import Hit
from cogs.knowledge.store import Passage

SYSTEM_PROMPT = (
    "You answer questions for members of a Discord server using only the numbered sources given. "
    "Cite the sources you use as [1], [2] and so on. If the sources do not contain the answer, say "
    "that you could not find it in the knowledge base. Answer in the language of the question."
)


def build_messages(question: str, passages: list[Passage]) -> list[dict[str, str]]:
    sources = "\n\n".join(f"[{n}] {p.title}\n{p.text}" for n, p in enumerate(passages, start=1))
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Sources:\n\n{sources}\n\nQuestion: {question}"},
    ]


def source_line(number: int, passage: Passage, score: float) -> str:
    title = passage.title.replace("[", "(").replace("]", ")")
    label = f"[{title}](<{passage.source_url}>)" if passage.source_url else f"**{title}**"
    return f"[{number}] {label} · {score:.2f}"


def used_passages(hits: list[Hit], passages: dict[int, Passage]) -> list[tuple[Passage, float]]:
    """The hits' passages in rank order, one per document position (overlap can repeat text)."""
    return [(passages[h.chunk_id], h.score) for h in hits if h.chunk_id in passages]
