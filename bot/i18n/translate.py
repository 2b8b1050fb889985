"""t(): look up a user-visible string in the catalogs and format it; never raises.
Missing keys and bad format arguments are logged once each and degrade to en-US / the key / the template."""

from __future__ import annotations

import logging
from typing import Any

from bot.i18n.catalog import catalogs
from bot.i18n.locale import DEFAULT_LOCALE, LocaleLike, normalize_locale

log = logging.getLogger(__name__)

# One warning per distinct problem: t() runs on every reply and a missing key would flood the log.
_reported: set[tuple[str, str, str]] = set()


def _report_once(kind: str, locale: str, key: str, message: str, *args: object) -> None:
    marker = (kind, locale, key)
    if marker in _reported:
        return
    _reported.add(marker)
    log.warning(message, *args)


def lookup(key: str, locale: LocaleLike) -> str | None:
    """The raw template for key in locale, falling back to en-US; None when no catalog has it."""
    loc = normalize_locale(locale)
    all_catalogs = catalogs()
    template = all_catalogs.get(loc, {}).get(key)
    if template is not None:
        return template
    template = all_catalogs.get(DEFAULT_LOCALE, {}).get(key)
    if template is not None and loc != DEFAULT_LOCALE:
        _report_once("fallback", loc, key, "i18n key %r missing in %s; using %s", key, loc, DEFAULT_LOCALE)
    return template


def t(key: str, locale: LocaleLike, /, **kwargs: Any) -> str:
    """The string for key in locale, formatted with kwargs (str.format fields)."""
    template = lookup(key, locale)
    if template is None:
        _report_once("missing", "*", key, "i18n key %r missing in every catalog", key)
        return key
    return _format(template, key, locale, kwargs)


def t_or(key: str, locale: LocaleLike, default: str, /, **kwargs: Any) -> str:
    """Like t(), but `default` when no catalog has key: for names the catalogs need not list
    (a permission flag discord.py added, a command a feature did not translate)."""
    template = lookup(key, locale)
    return default if template is None else _format(template, key, locale, kwargs)


def _format(template: str, key: str, locale: LocaleLike, kwargs: dict[str, Any]) -> str:
    try:
        return template.format(**kwargs)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
        _report_once(
            "format", normalize_locale(locale), key, "i18n key %r could not be formatted: %r", key, exc
        )
        return template
