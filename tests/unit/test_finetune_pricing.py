"""Fine-tuning in the pricing table: training priced per trained token on the base model (dated
snapshots too), and tuned `ft:` models priced at their own, higher rates."""

from __future__ import annotations

from decimal import Decimal

from bot.usage.pricing import PricingTable


def test_training_cost_from_trained_tokens_on_snapshots_and_aliases() -> None:
    table = PricingTable.load()
    assert table.training_cost("gpt-4o-mini-2024-07-18", 1_000_000) == Decimal("3.00")
    assert table.training_cost("gpt-4.1-mini-2025-04-14", 12_345) == Decimal("0.061725")
    assert table.training_cost("davinci-002", 500_000) == Decimal("3.00")
    assert table.training_cost("no-such-model", 1_000_000) == Decimal(0)


def test_tuned_models_cost_their_own_prices_not_their_base() -> None:
    table = PricingTable.load()
    tuned = "ft:gpt-4o-mini-2024-07-18:org-fake:pirate:abc123"
    assert table.cost(tuned, input_tokens=1_000_000, output_tokens=1_000_000) == Decimal("1.50")
    assert table.cost("gpt-4o-mini", input_tokens=1_000_000, output_tokens=1_000_000) == Decimal("0.75")
    assert table.cost("ft:davinci-002:org::x", input_tokens=1_000_000) == Decimal("12.00")
    # A tuned model of an unpriced base is unknown, not priced as something else.
    assert table.price_for("ft:my-local-model:org::x") is None
