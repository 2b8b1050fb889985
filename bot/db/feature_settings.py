"""Per-server settings of each feature: stored overrides as JSON, validated by the feature's model.
A row holds only what an admin changed, so a feature's new defaults reach every other server."""

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


class FeatureSettingsRepo:
    """Reads and writes (guild, feature) overrides; every query is keyed by guild id."""

    def __init__(self, db: Database) -> None:
        self._db = db

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
        return _validated(feature, guild_id, await self.overrides(guild_id, feature.name))

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
        log.info("guild %d feature %s settings updated: %s", guild_id, feature.name, sorted(changes))
        return settings

    async def reset(self, guild_id: int, feature: Feature) -> FeatureSettings:
        async with self._db.transaction() as conn:
            await conn.execute_fetchall(
                "DELETE FROM feature_settings WHERE guild_id = ? AND feature = ?", (guild_id, feature.name)
            )
        return feature.settings()


__all__ = ["FeatureSettingsRepo"]
