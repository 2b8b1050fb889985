"""A seam for checking the bot's own AI output before it is shown in full: a feature that can judge
text (moderation) registers a reviewer; features that post AI output ask. The core names neither."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

#: (guild id, text) -> the categories the server's rules forbid in it ([] when fine), or None when
#: the text was not reviewed (no reviewer on there, or it could not be checked in time).
Reviewer = Callable[[int, str], Awaitable[list[str] | None]]


class OutputReview:
    """At most one reviewer; without one every text passes unreviewed."""

    def __init__(self) -> None:
        self._reviewer: Reviewer | None = None

    def register(self, reviewer: Reviewer) -> None:
        self._reviewer = reviewer

    def unregister(self, reviewer: Reviewer) -> None:
        if self._reviewer == reviewer:
            self._reviewer = None

    async def forbidden_categories(self, guild_id: int, text: str) -> list[str]:
        """The categories that forbid posting `text` in this server; [] when it may be posted.

        A reviewer that fails is logged and the text passes: the member is not punished for the
        reviewer's outage, and the output was already streamed to the channel in part.
        """
        if self._reviewer is None or not text.strip():
            return []
        try:
            return await self._reviewer(guild_id, text) or []
        except Exception:
            log.exception("Reviewing the bot's output in guild %s failed; posting it unreviewed", guild_id)
            return []


__all__ = ["OutputReview", "Reviewer"]
