"""Where a transcription's messages go: the deferred interaction response and its followups, or a
reply to the member's message in the channel. Both ping nobody."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord

from bot.discord_io.interaction_sink import InteractionSink
from bot.discord_io.mentions import NO_PINGS
from bot.discord_io.sent_messages import EditsSentMessages


class ReplySink(EditsSentMessages):
    """First message replies to the member's audio (without pinging them); more go to the channel."""

    def __init__(self, message: discord.Message) -> None:
        self._message = message
        self._replied = False

    async def send_new(
        self, content: str, *, view: discord.ui.View | None = None, files: Sequence[discord.File] = ()
    ) -> discord.Message:
        kwargs: dict[str, Any] = {"view": view or discord.utils.MISSING, "files": list(files)}
        if not self._replied:
            self._replied = True
            return await self._message.reply(
                content, mention_author=False, allowed_mentions=NO_PINGS, **kwargs
            )
        return await self._message.channel.send(content, allowed_mentions=NO_PINGS, **kwargs)


__all__ = ["InteractionSink", "ReplySink"]
