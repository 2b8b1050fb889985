"""How /config shows values and explains refused ones, in the reader's language.
Pydantic says what is wrong in English; its error types are turned into catalog messages here."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from bot.i18n import t, t_or
from bot.i18n.formatting import format_money, format_number
from cogs.config.schema import SERVER, Setting


def target_label(name: str, locale: str) -> str:
    """A target as members read it: "Text writing (write)"."""
    key = "config.server" if name == SERVER else f"feature.{name}"
    return f"{t_or(key, locale, name)} ({name})"


def show_value(setting: Setting, value: Any, locale: str, *, default_model: str | None = None) -> str:
    if value is None:
        if setting.kind == "model" and default_model:
            return t("config.value.bot_default", locale, model=default_model)
        return t("config.value.none", locale)
    if isinstance(value, bool):
        return t("config.value.on" if value else "config.value.off", locale)
    if setting.kind in ("channel", "channels", "role", "roles"):
        ids = value if isinstance(value, tuple | list) else (value,)
        mention = "<#{}>" if setting.kind.startswith("channel") else "<@&{}>"
        return ", ".join(mention.format(i) for i in ids) or "—"
    if isinstance(value, tuple | list):
        if not value:
            return t("config.value.all_models", locale) if setting.kind == "models" else "—"
        return ", ".join(f"`{v}`" for v in value)
    if setting.is_money and isinstance(value, Decimal | int | float):
        return format_money(Decimal(str(value)), locale)
    if isinstance(value, int | float | Decimal):
        return format_number(value, locale)
    return f"`{value}`"


# pydantic error type -> (catalog key, the ctx entry giving the limit)
_REASONS: dict[str, tuple[str, str | None]] = {
    "greater_than_equal": ("config.reason.min", "ge"),
    "greater_than": ("config.reason.above", "gt"),
    "less_than_equal": ("config.reason.max", "le"),
    "less_than": ("config.reason.below", "lt"),
    "int_parsing": ("config.reason.integer", None),
    "int_from_float": ("config.reason.integer", None),
    "float_parsing": ("config.reason.number", None),
    "decimal_parsing": ("config.reason.number", None),
    "finite_number": ("config.reason.number", None),
    "bool_parsing": ("config.reason.bool", None),
    "literal_error": ("config.reason.choice", "expected"),
    "decimal_max_places": ("config.reason.decimals", "decimal_places"),
    "string_too_short": ("config.reason.empty", None),
    "string_too_long": ("config.reason.too_long", "max_length"),
}


def explain(exc: ValidationError, locale: str) -> str:
    """Why the first refused value was refused, in `locale`."""
    error = exc.errors()[0]
    key, limit_name = _REASONS.get(error["type"], ("config.reason.invalid", None))
    context = error.get("ctx") or {}
    limit = context.get(limit_name) if limit_name else None
    return t(key, locale, limit=limit)


__all__ = ["explain", "show_value", "target_label"]
