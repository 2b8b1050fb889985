"""Transcription: voice messages and audio files turned into text, on request or automatically.

`setup` registers the cog and the Delete button's dynamic item (so it works after a restart).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.transcribe.cog import TranscribeCog
from cogs.transcribe.feature import FEATURE
from cogs.transcribe.views import DeleteButton

if TYPE_CHECKING:
    from bot.app import OpenAIBot


async def setup(bot: OpenAIBot) -> None:
    await bot.add_cog(TranscribeCog(bot))
    bot.add_dynamic_items(DeleteButton)


async def teardown(bot: OpenAIBot) -> None:
    bot.remove_dynamic_items(DeleteButton)


__all__ = ["FEATURE", "setup", "teardown"]
