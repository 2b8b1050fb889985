"""Per-server settings of each feature: stored overrides as JSON, validated by the feature's model.
A row holds only what an admin changed, so a feature's new defaults reach every other server.

Settings are read on every command and every /chat turn and change only through this repository
(/config), so each server's validated settings are kept in memory and dropped on every write.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from bot.db.database import Database
from bot.features import Feature, FeatureSettings

log = logging.getLogger(__name__)

SettingsT = TypeVar("SettingsT", bound=FeatureSettings)


def _validated(feature: Feature, guild_id: int, overrides: dict[str, Any]) -> FeatureSettings:
    """The feature's settings from stored overrides; values that no longer validate fall back.

    A stored value can stop validating when a feature tightens a field or drops one; the server
    then gets that field's default (logged), never a crashed command.
    """
    try:
        return feature.settings.model_validate(overrides)
    except ValidationError as exc:
        bad = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        log.warning(
            "guild %d, feature %s: stored %s no longer valid; using the defaults for them",
            guild_id,
            feature.name,
            sorted(bad),
        )
        kept = {key: value for key, value in overrides.items() if key not in bad}
        try:
            return feature.settings.model_validate(kept)
        except ValidationError:
            return feature.settings()


# Servers x features whose settings are kept in memory; beyond that the oldest read is dropped.
MAX_CACHED = 20_000


class FeatureSettingsRepo:
    """Reads and writes (guild, feature) overrides; every query is keyed by guild id.

    The bot's one instance is the only writer of its database's settings, so its cache stays true:
    every write drops the server's entry, and a read that overlapped a write keeps nothing.
    """

    def __init__(self, db: Database, *, max_cached: int = MAX_CACHED) -> None:
        self._db = db
        self._max_cached = max_cached
        #: (guild id, feature name) -> the validated settings, as the feature's model made them.
        self._cache: dict[tuple[int, str], FeatureSettings] = {}
        #: Bumped before and after every write: a read that saw it change caches nothing.
        self._writes = 0

    async def overrides(self, guild_id: int, feature: str) -> dict[str, Any]:
        """What an admin changed for this feature in this server (raw, as stored)."""
        row = await self._db.fetchone(
            "SELECT overrides_json FROM feature_settings WHERE guild_id = ? AND feature = ?",
            (guild_id, feature),
        )
        if row is None:
            return {}
        value = json.loads(row[0])
        return value if isinstance(value, dict) else {}

    async def get(self, guild_id: int, feature: Feature) -> FeatureSettings:
        key = (guild_id, feature.name)
        cached = self._cache.get(key)
        # The same feature name with another model (a test's redefined defaults) is read again.
        if cached is not None and type(cached) is feature.settings:
            return cached
        writes = self._writes
        settings = _validated(feature, guild_id, await self.overrides(guild_id, feature.name))
        if writes == self._writes:
            if len(self._cache) >= self._max_cached and key not in self._cache:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = settings
        return settings

    def _forget(self, guild_id: int, feature: str) -> None:
        self._writes += 1
        self._cache.pop((guild_id, feature), None)

    async def customised(self, feature: Feature) -> dict[int, FeatureSettings]:
        """The settings of every server that changed something of this feature (for background
        jobs that act per server, like purging old data after each server's retention)."""
        rows = await self._db.fetchall(
            "SELECT guild_id, overrides_json FROM feature_settings WHERE feature = ?", (feature.name,)
        )
        return {int(row[0]): _validated(feature, int(row[0]), json.loads(row[1]) or {}) for row in rows}

    async def update(self, guild_id: int, feature: Feature, **changes: Any) -> FeatureSettings:
        """Apply changes (a None value resets that field to the feature's default) and return the
        new settings. Raises ValueError, with pydantic's description, when a value is invalid."""
        # Read-modify-write in one transaction, so two admins' concurrent edits cannot be lost.
        self._forget(guild_id, feature.name)
        try:
            settings = await self._update(guild_id, feature, changes)
        finally:
            self._forget(guild_id, feature.name)
        log.info("guild %d feature %s settings updated: %s", guild_id, feature.name, sorted(changes))
        return settings

    async def _update(self, guild_id: int, feature: Feature, changes: dict[str, Any]) -> FeatureSettings:
        async with self._db.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT overrides_json FROM feature_settings WHERE guild_id = ? AND feature = ?",
                    (guild_id, feature.name),
                )
            )
            stored = json.loads(rows[0][0]) if rows else {}
            merged = {key: value for key, value in {**stored, **changes}.items() if value is not None}
            try:
                settings = feature.settings.model_validate(merged)
            except ValidationError as exc:
                raise ValueError(str(exc)) from None
            # Store only the fields set explicitly, in their validated form.
            overrides = settings.model_dump(mode="json", include=set(merged))
            if overrides:
                await conn.execute_fetchall(
                    "INSERT INTO feature_settings (guild_id, feature, overrides_json, updated_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (guild_id, feature) DO UPDATE SET"
                    " overrides_json = excluded.overrides_json, updated_at = excluded.updated_at",
                    (
                        guild_id,
                        feature.name,
                        json.dumps(overrides, sort_keys=True),
                        datetime.now(UTC).isoformat(),
                    ),
                )
            else:
                await conn.execute_fetchall(
                    "DELETE FROM feature_settings WHERE guild_id = ? AND feature = ?",
                    (guild_id, feature.name),
                )
        return settings

    async def reset(self, guild_id: int, feature: Feature) -> FeatureSettings:
        self._forget(guild_id, feature.name)
        try:
            async with self._db.transaction() as conn:
                await conn.execute_fetchall(
                    "DELETE FROM feature_settings WHERE guild_id = ? AND feature = ?",
                    (guild_id, feature.name),
                )
        finally:
            self._forget(guild_id, feature.name)
        return feature.settings()


__all__ = ["FeatureSettingsRepo"]
