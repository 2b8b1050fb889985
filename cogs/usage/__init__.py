"""The /usage feature: usage and cost reports with a chart, budget status, and a CSV export."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.usage.cog import UsageCog
from cogs.usage.feature import FEATURE

if TYPE_CHECKING:
    from bot.app import OpenAIBot


async def setup(bot: OpenAIBot) -> None:
    await bot.add_cog(UsageCog(bot))


__all__ = ["FEATURE", "setup"]
