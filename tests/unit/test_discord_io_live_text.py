"""LiveTextSequence over an in-memory sink under virtual time: growth, finalization, footer, extras."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import discord
import pytest

from bot.discord_io.edit_scheduler import EditScheduler
from bot.discord_io.live_text import (
    BLANK,
    LiveTextSequence,
    final_chunks,
    long_text_file,
    with_footer,
)
from bot.discord_io.splitting import split_message, split_spans
from tests.unit.test_discord_io_scheduler import FakeTime


@dataclass
class Op:
    at: float
    kind: str
    ref: int
    content: str
    view: discord.ui.View | None = None
    files: list[str] = field(default_factory=list)


class FakeSink:
    def __init__(self, ft: FakeTime) -> None:
        self.ft = ft
        self.messages: dict[int, str] = {}
        self.ops: list[Op] = []
        self.views: dict[int, discord.ui.View] = {}
        self.files: dict[int, list[str]] = {}
        self._ids = itertools.count(1)

    async def send_new(
        self, content: str, *, view: discord.ui.View | None = None, files: Sequence[discord.File] = ()
    ) -> int:
        assert len(content) <= 2000 and content.strip()
        ref = next(self._ids)
        self.messages[ref] = content
        self._extras(ref, view, files)
        self.ops.append(Op(self.ft.now, "new", ref, content, view, [f.filename for f in files]))
        return ref

    async def edit(
        self,
        ref: int,
        content: str,
        *,
        view: discord.ui.View | None = None,
        attachments: Sequence[discord.File] | None = None,
    ) -> None:
        assert len(content) <= 2000 and content.strip()
        assert ref in self.messages
        self.messages[ref] = content
        self._extras(ref, view, attachments or ())
        self.ops.append(Op(self.ft.now, "edit", ref, content, view, [f.filename for f in attachments or ()]))

    async def delete(self, ref: int) -> None:
        del self.messages[ref]
        self.ops.append(Op(self.ft.now, "delete", ref, ""))

    def _extras(self, ref: int, view: discord.ui.View | None, files: Sequence[discord.File]) -> None:
        if view is not None:
            self.views[ref] = view
        if files:
            self.files[ref] = [f.fp.read().decode() for f in files]

    def contents(self) -> list[str]:
        return [self.messages[ref] for ref in sorted(self.messages)]


def sample_text() -> str:
    def prose(ids: range) -> str:
        return "".join(f"Paragraph {i}. " + "Some words here and there. " * 12 + "\n\n" for i in ids)

    code = "```python\n" + "".join(f"value_{i} = compute({i}, factor=2)\n" for i in range(70)) + "```\n"
    return prose(range(3)) + code + prose(range(3, 5)) + "\nThat is all. " * 5


def check_rate(ops: list[Op]) -> None:
    times = sorted(op.at for op in ops if op.kind in ("new", "edit"))
    for i, start in enumerate(times):
        assert len([t for t in times[i:] if t < start + 5.0]) <= 5
    by_ref: dict[int, list[float]] = {}
    for op in ops:
        by_ref.setdefault(op.ref, []).append(op.at)
    for stamps in by_ref.values():
        assert all(b - a >= 1.0 for a, b in itertools.pairwise(stamps))


@pytest.mark.parametrize("seed", [0, 1])
async def test_growing_text_over_three_messages_with_code_block_crossing_a_split(seed: int) -> None:
    ft = FakeTime()
    sink = FakeSink(ft)
    seq: LiveTextSequence[int] = LiveTextSequence(sink, EditScheduler(clock=ft.clock, sleep=ft.sleep), 77)
    text = sample_text()
    rng = random.Random(seed)
    footer = "-# gpt-test · 1234 tokens · $0.0012"

    async def stream() -> list[int]:
        pos = 0
        while pos < len(text):
            pos = min(len(text), pos + rng.randint(20, 160))
            seq.update(text[:pos])
            await ft.sleep(rng.uniform(0.05, 0.3))
        return await seq.finish(text, footer=footer)

    refs = await ft.run(stream())
    expected = split_message(text)
    assert len(expected) == 3
    # A code block crosses a split: the next message reopens it with its language.
    spans = split_spans(text)
    assert [s.prefix for s in spans] == ["", "", "```python\n"]
    assert expected[1].endswith("\n```") and expected[2].startswith("```python\nvalue_")
    assert refs == sorted(sink.messages)
    assert sink.contents() == [*expected[:-1], with_footer(expected[-1], footer)]
    # The messages hold exactly the text: strip the fences the splitter added and the footer.
    bodies = [c[len(s.prefix) : len(c) - len(s.suffix)] for s, c in zip(spans, expected, strict=True)]
    assert "".join(bodies) == text
    # Messages were created in order and each finalized one was never touched after its final content.
    assert [op.ref for op in sink.ops if op.kind == "new"] == [1, 2, 3]
    for ref, final in zip(refs[:-1], expected[:-1], strict=True):
        mine = [op.content for op in sink.ops if op.ref == ref]
        assert mine[-1] == final and mine.count(final) == 1
    check_rate(sink.ops)
    # Streaming really was live: the first message appeared long before the end.
    assert sink.ops[0].at < 1.0 and len(sink.ops) > 6


def test_footer_that_does_not_fit_shrinks_the_last_chunk() -> None:
    footer = "-# model · 99 tokens · $0.0001"
    text = "word " * 399 + "last"  # 1999 chars: fits alone, not with the footer
    chunks = final_chunks(text, footer)
    assert len(chunks) == 2
    assert all(len(c) <= 2000 for c in chunks)
    assert chunks[-1].endswith("\n" + footer)
    assert "".join(chunks).removesuffix("\n" + footer) == text


def test_footer_fits_on_the_last_line_and_long_footer_gets_its_own_message() -> None:
    assert final_chunks("short answer", "-# m") == ["short answer\n-# m"]
    assert final_chunks("ends with newline\n", "-# m") == ["ends with newline\n-# m"]
    huge = "-# " + "x" * 1980
    assert final_chunks("text " * 10, huge) == ["text " * 10, huge]
    code = "```py\n" + "x = 1\n" * 500
    chunks = final_chunks(code, "-# footer")
    assert all(len(c) <= 2000 for c in chunks)
    assert chunks[-1].endswith("```\n-# footer")


async def test_view_and_file_go_on_the_last_message() -> None:
    ft = FakeTime()
    sink = FakeSink(ft)
    seq: LiveTextSequence[int] = LiveTextSequence(sink, EditScheduler(clock=ft.clock, sleep=ft.sleep), 1)
    view = discord.ui.View()

    async def run() -> list[int]:
        seq.update("Hello")
        await ft.sleep(2.0)
        # Same text as already shown: the final edit must still happen to attach view and file.
        return await seq.finish("Hello", view=view, file=long_text_file("Hello", name="a.md"))

    refs = await ft.run(run())
    assert refs == [1]
    assert sink.ops[-1].kind == "edit" and sink.ops[-1].files == ["a.md"]
    assert sink.views[1] is view and sink.files[1] == ["Hello"]


async def test_view_goes_with_a_new_last_message_and_blank_text_is_not_sent_empty() -> None:
    ft = FakeTime()
    sink = FakeSink(ft)
    seq: LiveTextSequence[int] = LiveTextSequence(sink, EditScheduler(clock=ft.clock, sleep=ft.sleep), 1)
    view = discord.ui.View()

    async def run() -> list[int]:
        seq.update("   ")  # nothing visible yet: no message
        await ft.sleep(1.0)
        return await seq.finish("", view=view)

    await ft.run(run())
    assert [op.kind for op in sink.ops] == ["new"]
    assert sink.ops[0].content == BLANK and sink.ops[0].view is view


async def test_final_text_shorter_than_streamed_deletes_extra_messages() -> None:
    ft = FakeTime()
    sink = FakeSink(ft)
    seq: LiveTextSequence[int] = LiveTextSequence(sink, EditScheduler(clock=ft.clock, sleep=ft.sleep), 1)
    streamed = "word " * 1000

    async def run() -> list[int]:
        seq.update(streamed)
        await ft.sleep(3.0)
        return await seq.finish("replaced by a short answer")

    refs = await ft.run(run())
    assert sink.contents() == ["replaced by a short answer"]
    assert refs == [1]
    assert any(op.kind == "delete" for op in sink.ops)


async def test_finish_raises_send_errors() -> None:
    ft = FakeTime()

    class Broken(FakeSink):
        async def send_new(
            self, content: str, *, view: discord.ui.View | None = None, files: Sequence[discord.File] = ()
        ) -> int:
            raise discord.Forbidden(
                type("R", (), {"status": 403, "reason": "Forbidden"})(),
                {"message": "Missing Access", "code": 50001},
            )

    seq: LiveTextSequence[int] = LiveTextSequence(
        Broken(ft), EditScheduler(clock=ft.clock, sleep=ft.sleep), 1
    )

    async def run() -> None:
        seq.update("hi")
        with pytest.raises(discord.Forbidden):
            await seq.finish("hi there")

    await ft.run(run())


def test_long_text_file_holds_the_text() -> None:
    file = long_text_file("é" * 9000)
    assert file.filename == "answer.md"
    assert file.fp.read().decode("utf-8") == "é" * 9000


async def test_stop_view_rides_on_the_first_message_and_is_cleared_when_the_answer_finishes() -> None:
    ft = FakeTime()
    sink = FakeSink(ft)
    stop, finished = discord.ui.View(), discord.ui.View()
    seq: LiveTextSequence[int] = LiveTextSequence(
        sink, EditScheduler(clock=ft.clock, sleep=ft.sleep), 1, first_view=stop
    )
    text = "word " * 700  # two messages

    async def run() -> list[int]:
        for pos in range(0, len(text) + 1, 50):
            seq.update(text[:pos])
            await ft.sleep(0.2)
        return await seq.finish(text, footer="-# f", view=finished)

    refs = await ft.run(run())
    assert refs == [1, 2]
    first_ops = [op for op in sink.ops if op.ref == 1]
    # Created with the Stop button, edited without touching it, then cleared once at the end.
    assert first_ops[0].kind == "new" and first_ops[0].view is stop
    assert all(op.view is None for op in first_ops[1:-1])
    cleared = first_ops[-1].view
    assert cleared is not None and cleared is not stop and not cleared.children
    assert first_ops[-1].content == final_chunks(text, "-# f")[0]
    # The finished buttons go on the last message, which never showed the Stop button.
    assert sink.views[2] is finished
    assert all(op.view is not stop for op in sink.ops if op.ref == 2)


async def test_single_message_answer_swaps_the_stop_view_for_the_finished_one() -> None:
    ft = FakeTime()
    sink = FakeSink(ft)
    stop, finished = discord.ui.View(), discord.ui.View()
    seq: LiveTextSequence[int] = LiveTextSequence(
        sink, EditScheduler(clock=ft.clock, sleep=ft.sleep), 1, first_view=stop
    )

    async def run() -> list[int]:
        seq.update("Hello there")
        await ft.sleep(2.0)
        return await seq.finish("Hello there, all done", footer="-# f", view=finished)

    await ft.run(run())
    assert [(op.kind, op.view) for op in sink.ops] == [("new", stop), ("edit", finished)]
