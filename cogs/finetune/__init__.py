"""The fine-tuning feature: /files and /finetune for Manage Server, jobs followed to the end.

`setup` registers the cog and the Use in /write buttons (so they work after a restart).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.finetune.cog import FineTuningCog
from cogs.finetune.feature import FEATURE
from cogs.finetune.views import UseModelButton

if TYPE_CHECKING:
    from bot.app import OpenAIBot


async def setup(bot: OpenAIBot) -> None:
    await bot.add_cog(FineTuningCog(bot))
    bot.add_dynamic_items(UseModelButton)


async def teardown(bot: OpenAIBot) -> None:
    bot.remove_dynamic_items(UseModelButton)


__all__ = ["FEATURE", "setup", "teardown"]
