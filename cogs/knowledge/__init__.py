"""The knowledge feature: a per-server knowledge base on embeddings (/kb) and /ask answering from it.

`setup` registers the cog, which adds its message context menu to the command tree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.knowledge.cog import KnowledgeCog
from cogs.knowledge.feature import FEATURE

if TYPE_CHECKING:
    from bot.app import OpenAIBot


async def setup(bot: OpenAIBot) -> None:
    await bot.add_cog(KnowledgeCog(bot))


__all__ = ["FEATURE", "setup"]
