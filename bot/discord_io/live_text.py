"""LiveTextSequence: shows a growing text as a sequence of Discord messages, edited in place.
Chunks that are finalized get one last edit and are left alone; the footer, view and file go last."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Sequence
from functools import partial
from typing import Generic, Protocol, TypeVar

import discord

from bot.discord_io.edit_scheduler import EditScheduler, LiveEdit
from bot.discord_io.rest_budget import Priority, rest_priority
from bot.discord_io.splitting import DISCORD_LIMIT, MIN_LIMIT, StreamSplitter, split_spans

log = logging.getLogger(__name__)

RefT = TypeVar("RefT")
# Discord rejects a message whose content is empty after trimming whitespace.
BLANK = "\u200b"
LONG_TEXT_THRESHOLD = 8000


class MessageSink(Protocol[RefT]):
    """Where messages go (a cog implements it over an interaction followup or a channel).

    view=None and attachments=None mean "leave as is"; send_new's first call may well edit the
    deferred original response rather than post a new message: that is the sink's choice.
    """

    async def send_new(
        self, content: str, *, view: discord.ui.View | None = None, files: Sequence[discord.File] = ()
    ) -> RefT: ...

    async def edit(
        self,
        ref: RefT,
        content: str,
        *,
        view: discord.ui.View | None = None,
        attachments: Sequence[discord.File] | None = None,
    ) -> None: ...

    async def delete(self, ref: RefT) -> None: ...


def long_text_file(text: str, name: str = "answer.md") -> discord.File:
    """The whole text as an attachment, for answers too long to read comfortably as messages."""
    return discord.File(io.BytesIO(text.encode("utf-8")), filename=name)


def with_footer(chunk: str, footer: str) -> str:
    """chunk with footer on a line of its own (e.g. "-# model · 123 tokens")."""
    if not chunk:
        return footer
    return chunk + ("" if chunk.endswith("\n") else "\n") + footer


def final_chunks(text: str, footer: str | None = None, limit: int = DISCORD_LIMIT) -> list[str]:
    """The complete text as message contents, the footer on the last one, each within limit.

    When the footer does not fit after the last chunk, that chunk is re-split narrower so it does
    (earlier chunks are unchanged, so messages already finalized while streaming stay valid).
    """
    spans = split_spans(text, limit)
    chunks = [span.render(text) for span in spans]
    if footer is None:
        return chunks
    footer = footer.strip("\n")
    if len(with_footer(chunks[-1], footer)) <= limit:
        return [*chunks[:-1], with_footer(chunks[-1], footer)]
    room = limit - len(footer) - 1
    if room < MIN_LIMIT:
        log.warning("footer of %d chars gets a message of its own", len(footer))
        return [*chunks, footer[:limit]]
    tail = [span.render(text) for span in split_spans(text, room, start=spans[-1].start)]
    return [*chunks[:-1], *tail[:-1], with_footer(tail[-1], footer)]


class _Message(Generic[RefT]):
    handle: LiveEdit

    def __init__(self) -> None:
        self.ref: RefT | None = None
        # Set on the next send (None: leave the message's buttons as they are), then cleared.
        self.view: discord.ui.View | None = None
        self.files: list[discord.File] = []


class LiveTextSequence(Generic[RefT]):
    """Renders update(full_text_so_far) calls into messages through the shared EditScheduler.

    While streaming, first_view (e.g. a Stop button) rides on the first message; finish() moves
    the buttons to the last message and clears them from the first one.
    """

    def __init__(
        self,
        sink: MessageSink[RefT],
        scheduler: EditScheduler,
        channel_id: int,
        *,
        limit: int = DISCORD_LIMIT,
        first_view: discord.ui.View | None = None,
    ) -> None:
        self._sink = sink
        self._scheduler = scheduler
        self._channel_id = channel_id
        self._limit = limit
        self._first_view = first_view
        self._splitter = StreamSplitter(limit)
        self._messages: list[_Message[RefT]] = []
        self._finished = False

    @property
    def refs(self) -> list[RefT]:
        """References of the messages created so far, in order."""
        return [m.ref for m in self._messages if m.ref is not None]

    def update(self, text: str) -> None:
        """Show text (the whole text so far); returns at once, sending happens in the background.

        Cheap enough to call per streamed token: only the text after the finalized chunks is
        split again, and the live message is rendered when its edit goes out, not per call.
        """
        if self._finished:
            return
        done = len(self._splitter.finalized)
        for index, chunk in enumerate(self._splitter.feed(text), start=done):
            # A finalized chunk gets its last edit here and is never touched again while streaming.
            self._message(index).handle.update(_visible(chunk))
        if text[self._splitter.live_start :].strip():
            self._message(len(self._splitter.finalized)).handle.update(self._splitter.live)

    async def finish(
        self,
        final_text: str,
        footer: str | None = None,
        view: discord.ui.View | None = None,
        file: discord.File | None = None,
    ) -> list[RefT]:
        """Bring every message to its final content and wait until Discord has it all.

        Raises the first send error (after the other messages were still brought up to date).
        """
        self._finished = True
        chunks = final_chunks(final_text, footer, self._limit)
        last = len(chunks) - 1
        for index, chunk in enumerate(chunks):
            message = self._message(index)
            force = False
            if index == last:
                message.view = view
                message.files = [file] if file is not None else []
                force = view is not None or file is not None
            elif index == 0 and self._first_view is not None:
                # The streaming buttons go: the finished answer has its buttons on the last message.
                message.view = discord.ui.View()
                force = True
            message.handle.update(_visible(chunk), force=force)
        stale = self._messages[len(chunks) :]
        del self._messages[len(chunks) :]
        results = await asyncio.gather(
            *(m.handle.flush() for m in [*self._messages, *stale]), return_exceptions=True
        )
        for message in stale:
            # The final text is shorter than what was streamed: drop messages that no longer belong.
            message.handle.close()
            if message.ref is not None:
                await self._sink.delete(message.ref)
        for message in self._messages:
            message.handle.close()
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        return self.refs

    def _message(self, index: int) -> _Message[RefT]:
        while len(self._messages) <= index:
            # Registered in order, so creations go out in order: the scheduler serves the
            # longest-waiting handle first and breaks ties by registration.
            message: _Message[RefT] = _Message()
            message.handle = self._scheduler.register(self._channel_id, partial(self._send, message))
            if not self._messages:
                message.view = self._first_view
            self._messages.append(message)
        return self._messages[index]

    async def _send(self, message: _Message[RefT], content: str) -> None:
        view, files = message.view, message.files
        for file in files:
            # A retried upload (after a 429) must read the file from the start again.
            file.reset()
        if message.ref is None:
            message.ref = await self._sink.send_new(content, view=view, files=files)
        else:
            # Updating text already on screen yields to every other request in the REST budget.
            with rest_priority(Priority.COSMETIC):
                await self._sink.edit(message.ref, content, view=view, attachments=files or None)
        # Sent: later edits leave the buttons and the attachment as they are.
        if message.view is view:
            message.view = None
        if message.files is files:
            message.files = []


def _visible(chunk: str) -> str:
    return chunk if chunk.strip() else BLANK
