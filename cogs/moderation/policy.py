"""What a server's settings make of a message's scores: which categories are flagged, what is done.
Pure functions over `ModerationSettings`, so every decision is testable without Discord."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cogs.moderation.feature import SELF_HARM_CATEGORIES, ModerationSettings


@dataclass(frozen=True, slots=True)
class Verdict:
    #: Category -> score, for categories at or above the server's threshold (highest first).
    flagged: dict[str, float]
    delete: bool = False
    warn: bool = False
    timeout_minutes: int = 0

    @property
    def is_flagged(self) -> bool:
        return bool(self.flagged)

    @property
    def punishes(self) -> bool:
        return self.delete or self.warn or self.timeout_minutes > 0

    def actions(self) -> list[str]:
        """Action names in the order they are taken; "log" always comes with a flag."""
        names = ["log"] if self.flagged else []
        if self.delete:
            names.append("delete")
        if self.warn:
            names.append("warn")
        if self.timeout_minutes:
            names.append("timeout")
        return names


def decide(scores: Mapping[str, float], settings: ModerationSettings) -> Verdict:
    flagged = {category: score for category, score in scores.items() if score >= settings.threshold(category)}
    flagged = dict(sorted(flagged.items(), key=lambda item: -item[1]))
    delete = warn = False
    timeout = 0
    for rule in settings.rules:
        for category, score in scores.items():
            if score < rule.min_score or (rule.categories and category not in rule.categories):
                continue
            if settings.self_harm_notify_only and category in SELF_HARM_CATEGORIES:
                continue
            # A rule only acts on what is flagged: a server raising a threshold silences it.
            if category not in flagged:
                continue
            delete |= rule.delete
            warn |= rule.warn
            timeout = max(timeout, rule.timeout_minutes)
    return Verdict(flagged, delete, warn, timeout)
