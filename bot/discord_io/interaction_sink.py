"""Live text sent through an interaction: the deferred "thinking…" reply first, then followups.
A MessageSink for LiveTextSequence shared by features; nothing sent pings anyone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord

from bot.discord_io.mentions import NO_PINGS
from bot.discord_io.sent_messages import EditsSentMessages


class InteractionSink(EditsSentMessages):
    """MessageSink over an interaction's webhook; the first message fills the placeholder."""

    def __init__(self, interaction: discord.Interaction[Any]) -> None:
        self._interaction = interaction
        self._used_original = False

    async def send_new(
        self, content: str, *, view: discord.ui.View | None = None, files: Sequence[discord.File] = ()
    ) -> discord.Message:
        if not self._used_original:
            self._used_original = True
            return await self._interaction.edit_original_response(
                content=content, view=view, attachments=list(files), allowed_mentions=NO_PINGS
            )
        return await self._interaction.followup.send(
            content,
            view=view or discord.utils.MISSING,
            files=list(files),
            wait=True,
            allowed_mentions=NO_PINGS,
        )
