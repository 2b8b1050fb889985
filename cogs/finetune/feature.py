"""The fine-tuning feature's declaration: per-server settings, needs and help entry.
The core reads it through `bot.features`; the ledger records training under the same name."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from bot.features import Feature, FeatureSettings


class FineTuningSettings(FeatureSettings):
    """Per-server fine-tuning settings; `model` is the base model /finetune create uses by default."""

    #: Base model /finetune create tunes when the admin names none (None: they must name one).
    base_model: str | None = Field(default=None, min_length=1, max_length=100)
    #: Training passes over the data when the admin does not say.
    default_epochs: int = Field(default=3, ge=1, le=50)
    #: Longest example, in estimated tokens (OpenAI's training context for current chat models).
    max_example_tokens: int = Field(default=65_536, ge=256, le=1_000_000)


#: Features whose allowed models a tuned model joins when an admin clicks "Use in /write".
MODEL_FEATURES = ("write", "chat")

FEATURE = Feature(
    name="fine_tuning",
    settings=FineTuningSettings,
    permissions=frozenset({"view_channel", "send_messages", "attach_files"}),
    help_key="feature.fine_tuning.help",
    migrations=Path(__file__).parent / "migrations",
    locales=Path(__file__).parent / "locales",
)
