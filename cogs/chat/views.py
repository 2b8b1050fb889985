"""The /chat buttons: Stop (while an answer streams), Regenerate and End (on a finished answer).

Buttons are DynamicItems whose custom ids carry the conversation id, so they keep working after a
restart: what they act on lives in the database.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import discord

from bot.i18n import t

Action = Literal["stop", "regen", "end"]
_STYLES: dict[str, discord.ButtonStyle] = {
    "stop": discord.ButtonStyle.danger,
    "regen": discord.ButtonStyle.secondary,
    "end": discord.ButtonStyle.secondary,
}
_ACTIONS: dict[str, Action] = {"stop": "stop", "regen": "regen", "end": "end"}
_EMOJI = {"stop": "⏹️", "regen": "🔁", "end": "🏁"}


class ChatButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"chat:(?P<action>stop|regen|end):(?P<cid>[0-9]+)",
):
    def __init__(self, action: Action, conversation_id: int, locale: str) -> None:
        self.action: Action = action
        self.conversation_id = conversation_id
        super().__init__(
            discord.ui.Button(
                label=t(f"chat.button.{action}", locale),
                style=_STYLES[action],
                emoji=_EMOJI[action],
                custom_id=f"chat:{action}:{conversation_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ChatButton:
        # The label is not shown again, so the locale used to rebuild the item does not matter.
        return cls(_ACTIONS[match["action"]], int(match["cid"]), "en-US")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        cog = interaction.client.get_cog("Chat")
        if cog is None:  # the feature was unloaded while its buttons were still on screen
            return
        await cog.on_button(interaction, self.action, self.conversation_id)


def streaming_view(conversation_id: int, locale: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ChatButton("stop", conversation_id, locale))
    return view


def finished_view(conversation_id: int, locale: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ChatButton("regen", conversation_id, locale))
    view.add_item(ChatButton("end", conversation_id, locale))
    return view
