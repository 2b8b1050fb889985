"""The /imagine feature: images generated or edited by the model, with live previews, in one message.

`setup` registers the cog and the buttons' dynamic items (so old buttons work after a restart).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.imagine.cog import ImagineCog
from cogs.imagine.feature import FEATURE
from cogs.imagine.views import ImageButton

if TYPE_CHECKING:
    from bot.app import OpenAIBot


async def setup(bot: OpenAIBot) -> None:
    await bot.add_cog(ImagineCog(bot))
    bot.add_dynamic_items(ImageButton)


async def teardown(bot: OpenAIBot) -> None:
    bot.remove_dynamic_items(ImageButton)


__all__ = ["FEATURE", "setup", "teardown"]
