"""Server-wide settings that belong to no feature (reply language, log channel), and their repository.
A stored row holds only what an admin changed; per-feature settings live in `feature_settings`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.db.database import Database

log = logging.getLogger(__name__)


class GuildSettings(BaseModel):
    """One server's own settings; the field defaults are what a server gets until it changes one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Answer every member in this language; None follows each member's client language.
    reply_locale: Literal["en-US", "zh-CN"] | None = None
    #: Channel where the bot reports admin-relevant events; None reports nowhere.
    log_channel_id: int | None = None


_FIELDS = tuple(GuildSettings.model_fields)


class GuildSettingsRepo:
    """Reads and writes server-wide settings; every query is keyed by guild id."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, guild_id: int) -> GuildSettings:
        row = await self._db.fetchone(
            "SELECT reply_locale, log_channel_id FROM guild_settings WHERE guild_id = ?", (guild_id,)
        )
        if row is None:
            return GuildSettings()
        stored = {name: row[name] for name in _FIELDS if row[name] is not None}
        try:
            return GuildSettings.model_validate(stored)
        except ValidationError as exc:
            # A value an older version accepted must not break every command of this server.
            log.warning("guild %d: stored settings no longer valid, using defaults: %s", guild_id, exc)
            return GuildSettings()

    async def update(self, guild_id: int, **changes: Any) -> GuildSettings:
        """Apply changes (None resets a field to its default); ValueError names what is wrong."""
        async with self._db.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT reply_locale, log_channel_id FROM guild_settings WHERE guild_id = ?", (guild_id,)
                )
            )
            current = {name: rows[0][name] for name in _FIELDS} if rows else {}
            merged = {k: v for k, v in {**current, **changes}.items() if v is not None}
            try:
                settings = GuildSettings.model_validate(merged)
            except ValidationError as exc:
                raise ValueError(str(exc)) from None
            await conn.execute_fetchall(
                "INSERT INTO guild_settings (guild_id, reply_locale, log_channel_id, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (guild_id) DO UPDATE SET"
                " reply_locale = excluded.reply_locale, log_channel_id = excluded.log_channel_id,"
                " updated_at = excluded.updated_at",
                (guild_id, settings.reply_locale, settings.log_channel_id, datetime.now(UTC).isoformat()),
            )
        log.info("guild %d settings updated: %s", guild_id, sorted(changes))
        return settings

    async def reset(self, guild_id: int) -> GuildSettings:
        async with self._db.transaction() as conn:
            await conn.execute_fetchall("DELETE FROM guild_settings WHERE guild_id = ?", (guild_id,))
        return GuildSettings()


__all__ = ["GuildSettings", "GuildSettingsRepo"]
