"""Editing and deleting the messages a sink already sent: the half of MessageSink (live_text.py) that
every sink shares. "Leave as is" for a view or attachments means not sending the field at all."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import discord

from bot.discord_io.mentions import NO_PINGS


def edit_kwargs(
    content: str, view: discord.ui.View | None, attachments: Sequence[discord.File] | None
) -> dict[str, Any]:
    """Keyword arguments for `Message.edit`: None leaves the view or attachments as they are."""
    kwargs: dict[str, Any] = {"content": content, "allowed_mentions": NO_PINGS}
    if view is not None:
        kwargs["view"] = view
    if attachments is not None:
        kwargs["attachments"] = list(attachments)
    return kwargs


class EditsSentMessages:
    """A sink's `edit` and `delete`, for sinks whose refs can be edited as they are."""

    async def edit(
        self,
        ref: discord.Message,
        content: str,
        *,
        view: discord.ui.View | None = None,
        attachments: Sequence[discord.File] | None = None,
    ) -> None:
        await ref.edit(**edit_kwargs(content, view, attachments))

    async def delete(self, ref: discord.Message) -> None:
        with contextlib.suppress(discord.NotFound):  # already gone is what we wanted
            await ref.delete()
