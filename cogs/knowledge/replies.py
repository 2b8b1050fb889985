"""The knowledge base's final replies: the deferred reply or progress message replaced with a text
that pings nobody, and a text cut to fit one Discord message."""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.discord_io.mentions import NO_PINGS
from cogs.knowledge.progress import Edit

log = logging.getLogger(__name__)


async def say(interaction: discord.Interaction[Any], text: str) -> None:
    """Replace the deferred reply (progress bar, "thinking…") with `text`."""
    await show(interaction.edit_original_response, text)


async def show(edit: Edit, text: str) -> None:
    """Replace the message `edit` edits (and its Cancel button) with `text`."""
    try:
        await edit(content=text, view=None, allowed_mentions=NO_PINGS)
    except discord.HTTPException as exc:
        log.info("Could not deliver a knowledge base reply (interaction expired?): %s", exc.status)


def fit(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
