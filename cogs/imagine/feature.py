"""The /imagine feature's declaration: its per-server settings, default model, needs and help entry.
The core reads it through `bot.features`; nothing in `bot/` names this feature."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from bot.features import Feature, FeatureSettings

Quality = Literal["auto", "low", "medium", "high", "standard", "hd"]


class ImagineSettings(FeatureSettings):
    """Per-server /imagine settings; the defaults here apply until an admin changes one."""

    #: Seconds a member waits between two requests they start.
    cooldown_seconds: float = Field(default=20.0, ge=0, le=3600, allow_inf_nan=False)
    #: Most images one request may ask for (Discord shows up to 10 per message; 4 keeps costs sane).
    max_n: int = Field(default=4, ge=1, le=4)
    #: Qualities members may pick; `high` costs about 15 times `low`.
    allowed_qualities: tuple[Quality, ...] = ("auto", "low", "medium", "high", "standard", "hd")


# The API caps GPT image prompts at 32,000 characters; Discord option values stop at 6,000, and a
# prompt shown in the reply must leave room for the footer in 2,000 characters anyway.
MAX_PROMPT_CHARS = 4000
MAX_N = 4

FEATURE = Feature(
    name="imagine",
    settings=ImagineSettings,
    model_setting="image_model",
    permissions=frozenset({"view_channel", "send_messages", "attach_files"}),
    help_key="feature.imagine.help",
    migrations=Path(__file__).parent / "migrations",
    locales=Path(__file__).parent / "locales",
)
