"""The Delete button under a transcription: for the member who sent the audio, or anyone with
Manage Messages. Its custom id carries that member's id, so it works after a restart."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import discord

from bot.discord_io.replies import reply_privately
from bot.i18n import reply_locale, t


class DeleteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"transcribe:delete:(?P<uid>[0-9]+)",
):
    def __init__(self, owner_id: int, locale: str) -> None:
        self.owner_id = owner_id
        super().__init__(
            discord.ui.Button(
                label=t("transcribe.button.delete", locale),
                style=discord.ButtonStyle.secondary,
                emoji="🗑️",
                custom_id=f"transcribe:delete:{owner_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> DeleteButton:
        return cls(int(match["uid"]), "en-US")  # the label is not shown again

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        allowed = interaction.user.id == self.owner_id or interaction.permissions.manage_messages
        if not allowed or interaction.message is None:
            await reply_privately(
                interaction, t("transcribe.button.not_yours", reply_locale(interaction, None))
            )
            return
        await interaction.response.defer()
        with contextlib.suppress(discord.NotFound):
            await interaction.message.delete()


def delete_view(owner_id: int, locale: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(DeleteButton(owner_id, locale))
    return view
