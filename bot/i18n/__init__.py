"""Localization: catalogs (en-US, zh-CN), t(), and the app_commands Translator.
Import from here: `from bot.i18n import t, reply_locale, BotTranslator`."""

from __future__ import annotations

from bot.i18n.catalog import CatalogError, catalogs, load_catalogs
from bot.i18n.locale import SUPPORTED_LOCALES, match_locale, normalize_locale, reply_locale
from bot.i18n.translate import t, t_or
from bot.i18n.translator import BotTranslator

__all__ = [
    "SUPPORTED_LOCALES",
    "BotTranslator",
    "CatalogError",
    "catalogs",
    "load_catalogs",
    "match_locale",
    "normalize_locale",
    "reply_locale",
    "t",
    "t_or",
]
