"""What one /imagine request costs: GPT image models by their reported token usage (text input, input
image and output image tokens priced apart); per-image prices where no usage is reported."""

from __future__ import annotations

from decimal import Decimal

from bot.openai_api import ImageUsage
from bot.usage import PricingTable, quantize_usd

_MILLION = Decimal(1_000_000)


def token_cost(pricing: PricingTable, model: str, usage: ImageUsage | None) -> Decimal | None:
    """The cost from reported usage, or None when it must come from per-image prices (no usage, or a
    model the table prices only per image); the ledger then prices the images it is told about."""
    if usage is None:
        return None
    price = pricing.price_for(model)
    if price is None:
        return None  # unknown model: the ledger records it at cost 0 and warns once
    if not (price.input_per_1m or price.output_per_1m or price.image_input_per_1m):
        return None
    return quantize_usd(
        (
            usage.text_input_tokens * price.input_per_1m
            + usage.image_input_tokens * price.image_input_per_1m
            + usage.output_tokens * price.output_per_1m
        )
        / _MILLION
    )
