"""Locale names: the supported set, normalization of Discord/user locales, and the reply-language rule.
Only en-US and zh-CN have catalogs; every other language falls back to en-US."""

from __future__ import annotations

import discord

SUPPORTED_LOCALES: tuple[str, ...] = ("en-US", "zh-CN")
DEFAULT_LOCALE = "en-US"

LocaleLike = str | discord.Locale | None


def match_locale(value: LocaleLike) -> str | None:
    """The supported locale for value (any zh-* -> zh-CN, any en-* -> en-US), or None if unsupported."""
    if value is None:
        return None
    text = value.value if isinstance(value, discord.Locale) else str(value)
    lang = text.strip().replace("_", "-").split("-", 1)[0].lower()
    if lang == "zh":
        # We ship Simplified Chinese only; a zh-TW user still reads it better than English.
        return "zh-CN"
    if lang == "en":
        return "en-US"
    return None


def normalize_locale(value: LocaleLike) -> str:
    """Like match_locale, but unknown or missing locales become en-US."""
    return match_locale(value) or DEFAULT_LOCALE


def reply_locale(interaction: discord.Interaction, guild_override: str | None) -> str:
    """The language to answer an interaction in.

    An admin's explicit per-guild choice wins; then the user's client language; then the guild's
    preferred locale; then en-US.
    """
    if guild_override:
        return normalize_locale(guild_override)
    user = match_locale(interaction.locale)
    if user is not None:
        return user
    guild_locale = interaction.guild_locale
    if guild_locale is None and interaction.guild is not None:
        guild_locale = interaction.guild.preferred_locale
    return match_locale(guild_locale) or DEFAULT_LOCALE
