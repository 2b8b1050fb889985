"""The moderation feature's declaration: per-server settings (thresholds, channels, actions), needs, help.
The core reads it through `bot.features`; nothing in `bot/` names this feature."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.features import Feature, FeatureSettings

#: Every category the moderation models score (omni models add the illicit ones).
CATEGORIES: tuple[str, ...] = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
#: About the author's own safety: moderators are told, the author is never punished by default.
SELF_HARM_CATEGORIES: frozenset[str] = frozenset(c for c in CATEGORIES if c.startswith("self-harm"))
#: Score from which a category counts as flagged (and is logged) unless a server sets its own.
DEFAULT_THRESHOLD = 0.5

Punishment = Literal["delete", "warn", "timeout"]


class ActionRule(BaseModel):
    """At `min_score` or more in one of `categories` (empty: any category), take these actions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: tuple[str, ...] = ()
    min_score: float = Field(ge=0.0, le=1.0, allow_inf_nan=False)
    delete: bool = False
    warn: bool = False
    #: Minutes of timeout; 0 for none. Discord allows at most 28 days.
    timeout_minutes: int = Field(default=0, ge=0, le=28 * 24 * 60)

    @field_validator("categories")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in value if c not in CATEGORIES]
        if unknown:
            raise ValueError(f"unknown categories {unknown}; known: {', '.join(CATEGORIES)}")
        return tuple(sorted(set(value)))


DEFAULT_RULES: tuple[ActionRule, ...] = (
    # Very likely violations are removed and the author is told why.
    ActionRule(min_score=0.9, delete=True, warn=True),
    # Threats and harassment at that level also cost ten minutes of silence.
    ActionRule(
        categories=("harassment", "harassment/threatening", "hate/threatening"),
        min_score=0.9,
        delete=True,
        timeout_minutes=10,
    ),
)


class ModerationSettings(FeatureSettings):
    """Per-server moderation settings; the defaults apply until an admin changes one."""

    #: Off until a server's admins turn it on: it reads every message.
    enabled: bool = False
    #: Channels checked; empty checks every channel the bot can see (minus `exclude_channel_ids`).
    include_channel_ids: tuple[int, ...] = ()
    exclude_channel_ids: tuple[int, ...] = ()
    #: Members with one of these roles are never checked.
    exempt_role_ids: tuple[int, ...] = ()
    #: Per-category score from which a message is flagged and logged (others: DEFAULT_THRESHOLD).
    thresholds: dict[str, float] = Field(default_factory=dict)
    #: What to do beyond logging, by category and score.
    rules: tuple[ActionRule, ...] = DEFAULT_RULES
    #: Self-harm categories only notify moderators, whatever the rules say.
    self_harm_notify_only: bool = True
    #: The bot's own AI output (answers, chat, transcripts) is checked the same way before it is
    #: posted in full, so the bot never posts what the server's rules forbid.
    check_bot_output: bool = True
    #: Days the excerpt of a flagged message is kept in the audit table.
    keep_excerpt_days: int = Field(default=30, ge=1, le=365)

    @field_validator("thresholds")
    @classmethod
    def _valid_thresholds(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = [c for c in value if c not in CATEGORIES]
        if unknown:
            raise ValueError(f"unknown categories {unknown}; known: {', '.join(CATEGORIES)}")
        if any(not 0.0 <= v <= 1.0 for v in value.values()):
            raise ValueError("thresholds are scores between 0 and 1")
        return value

    def threshold(self, category: str) -> float:
        return self.thresholds.get(category, DEFAULT_THRESHOLD)

    def checks_channel(self, channel_id: int, parent_id: int | None = None) -> bool:
        """Threads follow their parent channel's inclusion and exclusion."""
        ids = {channel_id} if parent_id is None else {channel_id, parent_id}
        if ids & set(self.exclude_channel_ids):
            return False
        return not self.include_channel_ids or bool(ids & set(self.include_channel_ids))


FEATURE = Feature(
    name="moderation",
    settings=ModerationSettings,
    model_setting="moderation_model",
    intents=frozenset({"message_content"}),
    permissions=frozenset(
        {"view_channel", "send_messages", "manage_messages", "moderate_members", "read_message_history"}
    ),
    help_key="feature.moderation.help",
    migrations=Path(__file__).parent / "migrations",
    locales=Path(__file__).parent / "locales",
)
