"""A test-only extension whose commands fail in known and unknown ways (for the error handler)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import FeatureDisabled
from bot.features import Feature
from bot.openai_api import QuotaExceededError

SECRET_IN_ERROR = "sk-test-key"

# A feature with strings of its own: errors name it as the member's catalogs do.
FEATURE = Feature(name="boom", locales=Path(__file__).parent / "boom_locales")


class Boom(commands.Cog):
    @app_commands.command(name="boom", description="fails unexpectedly")
    async def boom(self, interaction: discord.Interaction[Any]) -> None:
        raise RuntimeError(f"database exploded with key {SECRET_IN_ERROR}")

    @app_commands.command(name="quota", description="fails with quota exhausted")
    async def quota(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True)
        raise QuotaExceededError(
            "You exceeded your current quota",
            status=429,
            code="insufficient_quota",
            type="insufficient_quota",
        )

    @app_commands.command(name="off", description="a disabled feature")
    async def off(self, interaction: discord.Interaction[Any]) -> None:
        raise FeatureDisabled(FEATURE.name)

    @app_commands.command(name="admin", description="needs manage guild")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def admin(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_message("ok")


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Boom())
