"""Progress of an ingestion or a re-index: a bar edited at most once a second, and the Cancel button.

Only the member who started the job may cancel it; cancelling stops the embedding requests and
nothing of the document (or of the new index) is stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.discord_io.mentions import NO_PINGS
from bot.discord_io.replies import reply_privately
from bot.i18n import t

log = logging.getLogger(__name__)

BAR_CELLS = 12
# Discord has no documented edit rate; about one edit a second per message is the usual pacing.
EDIT_INTERVAL = 1.0


def progress_bar(done: int, total: int) -> str:
    filled = BAR_CELLS if total <= 0 else min(BAR_CELLS, done * BAR_CELLS // total)
    percent = 100 if total <= 0 else done * 100 // total
    return "▰" * filled + "▱" * (BAR_CELLS - filled) + f" {percent}%"


class CancelView(discord.ui.View):
    def __init__(self, owner_id: int, locale: str, on_cancel: Callable[[], None]) -> None:
        super().__init__(timeout=None)
        self.owner_id = owner_id
        self.locale = locale
        self._on_cancel = on_cancel
        self.cancel.label = t("knowledge.button.cancel", locale)

    @discord.ui.button(style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction[Any], _: discord.ui.Button[CancelView]) -> None:
        if interaction.user.id != self.owner_id:
            await reply_privately(interaction, t("knowledge.error.not_your_job", self.locale))
            return
        self._on_cancel()
        await interaction.response.defer()


#: Edits the message that shows progress: an interaction's `edit_original_response`, or a
#: follow-up message's `edit` (keyword arguments content, view, allowed_mentions).
Edit = Callable[..., Awaitable[object]]


def progress_text(key: str, locale: str, done: int, total: int, **params: Any) -> str:
    return t(key, locale, bar=progress_bar(done, total), done=done, total=total, **params)


class ProgressReporter:
    """Edits the message with the progress bar, at most every EDIT_INTERVAL seconds; the text is the
    catalog `key` (default: adding a document, whose title is `params["title"]`)."""

    def __init__(
        self, edit: Edit, total: int, view: CancelView, key: str = "knowledge.progress", **params: Any
    ) -> None:
        self._edit = edit
        self._key = key
        self._params = params
        self._total = total
        self._view = view
        self._shown_at = 0.0
        self._pending: asyncio.Task[None] | None = None
        self._done = 0

    def text(self) -> str:
        return progress_text(self._key, self._view.locale, self._done, self._total, **self._params)

    async def start(self) -> None:
        await self._show()

    def update(self, done: int) -> None:
        self._done = done
        if self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self._show_paced())

    async def _show_paced(self) -> None:
        wait = self._shown_at + EDIT_INTERVAL - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        await self._show()

    async def _show(self) -> None:
        self._shown_at = time.monotonic()
        try:
            await self._edit(content=self.text(), view=self._view, allowed_mentions=NO_PINGS)
        except discord.HTTPException as exc:
            log.info("Could not show ingestion progress: %s", exc.status)

    async def close(self) -> None:
        """No more progress edits (the final message replaces the bar)."""
        if self._pending is not None:
            self._pending.cancel()
        self._view.stop()
