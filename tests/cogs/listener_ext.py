"""A test-only feature that needs the privileged Message Content intent, for the fallback when
Discord refuses it (features needing it turn off; the bot still starts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.features import Feature

FEATURE = Feature(
    name="listener",
    intents=frozenset({"message_content"}),
    permissions=frozenset({"read_message_history"}),
    locales=Path(__file__).parent / "boom_locales",
)


class Listener(commands.Cog):
    def __init__(self, bot: Any) -> None:
        self.bot = bot

    @app_commands.command(name="listen", description="needs message content")
    @app_commands.guild_only()
    async def listen(self, interaction: discord.Interaction[Any]) -> None:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        ctx.require_feature()
        await interaction.response.send_message("listening")


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Listener(bot))
