"""The ledger's data: one UsageEvent per billable API call, and UsageTotals for a period.
Plain pydantic models, so later features (budget reservations) can extend them with fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_epoch_us(moment: datetime) -> int:
    """Exact integer microseconds since the epoch (floats would round far-future timestamps)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // _MICROSECOND


def from_epoch_us(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


class UsageEvent(BaseModel):
    """What one API call used, as the API reported it (or as estimated, then `estimated=True`).

    `cost_usd=None` means "price it from the pricing table when recorded"; `id` is set by the
    ledger once stored. Naive timestamps are taken to be UTC.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    guild_id: int
    channel_id: int | None = None
    user_id: int
    feature: str = Field(min_length=1)
    model: str = Field(min_length=1)
    request_id: str | None = None
    input_tokens: int = Field(0, ge=0)
    output_tokens: int = Field(0, ge=0)
    images: int = Field(0, ge=0)
    image_size: str | None = None
    image_quality: str | None = None
    audio_seconds: float = Field(0.0, ge=0, allow_inf_nan=False)
    estimated: bool = False
    cost_usd: Decimal | None = Field(None, ge=0, allow_inf_nan=False)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    id: int | None = None

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UsageSums(BaseModel):
    """Sums over a set of events; cost is the exact Decimal sum of the stored costs."""

    model_config = ConfigDict(frozen=True)

    count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    images: int = 0
    audio_seconds: float = 0.0
    cost_usd: Decimal = Decimal(0)
    #: How many of the events carry estimated figures (a reply can mark the total as approximate).
    estimated_count: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class UsageTotals(UsageSums):
    """Totals of one guild (optionally one user / feature) over [since, until), per feature too."""

    guild_id: int
    user_id: int | None = None
    feature: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    by_feature: dict[str, UsageSums] = Field(default_factory=dict)
