"""The /config feature: admins read and change every setting the server and its features declare,
with validation, a confirmation before resets, and an audit history."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.config.cog import ConfigCog
from cogs.config.feature import FEATURE

if TYPE_CHECKING:
    from bot.app import OpenAIBot


async def setup(bot: OpenAIBot) -> None:
    await bot.add_cog(ConfigCog(bot))


__all__ = ["FEATURE", "setup"]
