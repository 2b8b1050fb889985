"""BotTranslator: localizes slash-command names, descriptions and choices from the catalogs.
Metadata is written as locale_str("English text", key="cmd.x.description"); the key picks the string."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot.i18n.catalog import catalogs
from bot.i18n.locale import DEFAULT_LOCALE, match_locale

log = logging.getLogger(__name__)


class BotTranslator(app_commands.Translator):
    """Answers Discord's per-locale questions at sync time from our JSON catalogs."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        key = string.extras.get("key")
        if not isinstance(key, str):
            return None
        loc = match_locale(locale)
        # The message passed to locale_str already is the English text Discord shows by default.
        if loc is None or loc == DEFAULT_LOCALE:
            return None
        translated = catalogs().get(loc, {}).get(key)
        if translated is None:
            log.debug("no %s translation for command string %r (%s)", loc, key, context.location.name)
        return translated
