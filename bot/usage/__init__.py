"""Pricing, cost computation and the usage ledger.
Cogs record what each API call used here and read per-guild / per-user totals back."""

from __future__ import annotations

from bot.usage.cost import compute_cost
from bot.usage.events import UsageEvent, UsageSums, UsageTotals
from bot.usage.ledger import LedgerClosedError, LedgerWriteError, UsageLedger
from bot.usage.pricing import COST_PLACES, ModelPrice, PricingError, PricingTable, quantize_usd

__all__ = [
    "COST_PLACES",
    "LedgerClosedError",
    "LedgerWriteError",
    "ModelPrice",
    "PricingError",
    "PricingTable",
    "UsageEvent",
    "UsageLedger",
    "UsageSums",
    "UsageTotals",
    "compute_cost",
    "quantize_usd",
]
