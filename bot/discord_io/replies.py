"""Private replies to an interaction in whatever state it is in (fresh, deferred, answered).
The one place that knows which discord.py call fits which state; an expired interaction is logged."""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.discord_io.mentions import NO_PINGS

log = logging.getLogger(__name__)


async def reply_privately(interaction: discord.Interaction[Any], text: str) -> None:
    """Tell the member privately; if Discord no longer takes the reply (expired), only log it."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
        else:
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
    except discord.HTTPException as exc:
        log.info("Could not deliver a private reply (interaction expired?): %s %s", exc.status, exc.code)
