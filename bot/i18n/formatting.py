"""Numbers, money and dates as a reader in a supported locale writes them (Babel's CLDR data).
Catalog locales are BCP 47 ("zh-CN"); Babel wants "zh_CN", which is the only translation here."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from babel import dates as babel_dates
from babel import numbers as babel_numbers


def _babel(locale: str) -> str:
    return locale.replace("-", "_")


def format_money(amount: Decimal, locale: str) -> str:
    """US dollars with cents, or with up to 6 decimals for amounts below a cent (API costs are tiny)."""
    if amount != 0 and abs(amount) < Decimal("0.01"):
        return babel_numbers.format_currency(
            amount, "USD", format="¤#,##0.00####", locale=_babel(locale), currency_digits=False
        )
    return babel_numbers.format_currency(amount, "USD", locale=_babel(locale))


def format_number(value: int | float | Decimal, locale: str) -> str:
    return babel_numbers.format_decimal(value, locale=_babel(locale))


def format_date(value: date, locale: str) -> str:
    return babel_dates.format_date(value, format="medium", locale=_babel(locale))


def format_datetime_utc(value: datetime, locale: str) -> str:
    """A moment in UTC, said to be UTC (members are in every time zone)."""
    return (
        babel_dates.format_datetime(value, format="medium", tzinfo=babel_dates.UTC, locale=_babel(locale))
        + " UTC"
    )


__all__ = ["format_date", "format_datetime_utc", "format_money", "format_number"]
