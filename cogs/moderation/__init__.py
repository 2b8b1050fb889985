"""Automatic moderation of channel messages: batched, paced, configurable, auditable, never losing one.

`setup` registers the cog and the buttons' dynamic items (so log and appeal buttons work after a restart).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.moderation.cog import ModerationCog
from cogs.moderation.feature import FEATURE
from cogs.moderation.views import ModerationButton

if TYPE_CHECKING:
    from bot.app import OpenAIBot


async def setup(bot: OpenAIBot) -> None:
    await bot.add_cog(ModerationCog(bot))
    bot.add_dynamic_items(ModerationButton)


async def teardown(bot: OpenAIBot) -> None:
    bot.remove_dynamic_items(ModerationButton)


__all__ = ["FEATURE", "setup", "teardown"]
