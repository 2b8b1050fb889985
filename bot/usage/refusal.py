"""The member's message when a budget refuses a call: which budget, what is left, when it resets.
Money and dates are written for the reader's locale."""

from __future__ import annotations

from bot.i18n import t
from bot.i18n.formatting import format_datetime_utc, format_money
from bot.usage.budgets import BudgetExceeded


def budget_refusal_text(refusal: BudgetExceeded, locale: str) -> str:
    return t(
        f"budget.refused.{refusal.scope}",
        locale,
        left=format_money(refusal.left, locale),
        limit=format_money(refusal.limit, locale),
        needed=format_money(refusal.needed, locale),
        resets=format_datetime_utc(refusal.resets_at, locale),
    )


__all__ = ["budget_refusal_text"]
