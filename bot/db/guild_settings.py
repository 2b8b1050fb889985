"""Per-guild settings: the GuildSettings model, code-side defaults, and the repository.
A stored row holds only a guild's overrides; everything else comes from GuildDefaults."""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from bot.db.database import Database

log = logging.getLogger(__name__)

#: Feature names the bot knows today; plain strings so a new cog needs no change here.
DEFAULT_FEATURES: tuple[str, ...] = (
    "write",
    "imagine",
    "transcribe",
    "moderation",
    "embeddings",
    "files",
    "fine_tuning",
)


class GuildDefaults(BaseModel):
    """What a guild gets when it changed nothing; built by the caller from Settings.

    Model names live in Settings, never here: `models` maps feature -> default model.
    """

    model_config = ConfigDict(frozen=True)

    models: dict[str, str]
    features: tuple[str, ...] = DEFAULT_FEATURES
    #: None enables every known feature by default.
    enabled_features: frozenset[str] | None = None
    reply_locale: str | None = None
    write_cooldown_seconds: float = 5.0
    write_max_tokens: int = 1024

    @model_validator(mode="after")
    def _features_are_known(self) -> GuildDefaults:
        known = set(self.features)
        unknown = (set(self.models) | set(self.enabled_features or ())) - known
        if unknown:
            raise ValueError(f"defaults name unknown features {sorted(unknown)}; known: {sorted(known)}")
        return self

    @classmethod
    def from_models(
        cls,
        *,
        completion: str,
        image: str,
        transcription: str,
        embedding: str,
        moderation: str,
        **kwargs: Any,
    ) -> GuildDefaults:
        """Map Settings' per-kind default models onto the features that use them."""
        models = {
            "write": completion,
            "imagine": image,
            "transcribe": transcription,
            "embeddings": embedding,
            "moderation": moderation,
        }
        return cls(models=models, **kwargs)

    @property
    def default_enabled(self) -> frozenset[str]:
        if self.enabled_features is None:
            return frozenset(self.features)
        return self.enabled_features


class GuildSettings(BaseModel):
    """The effective settings of one guild (defaults merged with its overrides)."""

    model_config = ConfigDict(frozen=True)

    guild_id: int
    enabled_features: frozenset[str]
    models: dict[str, str]
    reply_locale: str | None
    write_cooldown_seconds: float
    write_max_tokens: int
    #: feature -> allowed models; a missing key or empty list allows every model.
    allowed_models: dict[str, list[str]]
    #: True when the guild has a stored row (an admin changed something).
    customised: bool = False

    def is_enabled(self, feature: str) -> bool:
        return feature in self.enabled_features

    def model_for(self, feature: str) -> str:
        try:
            return self.models[feature]
        except KeyError:
            raise KeyError(f"no default model configured for feature {feature!r}") from None

    def allowed_models_for(self, feature: str) -> list[str]:
        return list(self.allowed_models.get(feature, []))

    def is_model_allowed(self, feature: str, model: str) -> bool:
        allowed = self.allowed_models.get(feature)
        return not allowed or model in allowed


@dataclass
class _Overrides:
    features: dict[str, bool] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    allowed_models: dict[str, list[str]] = field(default_factory=dict)
    reply_locale: str | None = None
    write_cooldown_seconds: float | None = None
    write_max_tokens: int | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> _Overrides:
        return cls(
            features=json.loads(row["features_json"]),
            models=json.loads(row["models_json"]),
            allowed_models=json.loads(row["allowed_models_json"]),
            reply_locale=row["reply_locale"],
            write_cooldown_seconds=row["write_cooldown_seconds"],
            write_max_tokens=row["write_max_tokens"],
        )


_UPDATABLE = frozenset(
    {
        "enabled_features",
        "features",
        "models",
        "allowed_models",
        "reply_locale",
        "write_cooldown_seconds",
        "write_max_tokens",
    }
)


class GuildSettingsRepo:
    """Reads and writes guild settings; every query is keyed by guild id."""

    def __init__(self, db: Database, defaults: GuildDefaults) -> None:
        self._db = db
        self._defaults = defaults

    @property
    def defaults(self) -> GuildDefaults:
        return self._defaults

    async def get(self, guild_id: int) -> GuildSettings:
        row = await self._db.fetchone("SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,))
        overrides = _Overrides.from_row(row) if row is not None else _Overrides()
        return self._resolve(guild_id, overrides, customised=row is not None)

    async def update(self, guild_id: int, **changes: Any) -> GuildSettings:
        """Apply changes and return the new effective settings.

        Keys: `enabled_features` (the full enabled set), `features` ({feature: bool}, merged),
        `models` ({feature: model or None to reset}, merged), `allowed_models` ({feature: [models]
        or None/[] to allow all}, merged), `reply_locale`, `write_cooldown_seconds`,
        `write_max_tokens` (None resets a scalar to the default). Raises ValueError on bad input.
        """
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"unknown guild setting(s) {sorted(unknown)}; allowed: {sorted(_UPDATABLE)}")
        # Read-modify-write inside one transaction so two admins' concurrent edits cannot be lost.
        async with self._db.transaction() as conn:
            rows = list(
                await conn.execute_fetchall("SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,))
            )
            overrides = _Overrides.from_row(rows[0]) if rows else _Overrides()
            self._apply(overrides, changes)
            await conn.execute_fetchall(
                "INSERT INTO guild_settings (guild_id, features_json, models_json, allowed_models_json,"
                " reply_locale, write_cooldown_seconds, write_max_tokens, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (guild_id) DO UPDATE SET features_json = excluded.features_json,"
                " models_json = excluded.models_json, allowed_models_json = excluded.allowed_models_json,"
                " reply_locale = excluded.reply_locale,"
                " write_cooldown_seconds = excluded.write_cooldown_seconds,"
                " write_max_tokens = excluded.write_max_tokens, updated_at = excluded.updated_at",
                (
                    guild_id,
                    json.dumps(overrides.features, sort_keys=True),
                    json.dumps(overrides.models, sort_keys=True),
                    json.dumps(overrides.allowed_models, sort_keys=True),
                    overrides.reply_locale,
                    overrides.write_cooldown_seconds,
                    overrides.write_max_tokens,
                    datetime.now(UTC).isoformat(),
                ),
            )
        log.info("guild %d settings updated: %s", guild_id, sorted(changes))
        return self._resolve(guild_id, overrides, customised=True)

    async def reset(self, guild_id: int) -> GuildSettings:
        """Forget every override of a guild; it follows the defaults again."""
        async with self._db.transaction() as conn:
            await conn.execute_fetchall("DELETE FROM guild_settings WHERE guild_id = ?", (guild_id,))
        return self._resolve(guild_id, _Overrides(), customised=False)

    def _resolve(self, guild_id: int, o: _Overrides, *, customised: bool) -> GuildSettings:
        d = self._defaults
        default_on = d.default_enabled
        # Overrides for features no longer known are ignored rather than resurrected.
        enabled = frozenset(f for f in d.features if o.features.get(f, f in default_on))
        return GuildSettings(
            guild_id=guild_id,
            enabled_features=enabled,
            models={**d.models, **o.models},
            reply_locale=o.reply_locale if o.reply_locale is not None else d.reply_locale,
            write_cooldown_seconds=(
                o.write_cooldown_seconds if o.write_cooldown_seconds is not None else d.write_cooldown_seconds
            ),
            write_max_tokens=o.write_max_tokens if o.write_max_tokens is not None else d.write_max_tokens,
            allowed_models={k: list(v) for k, v in o.allowed_models.items() if v},
            customised=customised,
        )

    def _check_feature(self, feature: object) -> str:
        if not isinstance(feature, str) or feature not in self._defaults.features:
            raise ValueError(f"unknown feature {feature!r}; known: {list(self._defaults.features)}")
        return feature

    def _apply(self, o: _Overrides, changes: Mapping[str, Any]) -> None:
        """Validate every change first-to-last and fold it into the overrides (mutates `o`)."""
        if "enabled_features" in changes:
            wanted = {self._check_feature(f) for f in _iterable(changes["enabled_features"])}
            default_on = self._defaults.default_enabled
            # Store only the differences so untouched features keep following the defaults.
            o.features = {
                f: f in wanted for f in self._defaults.features if (f in wanted) != (f in default_on)
            }
        if "features" in changes:
            for feature, enabled in _mapping(changes["features"]).items():
                if not isinstance(enabled, bool):
                    raise ValueError(f"features[{feature!r}] must be true or false, got {enabled!r}")
                o.features[self._check_feature(feature)] = enabled
        if "models" in changes:
            for feature, model in _mapping(changes["models"]).items():
                self._check_feature(feature)
                if model is None:
                    o.models.pop(feature, None)
                else:
                    o.models[feature] = _model_name(model)
        if "allowed_models" in changes:
            for feature, models in _mapping(changes["allowed_models"]).items():
                self._check_feature(feature)
                if not models:
                    o.allowed_models.pop(feature, None)
                else:
                    o.allowed_models[feature] = sorted({_model_name(m) for m in _iterable(models)})
        if "reply_locale" in changes:
            locale = changes["reply_locale"]
            if locale is not None and (not isinstance(locale, str) or not 2 <= len(locale) <= 16):
                raise ValueError(f"reply_locale must be a locale code like 'en-US' or None, got {locale!r}")
            o.reply_locale = locale
        if "write_cooldown_seconds" in changes:
            value = changes["write_cooldown_seconds"]
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"write_cooldown_seconds must be a number, got {value!r}")
                if not math.isfinite(value) or value < 0:
                    raise ValueError(f"write_cooldown_seconds must be >= 0, got {value!r}")
                value = float(value)
            o.write_cooldown_seconds = value
        if "write_max_tokens" in changes:
            value = changes["write_max_tokens"]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"write_max_tokens must be an integer >= 1, got {value!r}")
            o.write_max_tokens = value


def _mapping(value: object) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a mapping of feature -> value, got {type(value).__name__}")
    return value


def _iterable(value: object) -> Iterable[Any]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"expected a collection of names, got {value!r}")
    return value


def _model_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"model names must be non-empty strings, got {value!r}")
    return value.strip()


__all__ = ["DEFAULT_FEATURES", "GuildDefaults", "GuildSettings", "GuildSettingsRepo"]
