"""Pricing one UsageEvent: the cost the ledger stores for it.
A cost supplied by the caller wins (quantized); otherwise usage times the table's price."""

from __future__ import annotations

from decimal import Decimal

from bot.usage.events import UsageEvent
from bot.usage.pricing import PricingTable, quantize_usd


def compute_cost(pricing: PricingTable, event: UsageEvent) -> Decimal:
    if event.cost_usd is not None:
        return quantize_usd(event.cost_usd)
    return pricing.cost(
        event.model,
        input_tokens=event.input_tokens,
        output_tokens=event.output_tokens,
        images=event.images,
        image_size=event.image_size,
        image_quality=event.image_quality,
        audio_seconds=event.audio_seconds,
    )


def format_usd(cost: Decimal) -> str:
    """A cost as footers show it: cents from one cent up, else the significant digits; never '$0.'."""
    if cost == 0:
        return "$0"
    if cost >= Decimal("0.01"):
        return f"${cost:.2f}"
    if cost < Decimal("0.000001"):
        return "<$0.000001"
    return "$" + f"{cost:.6f}".rstrip("0").rstrip(".")
