"""The fine-tuning feature's buttons: Start/Cancel under an estimate, a confirmation for cancelling
a job, and Use in /write (and Make default) under a tuned model, which work after a restart."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

import discord

from bot.i18n import t

if TYPE_CHECKING:
    from cogs.finetune.store import JobRow

UseAction = Literal["add", "default"]
Answer = Callable[[discord.Interaction[Any]], Awaitable[None]]

#: How long an estimate's or a confirmation's buttons stay usable.
CONFIRM_SECONDS = 600.0


class ConfirmView(discord.ui.View):
    """Two buttons for one member: `confirm` runs on the first, `decline` on the second."""

    def __init__(
        self,
        user_id: int,
        locale: str,
        confirm_label: str,
        decline_label: str,
        confirm: Answer,
        decline: Answer,
    ) -> None:
        super().__init__(timeout=CONFIRM_SECONDS)
        self._user_id = user_id
        self._locale = locale
        self._confirm = confirm
        self._decline = decline
        go: discord.ui.Button[ConfirmView] = discord.ui.Button(
            label=confirm_label, style=discord.ButtonStyle.success
        )
        stop: discord.ui.Button[ConfirmView] = discord.ui.Button(
            label=decline_label, style=discord.ButtonStyle.secondary
        )
        go.callback = self._on_confirm  # type: ignore[method-assign]
        stop.callback = self._on_decline  # type: ignore[method-assign]
        self.add_item(go)
        self.add_item(stop)

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        if interaction.user.id != self._user_id:
            await interaction.response.send_message(
                t("finetune.button.not_yours", self._locale), ephemeral=True
            )
            return False
        return True

    async def _on_confirm(self, interaction: discord.Interaction[Any]) -> None:
        self.stop()
        await self._confirm(interaction)

    async def _on_decline(self, interaction: discord.Interaction[Any]) -> None:
        self.stop()
        await self._decline(interaction)


class UseModelButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"ftuse:(?P<action>add|default):(?P<job>[A-Za-z0-9_-]{1,80})",
):
    def __init__(self, action: UseAction, job_id: str, locale: str) -> None:
        self.action: UseAction = action
        self.job_id = job_id
        super().__init__(
            discord.ui.Button(
                label=t(f"finetune.button.use_{action}", locale),
                style=discord.ButtonStyle.primary if action == "add" else discord.ButtonStyle.secondary,
                custom_id=f"ftuse:{action}:{job_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> UseModelButton:
        action: UseAction = "add" if match["action"] == "add" else "default"
        return cls(action, match["job"], "en-US")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        cog = interaction.client.get_cog("FineTuning")
        if cog is None:  # the feature was unloaded while its buttons were still on screen
            return
        await cog.use_model(interaction, self.job_id, make_default=self.action == "default")


def use_model_view(row: JobRow, locale: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(UseModelButton("add", row.job_id, locale))
    view.add_item(UseModelButton("default", row.job_id, locale))
    return view
