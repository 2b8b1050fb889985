"""The pricing table: loading and validating pricing.json, and pricing one call's usage.
Prices are Decimal end to end; a model missing from the table costs 0 (self-hosted servers)."""

from __future__ import annotations

import json
import logging
import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

log = logging.getLogger(__name__)

#: Costs are kept to 1e-10 USD: exact for every list price per token, image or audio second.
COST_PLACES = 10
COST_QUANTUM = Decimal(1).scaleb(-COST_PLACES)
_ONE_MILLION = Decimal(1_000_000)
_SIXTY = Decimal(60)
# A dated snapshot ("gpt-4o-transcribe-2025-03-20", "gpt-3.5-turbo-instruct-0914") costs what its
# alias costs unless the table lists it separately.
_SNAPSHOT = re.compile(r"^(?P<base>.+?)-(?:\d{4}-\d{2}-\d{2}|\d{4})$")

Price = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
ImageSize = Annotated[str, Field(pattern=r"^\d+x\d+$")]


class PricingError(Exception):
    """The pricing file is missing, is not JSON, or does not match the expected shape."""


def quantize_usd(value: Decimal) -> Decimal:
    """Round a cost to COST_PLACES decimal places, half up, the single rounding rule for costs."""
    return value.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)


class ModelPrice(BaseModel):
    """Prices of one model; absent prices are 0."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_1m: Price = Decimal(0)
    output_per_1m: Price = Decimal(0)
    audio_per_minute: Price = Decimal(0)
    #: Input image tokens (an image edit's source), priced apart from text input by image models.
    image_input_per_1m: Price = Decimal(0)
    #: Fine-tuning: price per 1M trained tokens (examples' tokens times epochs).
    training_per_1m: Price = Decimal(0)
    #: quality -> size -> price per image
    images: dict[str, dict[ImageSize, Price]] = Field(default_factory=dict)
    default_image_quality: str | None = None
    default_image_size: ImageSize | None = None

    @model_validator(mode="after")
    def _defaults_are_priced(self) -> ModelPrice:
        quality, size = self.default_image_quality, self.default_image_size
        if quality is not None and quality not in self.images:
            raise ValueError(f"default_image_quality {quality!r} has no prices in 'images'")
        if size is not None and quality is not None and size not in self.images[quality]:
            raise ValueError(f"default_image_size {size!r} has no price for quality {quality!r}")
        return self

    def image_price(self, size: str | None, quality: str | None) -> Decimal | None:
        """Price of one image, or None when this size/quality pair is not in the table."""
        if quality in (None, "auto"):
            quality = self.default_image_quality
        if size in (None, "auto"):
            size = self.default_image_size
        if quality is None and len(self.images) == 1:
            quality = next(iter(self.images))
        by_size = self.images.get(quality or "")
        if by_size is None or size is None:
            return None
        return by_size.get(size)

    @property
    def max_image_price(self) -> Decimal:
        return max((p for sizes in self.images.values() for p in sizes.values()), default=Decimal(0))


class PricingFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prices_read_on: date
    currency: Literal["USD"]
    note: str = ""
    models: dict[str, ModelPrice]


class PricingTable:
    """Prices per model; build with `PricingTable.load()` (shipped file) or `load(path)`."""

    def __init__(self, data: PricingFile, source: str) -> None:
        self._data = data
        self.source = source
        # Unknown models and unpriced image variants are logged once each, not on every call.
        self._warned: set[tuple[str, ...]] = set()

    @classmethod
    def load(cls, path: str | Path | None = None) -> PricingTable:
        """Load and validate a pricing file; None means the one shipped with the package.

        Settings' PRICING_PATH is passed here as `path`. Raises PricingError with the file name,
        and for a shape error every offending field, so a bad file is fixed in one go.
        """
        if path is None:
            source = "bot/usage/pricing.json (shipped)"
            text = resources.files("bot.usage").joinpath("pricing.json").read_text(encoding="utf-8")
        else:
            source = str(path)
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise PricingError(f"cannot read pricing file {source}: {exc.strerror or exc}") from exc
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PricingError(
                f"pricing file {source} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from exc
        return cls.from_dict(raw, source=source)

    @classmethod
    def from_dict(cls, raw: Any, *, source: str = "<dict>") -> PricingTable:
        try:
            data = PricingFile.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in err['loc']) or '(top level)'}: {err['msg']}"
                for err in exc.errors()
            )
            raise PricingError(f"pricing file {source} is invalid: {problems}") from exc
        table = cls(data, source)
        log.info(
            "loaded prices for %d models from %s (read on %s)", len(data.models), source, data.prices_read_on
        )
        return table

    @property
    def prices_read_on(self) -> date:
        return self._data.prices_read_on

    @property
    def models(self) -> dict[str, ModelPrice]:
        return dict(self._data.models)

    def price_for(self, model: str) -> ModelPrice | None:
        if model.startswith("ft:"):
            # A tuned model ("ft:gpt-4o-mini-2024-07-18:org:suffix:id") has its own, higher prices,
            # listed as "ft:<base>"; never its base model's.
            return self._lookup("ft:" + model[3:].split(":", 1)[0])
        return self._lookup(model)

    def _lookup(self, model: str) -> ModelPrice | None:
        price = self._data.models.get(model)
        if price is None and (match := _SNAPSHOT.match(model)):
            price = self._data.models.get(match.group("base"))
        return price

    def training_cost(self, model: str, trained_tokens: int) -> Decimal:
        """What training `model` (a base model or snapshot) on `trained_tokens` costs; 0 if unpriced."""
        price = self._lookup(model)
        if price is None:
            self._warn_once((model, "training"), "no training price for %r in %s", model, self.source)
            return quantize_usd(Decimal(0))
        with localcontext() as ctx:
            ctx.prec = 50
            return quantize_usd(trained_tokens * price.training_per_1m / _ONE_MILLION)

    def knows(self, model: str) -> bool:
        return self.price_for(model) is not None

    def cost(
        self,
        model: str,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        images: int = 0,
        image_size: str | None = None,
        image_quality: str | None = None,
        audio_seconds: float | Decimal = 0,
    ) -> Decimal:
        """Usage times price, exact, quantized to COST_PLACES. Never raises for unknown models."""
        price = self.price_for(model)
        if price is None:
            self._warn_once(
                (model,), "no price for model %r in %s: its usage is recorded at cost 0", model, self.source
            )
            return quantize_usd(Decimal(0))
        with localcontext() as ctx:
            ctx.prec = 50  # far beyond any realistic usage, so only quantize_usd rounds
            total = (
                input_tokens * price.input_per_1m / _ONE_MILLION
                + output_tokens * price.output_per_1m / _ONE_MILLION
                # str() keeps the seconds exactly as reported (0.1 stays 0.1, not its binary float).
                + Decimal(str(audio_seconds)) * price.audio_per_minute / _SIXTY
            )
            if images:
                total += images * self._image_price(model, price, image_size, image_quality)
            return quantize_usd(total)

    def _image_price(self, model: str, price: ModelPrice, size: str | None, quality: str | None) -> Decimal:
        per_image = price.image_price(size, quality)
        if per_image is not None:
            return per_image
        # Charging the model's dearest image keeps budgets on the safe side of an unknown variant.
        fallback = price.max_image_price
        self._warn_once(
            (model, str(size), str(quality)),
            "no image price for %r size=%s quality=%s in %s: charging %s per image",
            model,
            size,
            quality,
            self.source,
            fallback,
        )
        return fallback

    def _warn_once(self, key: tuple[str, ...], msg: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(msg, *args)
