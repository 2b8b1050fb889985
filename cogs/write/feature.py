"""The /write feature's declaration: its per-server settings, default model, needs and help entry.
The core reads it through `bot.features`; nothing in `bot/` names this feature."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from bot.features import Feature, FeatureSettings


class WriteSettings(FeatureSettings):
    """Per-server /write settings; the defaults here apply until an admin changes one."""

    #: Seconds a member waits between two answers they start.
    cooldown_seconds: float = Field(default=5.0, ge=0, le=3600, allow_inf_nan=False)
    #: Longest answer a member may ask for, in tokens.
    max_tokens: int = Field(default=1024, ge=1, le=128_000)


FEATURE = Feature(
    name="write",
    settings=WriteSettings,
    model_setting="completion_model",
    permissions=frozenset({"view_channel", "send_messages", "attach_files"}),
    help_key="feature.write.help",
    migrations=Path(__file__).parent / "migrations",
)
