"""Server-wide settings that belong to no feature (reply language, log channel, budgets), and their
repository. A stored row holds only what an admin changed; per-feature settings live in `feature_settings`.

They are read by every command and every /chat turn and change only through the repository (/config),
so each server's settings are kept in memory and dropped on every write.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.db.database import Database

log = logging.getLogger(__name__)

# Budgets above this are typing mistakes (and would overflow nothing, but mean nothing either).
MAX_BUDGET_USD = Decimal(1_000_000)


class GuildSettings(BaseModel):
    """One server's own settings; the field defaults are what a server gets until it changes one.

    Budgets are here rather than in a feature's settings because they span every feature that
    spends: one server total and one member total, whichever command spends it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Answer every member in this language; None follows each member's client language.
    reply_locale: Literal["en-US", "zh-CN"] | None = None
    #: Channel where the bot reports admin-relevant events; None reports nowhere.
    log_channel_id: int | None = None
    #: What the whole server may spend per calendar month (UTC), in USD; None: no limit.
    monthly_budget_usd: Decimal | None = Field(
        default=None, ge=0, le=MAX_BUDGET_USD, allow_inf_nan=False, decimal_places=6
    )
    #: What one member may spend per day (UTC), in USD; None: no limit.
    member_daily_budget_usd: Decimal | None = Field(
        default=None, ge=0, le=MAX_BUDGET_USD, allow_inf_nan=False, decimal_places=6
    )
    #: Members with one of these roles have no daily budget (the server's still applies).
    budget_exempt_role_ids: tuple[int, ...] = ()

    @field_validator("budget_exempt_role_ids", mode="before")
    @classmethod
    def _sorted_unique(cls, value: object) -> object:
        if isinstance(value, list | tuple | set | frozenset) and all(isinstance(v, int) for v in value):
            return tuple(sorted(set(value)))
        return value


_FIELDS = tuple(GuildSettings.model_fields)
_COLUMNS = ", ".join(_FIELDS)
# Stored as JSON text: the tuple-valued fields.
_JSON_FIELDS = frozenset({"budget_exempt_role_ids"})


def _to_column(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _JSON_FIELDS:
        return json.dumps(list(value)) if value else None
    if isinstance(value, Decimal):
        return str(value)
    return value


def _from_column(name: str, value: Any) -> Any:
    if value is None:
        return None
    return json.loads(value) if name in _JSON_FIELDS else value


# Servers whose settings are kept in memory; beyond that the oldest read is dropped.
MAX_CACHED = 10_000


class GuildSettingsRepo:
    """Reads and writes server-wide settings; every query is keyed by guild id.

    The bot's one instance is the only writer of its database's settings, so its cache stays true:
    every write drops the server's entry, and a read that overlapped a write keeps nothing.
    """

    def __init__(self, db: Database, *, max_cached: int = MAX_CACHED) -> None:
        self._db = db
        self._max_cached = max_cached
        self._cache: dict[int, GuildSettings] = {}
        #: Bumped before and after every write: a read that saw it change caches nothing.
        self._writes = 0

    async def get(self, guild_id: int) -> GuildSettings:
        cached = self._cache.get(guild_id)
        if cached is not None:
            return cached
        writes = self._writes
        settings = await self._read(guild_id)
        if writes == self._writes:
            if len(self._cache) >= self._max_cached and guild_id not in self._cache:
                self._cache.pop(next(iter(self._cache)))
            self._cache[guild_id] = settings
        return settings

    def _forget(self, guild_id: int) -> None:
        self._writes += 1
        self._cache.pop(guild_id, None)

    async def _read(self, guild_id: int) -> GuildSettings:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM guild_settings WHERE guild_id = ?", (guild_id,)
        )
        if row is None:
            return GuildSettings()
        stored = {name: _from_column(name, row[name]) for name in _FIELDS if row[name] is not None}
        try:
            return GuildSettings.model_validate(stored)
        except ValidationError as exc:
            # A value an older version accepted must not break every command of this server.
            log.warning("guild %d: stored settings no longer valid, using defaults: %s", guild_id, exc)
            return GuildSettings()

    async def update(self, guild_id: int, **changes: Any) -> GuildSettings:
        """Apply changes (None resets a field to its default); ValueError names what is wrong."""
        self._forget(guild_id)
        try:
            settings = await self._update(guild_id, changes)
        finally:
            self._forget(guild_id)
        log.info("guild %d settings updated: %s", guild_id, sorted(changes))
        return settings

    async def _update(self, guild_id: int, changes: dict[str, Any]) -> GuildSettings:
        async with self._db.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    f"SELECT {_COLUMNS} FROM guild_settings WHERE guild_id = ?", (guild_id,)
                )
            )
            current = {name: _from_column(name, rows[0][name]) for name in _FIELDS} if rows else {}
            merged = {k: v for k, v in {**current, **changes}.items() if v is not None}
            try:
                settings = GuildSettings.model_validate(merged)
            except ValidationError as exc:
                raise ValueError(str(exc)) from None
            values = [_to_column(name, getattr(settings, name)) for name in _FIELDS]
            await conn.execute_fetchall(
                f"INSERT INTO guild_settings (guild_id, {_COLUMNS}, updated_at)"
                f" VALUES (?, {', '.join('?' * len(_FIELDS))}, ?) ON CONFLICT (guild_id) DO UPDATE SET "
                + ", ".join(f"{name} = excluded.{name}" for name in (*_FIELDS, "updated_at")),
                (guild_id, *values, datetime.now(UTC).isoformat()),
            )
        return settings

    async def reset(self, guild_id: int) -> GuildSettings:
        self._forget(guild_id)
        try:
            async with self._db.transaction() as conn:
                await conn.execute_fetchall("DELETE FROM guild_settings WHERE guild_id = ?", (guild_id,))
        finally:
            self._forget(guild_id)
        return GuildSettings()


__all__ = ["GuildSettings", "GuildSettingsRepo"]
