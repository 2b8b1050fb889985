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
    #: Days a prompt and its answer are kept for the Regenerate and Continue buttons.
    keep_sessions_days: int = Field(default=30, ge=1, le=365)


# Discord caps option values at 6,000 characters; the command option and the multi-line form both
# cap prompts at 4,000.
MAX_PROMPT_CHARS = 4000
# Continue sends the end of the prompt and answer so far; this many characters (about 3,000 tokens)
# keeps chains from growing without bound and leaves room for the answer in small context windows.
CONTINUE_CONTEXT_CHARS = 12_000


FEATURE = Feature(
    name="write",
    settings=WriteSettings,
    model_setting="completion_model",
    permissions=frozenset({"view_channel", "send_messages", "attach_files"}),
    help_key="feature.write.help",
    migrations=Path(__file__).parent / "migrations",
    locales=Path(__file__).parent / "locales",
)
