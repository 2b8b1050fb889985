"""User-facing error types raised by cogs and checks, each mapped to a catalog message.

The tree-level handler in `bot.error_handler` turns these into short localized ephemeral replies.
"""

from __future__ import annotations

import math
from typing import Any

from discord import app_commands


class UserFacingError(app_commands.AppCommandError):
    """An error whose message is meant for the member; `key` names the catalog entry."""

    key = "error.generic"

    def __init__(self, **params: Any) -> None:
        self.params = params
        super().__init__(self.key)


class FeatureDisabled(UserFacingError):
    key = "error.feature_disabled"

    def __init__(self, feature: str) -> None:
        super().__init__(feature=feature)


class FeatureUnavailable(UserFacingError):
    """Discord refused a gateway intent the feature needs, so it is off in every server."""

    key = "error.feature_unavailable"

    def __init__(self, feature: str) -> None:
        super().__init__(feature=feature)


class Cooldown(UserFacingError):
    """The member must wait before using the command again."""

    key = "error.cooldown"

    def __init__(self, seconds: float) -> None:
        # Whole seconds, never "0 s": a member told to wait 0 s would try at once and be refused.
        super().__init__(seconds=str(max(1, math.ceil(seconds))))


class BudgetExhausted(UserFacingError):
    key = "error.budget_exhausted"


class NotInGuild(UserFacingError):
    key = "error.guild_only"


class BotMissingChannelPermissions(UserFacingError):
    """The bot lacks a permission in this channel; `permissions` are discord.py flag names."""

    key = "error.bot_missing_permissions"

    def __init__(self, permissions: list[str]) -> None:
        super().__init__(permissions=list(permissions))
