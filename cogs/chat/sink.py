"""Where a /chat answer's messages go: the conversation's thread, as plain channel messages.
Nothing sent pings anyone; which buttons a message carries is LiveTextSequence's business."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import discord

from bot.discord_io.mentions import NO_PINGS
from bot.discord_io.sent_messages import edit_kwargs


class ThreadSink:
    """MessageSink over a thread; `ref` is the discord.Message the bot sent."""

    def __init__(self, thread: discord.Thread) -> None:
        self._thread = thread

    async def send_new(
        self, content: str, *, view: discord.ui.View | None = None, files: Sequence[discord.File] = ()
    ) -> discord.Message:
        return await self._thread.send(
            content, view=view or discord.utils.MISSING, files=list(files), allowed_mentions=NO_PINGS
        )

    async def edit(
        self,
        ref: discord.Message,
        content: str,
        *,
        view: discord.ui.View | None = None,
        attachments: Sequence[discord.File] | None = None,
    ) -> None:
        # A partial message: the thread edits it by id, whatever object sent it.
        await self._thread.get_partial_message(ref.id).edit(**edit_kwargs(content, view, attachments))

    async def delete(self, ref: discord.Message) -> None:
        with contextlib.suppress(discord.NotFound):
            await self._thread.get_partial_message(ref.id).delete()
