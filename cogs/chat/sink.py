"""Where a /chat answer's messages go: the conversation's thread, as plain channel messages.
Nothing sent pings anyone; which buttons a message carries is LiveTextSequence's business."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import discord

from bot.discord_io.mentions import NO_PINGS


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
        kwargs: dict[str, Any] = {"content": content, "allowed_mentions": NO_PINGS}
        if view is not None:
            kwargs["view"] = view
        if attachments is not None:
            kwargs["attachments"] = list(attachments)
        await self._thread.get_partial_message(ref.id).edit(**kwargs)

    async def delete(self, ref: discord.Message) -> None:
        with contextlib.suppress(discord.NotFound):
            await self._thread.get_partial_message(ref.id).delete()
