"""The /imagine buttons (Regenerate, Variation of one image, Delete) and the Edit image form.

Buttons are DynamicItems whose custom ids carry the request id (and the image's position for a
Variation), so they keep working after a restart: the request's parameters live in the database.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

import discord

from bot.i18n import t
from cogs.imagine.feature import MAX_PROMPT_CHARS

if TYPE_CHECKING:
    from cogs.imagine.cog import ImagineCog

Action = Literal["regen", "var", "del"]
_ACTIONS: dict[str, Action] = {"regen": "regen", "var": "var", "del": "del"}
_STYLES = {"regen": discord.ButtonStyle.secondary, "var": discord.ButtonStyle.primary}
_EMOJI = {"regen": "🔁", "var": "🎨", "del": "🗑️"}


class ImageButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"imagine:(?P<action>regen|var|del):(?P<rid>[0-9]+)(?::(?P<index>[0-9]))?",
):
    def __init__(self, action: Action, request_id: int, locale: str, index: int = 0, label: str = "") -> None:
        self.action: Action = action
        self.request_id = request_id
        self.index = index
        custom_id = f"imagine:{action}:{request_id}" + (f":{index}" if action == "var" else "")
        super().__init__(
            discord.ui.Button(
                label=label or t(f"imagine.button.{action}", locale),
                style=_STYLES.get(action, discord.ButtonStyle.danger),
                emoji=_EMOJI[action],
                custom_id=custom_id,
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ImageButton:
        # The label is not shown again, so the locale used to rebuild the item does not matter.
        return cls(_ACTIONS[match["action"]], int(match["rid"]), "en-US", int(match["index"] or 0))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        cog = interaction.client.get_cog("Imagine")
        if cog is None:  # the feature was unloaded while its buttons were still on screen
            return
        await cog.on_button(interaction, self.action, self.request_id, self.index)


def result_view(request_id: int, images: int, locale: str, *, can_vary: bool) -> discord.ui.View:
    """Regenerate and Delete; a Variation button per image (numbered when there are several)."""
    view = discord.ui.View(timeout=None)
    view.add_item(ImageButton("regen", request_id, locale))
    if can_vary:
        for index in range(images):
            label = t("imagine.button.var", locale)
            if images > 1:
                label = t("imagine.button.var_n", locale, n=index + 1)
            view.add_item(ImageButton("var", request_id, locale, index, label))
    view.add_item(ImageButton("del", request_id, locale))
    return view


class EditImageModal(discord.ui.Modal):
    """The Edit image context menu's form: what to change in the message's first image."""

    def __init__(self, cog: ImagineCog, message: discord.Message, locale: str) -> None:
        super().__init__(title=t("imagine.modal.title", locale), timeout=15 * 60)
        self._cog = cog
        self._message = message
        self.prompt: discord.ui.TextInput[EditImageModal] = discord.ui.TextInput(
            label=t("imagine.modal.label", locale),
            placeholder=t("imagine.modal.placeholder", locale),
            style=discord.TextStyle.paragraph,
            custom_id="prompt",
            min_length=1,
            max_length=MAX_PROMPT_CHARS,
        )
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self._cog.edit_message_image(interaction, self._message, self.prompt.value)

    async def on_error(  # type: ignore[override]  # Modal.on_error takes no item argument
        self, interaction: discord.Interaction[Any], error: Exception
    ) -> None:
        await self._cog.report_error(interaction, error)
