"""The /write buttons (Stop, Regenerate, Continue) and the multi-line prompt form.

Buttons are DynamicItems whose custom ids carry the answer's session id, so they keep working
after a restart: the session's parameters live in the database, not in memory.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

import discord

from bot.i18n import t
from cogs.write.feature import MAX_PROMPT_CHARS

if TYPE_CHECKING:
    from cogs.write.cog import WriteCog, WriteOptions

Action = Literal["stop", "regen", "cont"]
_STYLES: dict[str, discord.ButtonStyle] = {
    "stop": discord.ButtonStyle.danger,
    "regen": discord.ButtonStyle.secondary,
    "cont": discord.ButtonStyle.primary,
}
_ACTIONS: dict[str, Action] = {"stop": "stop", "regen": "regen", "cont": "cont"}
_EMOJI = {"stop": "⏹️", "regen": "🔁", "cont": "➡️"}


class AnswerButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"write:(?P<action>stop|regen|cont):(?P<sid>[0-9]+)",
):
    def __init__(self, action: Action, session_id: int, locale: str) -> None:
        self.action: Action = action
        self.session_id = session_id
        super().__init__(
            discord.ui.Button(
                label=t(f"write.button.{action}", locale),
                style=_STYLES[action],
                emoji=_EMOJI[action],
                custom_id=f"write:{action}:{session_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AnswerButton:
        action: Action = _ACTIONS[match["action"]]
        # The label is not shown again, so the locale used to rebuild the item does not matter.
        return cls(action, int(match["sid"]), "en-US")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        cog = interaction.client.get_cog("Write")
        if cog is None:  # the feature was unloaded while its buttons were still on screen
            return
        await cog.on_button(interaction, self.action, self.session_id)


def streaming_view(session_id: int, locale: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(AnswerButton("stop", session_id, locale))
    return view


def finished_view(session_id: int, locale: str, *, can_continue: bool) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(AnswerButton("regen", session_id, locale))
    if can_continue:
        view.add_item(AnswerButton("cont", session_id, locale))
    return view


class PromptModal(discord.ui.Modal):
    """Slash options are single-line; this form takes a multi-line prompt up to 4,000 characters."""

    def __init__(self, cog: WriteCog, options: WriteOptions, locale: str) -> None:
        super().__init__(title=t("write.modal.title", locale), timeout=15 * 60)
        self._cog = cog
        self._options = options
        self.prompt: discord.ui.TextInput[PromptModal] = discord.ui.TextInput(
            label=t("write.modal.label", locale),
            placeholder=t("write.modal.placeholder", locale),
            style=discord.TextStyle.paragraph,
            custom_id="prompt",
            min_length=1,
            max_length=MAX_PROMPT_CHARS,
        )
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self._cog.start_answer(interaction, self._options.with_prompt(self.prompt.value))

    async def on_error(  # type: ignore[override]  # Modal.on_error takes no item argument
        self, interaction: discord.Interaction[Any], error: Exception
    ) -> None:
        await self._cog.report_error(interaction, error)
