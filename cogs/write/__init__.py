"""The /write feature: text completions streamed into Discord, with Stop, Regenerate, Continue.

`setup` registers the cog and the buttons' dynamic items (so old buttons work after a restart).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.write.cog import WriteCog
from cogs.write.feature import FEATURE
from cogs.write.views import AnswerButton

if TYPE_CHECKING:
    from bot.app import OpenAIBot


async def setup(bot: OpenAIBot) -> None:
    await bot.add_cog(WriteCog(bot))
    bot.add_dynamic_items(AnswerButton)


async def teardown(bot: OpenAIBot) -> None:
    bot.remove_dynamic_items(AnswerButton)


__all__ = ["FEATURE", "setup", "teardown"]
