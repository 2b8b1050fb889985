"""The /chat feature: conversations with the model in threads, streamed, with Stop, Regenerate, End.

`setup` registers the cog and the buttons' dynamic items (so old buttons work after a restart).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.chat.cog import ChatCog
from cogs.chat.feature import FEATURE
from cogs.chat.views import ChatButton

if TYPE_CHECKING:
    from bot.app import OpenAIBot


async def setup(bot: OpenAIBot) -> None:
    await bot.add_cog(ChatCog(bot))
    bot.add_dynamic_items(ChatButton)


async def teardown(bot: OpenAIBot) -> None:
    bot.remove_dynamic_items(ChatButton)


__all__ = ["FEATURE", "setup", "teardown"]
