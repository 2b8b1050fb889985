"""/help: the bot's commands, what each does, and which features this server has enabled.

It is also the end-to-end proof of the stack: settings, storage, i18n and the command tree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_io.mentions import NO_PINGS
from bot.i18n import t

if TYPE_CHECKING:
    from bot.app import OpenAIBot

# Features in the order /help lists them; each has `feature.<name>` in the catalogs.
FEATURES: tuple[str, ...] = ("write", "imagine", "transcribe", "moderation", "embeddings", "files")


def _command_lines(bot: OpenAIBot, locale: str) -> list[str]:
    lines = []
    for command in sorted(bot.tree.get_commands(), key=lambda c: c.name):
        if not isinstance(command, app_commands.Command | app_commands.Group):
            continue
        key = f"cmd.{command.name}.description"
        description = t(key, locale)
        if description == key:  # a command without catalog entry still gets its English text
            description = command.description
        lines.append(f"`/{command.name}` — {description}")
    return lines


class Help(commands.Cog):
    def __init__(self, bot: OpenAIBot) -> None:
        self.bot = bot

    @app_commands.command(
        name=app_commands.locale_str("help", key="cmd.help.name"),
        description=app_commands.locale_str(
            "Show the bot's commands and this server's features", key="cmd.help.description"
        ),
    )
    async def help(self, interaction: discord.Interaction[Any]) -> None:
        locale = await self.bot.locale_for(interaction)
        embed = discord.Embed(title=t("help.title", locale), colour=discord.Colour.blurple())
        embed.description = "\n".join(_command_lines(self.bot, locale))
        guild_settings = await self.bot.settings_for(interaction.guild_id)
        if guild_settings is not None:
            states = []
            for feature in FEATURES:
                state = "help.feature_on" if guild_settings.is_enabled(feature) else "help.feature_off"
                states.append(t(state, locale, feature=t(f"feature.{feature}", locale)))
            embed.add_field(name=t("help.features_title", locale), value="\n".join(states), inline=False)
        else:
            embed.add_field(name=t("help.features_title", locale), value=t("help.dm_note", locale))
        embed.set_footer(text=t("help.footer", locale))
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)


async def setup(bot: OpenAIBot) -> None:
    await bot.add_cog(Help(bot))
