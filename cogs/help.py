"""/help: the commands this bot loaded, named as the reader's client shows them, and each feature's
state in this server (on, off, or unavailable for want of a Discord intent), from the registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_io.mentions import NO_PINGS
from bot.i18n import t, t_or

if TYPE_CHECKING:
    from bot.app import OpenAIBot
    from bot.context import InteractionContext


def _command_lines(bot: OpenAIBot, locale: str) -> list[str]:
    """One line per loaded top-level command, with its name and description in `locale`."""
    lines = []
    for command in sorted(
        bot.tree.get_commands(type=discord.AppCommandType.chat_input), key=lambda c: c.name
    ):
        assert isinstance(command, app_commands.Command | app_commands.Group)
        name = t_or(f"cmd.{command.name}.name", locale, command.name)
        description = t_or(f"cmd.{command.name}.description", locale, command.description)
        lines.append(f"`/{name}` — {description}")
    return lines


async def _feature_lines(bot: OpenAIBot, ctx: InteractionContext) -> list[str]:
    assert ctx.guild_id is not None
    lines = []
    for feature in bot.features:
        name = t_or(f"feature.{feature.name}", ctx.locale, feature.name)
        if feature.help_key is not None:
            name = f"{name} — {ctx.t(feature.help_key)}"
        if any(not getattr(bot.intents, intent) for intent in feature.optional_intents):
            # Running without an intent it can do without: say how the feature behaves then.
            degraded = t_or(f"feature.{feature.name}.degraded", ctx.locale, "")
            name = f"{name} {degraded}".rstrip()
        if not bot.features.is_available(feature.name):
            state = "help.feature_unavailable"
        elif (await bot.feature_settings.get(ctx.guild_id, feature)).enabled:
            state = "help.feature_on"
        else:
            state = "help.feature_off"
        lines.append(ctx.t(state, feature=name))
    return lines


EMBED_FIELD_LIMIT = 1024


def _pack(lines: list[str], limit: int) -> list[str]:
    """Lines joined into as few values of at most `limit` characters as they fit (whole lines)."""
    values: list[str] = []
    for line in lines:
        line = line[:limit]
        if values and len(values[-1]) + 1 + len(line) <= limit:
            values[-1] += "\n" + line
        else:
            values.append(line)
    return values


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
        ctx = await self.bot.contexts.get(interaction)
        locale = ctx.locale
        embed = discord.Embed(title=t("help.title", locale), colour=discord.Colour.blurple())
        embed.description = "\n".join(_command_lines(self.bot, locale))
        if ctx.guild_id is not None:
            lines = await _feature_lines(self.bot, ctx) or [t("help.none", locale)]
            # A field holds 1,024 characters: many features continue in untitled fields.
            for index, value in enumerate(_pack(lines, EMBED_FIELD_LIMIT)):
                title = t("help.features_title", locale) if index == 0 else "\u200b"
                embed.add_field(name=title, value=value, inline=False)
        else:
            embed.add_field(name=t("help.features_title", locale), value=t("help.dm_note", locale))
        embed.set_footer(text=t("help.footer", locale))
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)


async def setup(bot: OpenAIBot) -> None:
    await bot.add_cog(Help(bot))
