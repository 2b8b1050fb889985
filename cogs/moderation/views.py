"""Moderation's buttons: Dismiss / Timeout 1 h / Remove timeout on log entries, Appeal in the author's DM,
Accept / Reject on appeals. Custom ids carry the server and audit ids, so they work after a restart."""

from __future__ import annotations

import re
from typing import Any, Literal

import discord

from bot.i18n import t

ButtonAction = Literal["dismiss", "timeout", "untimeout", "appeal", "accept", "reject"]
_STYLES: dict[str, discord.ButtonStyle] = {
    "dismiss": discord.ButtonStyle.secondary,
    "timeout": discord.ButtonStyle.danger,
    "untimeout": discord.ButtonStyle.secondary,
    "appeal": discord.ButtonStyle.primary,
    "accept": discord.ButtonStyle.success,
    "reject": discord.ButtonStyle.danger,
}
_ACTIONS: dict[str, ButtonAction] = {name: name for name in _STYLES}  # type: ignore[misc]


class ModerationButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"mod:(?P<action>dismiss|timeout|untimeout|appeal|accept|reject):(?P<gid>[0-9]+):(?P<aid>[0-9]+)",
):
    def __init__(self, action: ButtonAction, guild_id: int, audit_id: int, locale: str) -> None:
        self.action: ButtonAction = action
        self.guild_id = guild_id
        self.audit_id = audit_id
        super().__init__(
            discord.ui.Button(
                label=t(f"moderation.button.{action}", locale),
                style=_STYLES[action],
                custom_id=f"mod:{action}:{guild_id}:{audit_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ModerationButton:
        # The label is not shown again, so the locale used to rebuild the item does not matter.
        return cls(_ACTIONS[match["action"]], int(match["gid"]), int(match["aid"]), "en-US")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        cog = interaction.client.get_cog("Moderation")
        if cog is None:  # the feature was unloaded while its buttons were still on screen
            return
        await cog.on_button(interaction, self.action, self.guild_id, self.audit_id)


def buttons(actions: tuple[ButtonAction, ...], guild_id: int, audit_id: int, locale: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in actions:
        view.add_item(ModerationButton(action, guild_id, audit_id, locale))
    return view


LOG_BUTTONS: tuple[ButtonAction, ...] = ("dismiss", "timeout", "untimeout")
APPEAL_BUTTONS: tuple[ButtonAction, ...] = ("accept", "reject")
