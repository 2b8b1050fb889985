"""Pricing table: the shipped file, overrides, validation errors, and exact costs."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.usage import PricingError, PricingTable, UsageEvent, compute_cost, quantize_usd

D = Decimal


@pytest.fixture(scope="module")
def shipped() -> PricingTable:
    return PricingTable.load()


def test_shipped_file_validates_and_has_the_list_prices(shipped: PricingTable) -> None:
    assert shipped.prices_read_on.year >= 2025
    models = shipped.models
    assert models["gpt-3.5-turbo-instruct"].input_per_1m == D("1.50")
    assert models["gpt-3.5-turbo-instruct"].output_per_1m == D("2.00")
    assert models["davinci-002"].input_per_1m == models["davinci-002"].output_per_1m == D("2")
    assert models["babbage-002"].input_per_1m == D("0.40")
    assert models["text-embedding-3-small"].input_per_1m == D("0.02")
    assert models["text-embedding-3-large"].input_per_1m == D("0.13")
    assert models["text-embedding-ada-002"].input_per_1m == D("0.10")
    assert models["whisper-1"].audio_per_minute == D("0.006")
    assert models["gpt-4o-transcribe"].audio_per_minute == D("0.006")
    assert models["gpt-4o-mini-transcribe"].audio_per_minute == D("0.003")
    assert models["dall-e-3"].images["hd"]["1792x1024"] == D("0.12")
    assert models["dall-e-2"].images["standard"]["256x256"] == D("0.016")
    assert models["gpt-image-1"].images == models["gpt-image-2"].images
    assert models["gpt-image-1"].images["high"]["1536x1024"] == D("0.25")
    for free in ("omni-moderation-latest", "text-moderation-latest"):
        assert shipped.cost(free, input_tokens=10_000) == 0


@pytest.mark.parametrize(
    ("model", "usage", "expected"),
    [
        ("gpt-3.5-turbo-instruct", {"input_tokens": 1234, "output_tokens": 567}, "0.002985"),
        ("davinci-002", {"input_tokens": 1, "output_tokens": 1}, "0.000004"),
        ("babbage-002", {"input_tokens": 3}, "0.0000012"),
        ("text-embedding-3-small", {"input_tokens": 1_000_001}, "0.02000002"),
        ("text-embedding-3-large", {"input_tokens": 7}, "0.00000091"),
        ("whisper-1", {"audio_seconds": 61.5}, "0.00615"),
        ("whisper-1", {"audio_seconds": 0.1}, "0.00001"),
        ("gpt-4o-mini-transcribe", {"audio_seconds": 7}, "0.00035"),
        # a dated snapshot costs what its alias costs
        ("gpt-4o-transcribe-2025-03-20", {"audio_seconds": 60}, "0.006"),
        ("gpt-3.5-turbo-instruct-0914", {"input_tokens": 1_000_000}, "1.5"),
        ("dall-e-3", {"images": 2, "image_size": "1792x1024", "image_quality": "hd"}, "0.24"),
        ("dall-e-3", {"images": 1}, "0.04"),  # defaults: standard 1024x1024
        ("dall-e-2", {"images": 3, "image_size": "512x512"}, "0.054"),
        ("gpt-image-1", {"images": 1, "image_size": "1024x1536", "image_quality": "medium"}, "0.063"),
        ("gpt-image-1", {"images": 4, "image_size": "1024x1024", "image_quality": "low"}, "0.044"),
        ("gpt-image-2", {"images": 1, "image_size": "auto", "image_quality": "auto"}, "0.167"),
    ],
)
def test_costs_are_exact(shipped: PricingTable, model: str, usage: dict[str, Any], expected: str) -> None:
    cost = shipped.cost(model, **usage)
    assert cost == D(expected)
    assert cost.as_tuple().exponent == -10  # always quantized the same way


def test_quantize_rounds_half_up_at_ten_places() -> None:
    assert quantize_usd(D("0.00000000005")) == D("0.0000000001")
    assert quantize_usd(D("0.00000000004999")) == D("0")


def test_unknown_model_costs_zero_and_is_logged_once(
    shipped: PricingTable, caplog: pytest.LogCaptureFixture
) -> None:
    table = PricingTable.load()  # fresh instance: its "already warned" memory is empty
    with caplog.at_level(logging.WARNING, logger="bot.usage.pricing"):
        assert table.cost("llama-3-local", input_tokens=10**6, output_tokens=10**6) == 0
        assert table.cost("llama-3-local", input_tokens=5) == 0
        assert table.cost("mistral-local", input_tokens=5) == 0
    messages = [r.getMessage() for r in caplog.records]
    assert sum("llama-3-local" in m for m in messages) == 1
    assert sum("mistral-local" in m for m in messages) == 1


def test_unpriced_image_variant_charges_the_dearest_image_once_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table = PricingTable.load()
    with caplog.at_level(logging.WARNING, logger="bot.usage.pricing"):
        assert table.cost("dall-e-3", images=1, image_size="999x999", image_quality="hd") == D("0.12")
        assert table.cost("dall-e-3", images=2, image_size="999x999", image_quality="hd") == D("0.24")
    assert len([r for r in caplog.records if "999x999" in r.getMessage()]) == 1


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


VALID = {
    "prices_read_on": "2026-01-02",
    "currency": "USD",
    "models": {"house-model": {"input_per_1m": "3", "output_per_1m": 4.5}},
}


def test_pricing_path_replaces_the_shipped_table(tmp_path: Path) -> None:
    table = PricingTable.load(_write(tmp_path, VALID))
    assert str(table.prices_read_on) == "2026-01-02"
    assert table.cost("house-model", input_tokens=1_000_000, output_tokens=2_000_000) == D("12")
    assert not table.knows("gpt-3.5-turbo-instruct")
    assert table.cost("gpt-3.5-turbo-instruct", input_tokens=1000) == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{not json", r"not valid JSON: .* line 1 column 2"),
        ({**VALID, "currency": "EUR"}, r"currency: Input should be 'USD'"),
        ({k: v for k, v in VALID.items() if k != "prices_read_on"}, r"prices_read_on: Field required"),
        (
            {**VALID, "models": {"m": {"input_per_1m": "-1"}}},
            r"models\.m\.input_per_1m: Input should be greater",
        ),
        ({**VALID, "models": {"m": {"inptu_per_1m": "1"}}}, r"models\.m\.inptu_per_1m: Extra inputs"),
        ({**VALID, "models": {"m": {"images": {"hd": {"big": "1"}}}}}, r"models\.m\.images\.hd\.big"),
        (
            {**VALID, "models": {"m": {"images": {"hd": {"1x1": "1"}}, "default_image_quality": "sd"}}},
            r"models\.m: Value error, default_image_quality 'sd' has no prices",
        ),
    ],
)
def test_invalid_files_raise_a_clear_error(tmp_path: Path, data: Any, message: str) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(PricingError, match=message) as info:
        PricingTable.load(path)
    assert str(path) in str(info.value)


def test_missing_file_raises_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PricingError, match=r"cannot read pricing file .*nope\.json"):
        PricingTable.load(tmp_path / "nope.json")


def test_compute_cost_prices_usage_unless_a_cost_is_given(shipped: PricingTable) -> None:
    event = UsageEvent(guild_id=1, user_id=2, feature="write", model="davinci-002", input_tokens=500_000)
    assert compute_cost(shipped, event) == D("1")
    given = event.model_copy(update={"cost_usd": D("0.123456789012345")})
    assert compute_cost(shipped, given) == D("0.1234567890")
