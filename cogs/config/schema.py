"""What /config can change, read from the settings models: the server's own settings and each loaded
feature's. A new feature's fields appear here without /config naming them.

A field's kind decides how it is picked: `*_channel_id(s)` and `*_role_id(s)` with Discord's channel
and role options, `model` / `allowed_models` from the model catalog, everything else typed as text
and converted by the model's own validation.
"""

from __future__ import annotations

import json
import re
import types
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from bot.db import GuildSettings
from bot.features import Feature

if TYPE_CHECKING:
    from bot.app import OpenAIBot

#: The pseudo-feature under which the server-wide settings (language, log channel, budgets) appear.
SERVER = "server"

Kind = Literal["value", "model", "models", "channel", "channels", "role", "roles"]
# Words that set an optional field to "nothing" (no budget, automatic language, bot-wide model).
NONE_WORDS = frozenset({"none", "off", "auto", "-"})
_LIST_SPLIT = re.compile(r"[,\s]+")


def kind_of(name: str) -> Kind:
    if name == "model":
        return "model"
    if name == "allowed_models":
        return "models"
    for suffix, kind in (
        ("_channel_id", "channel"),
        ("_channel_ids", "channels"),
        ("_role_id", "role"),
        ("_role_ids", "roles"),
    ):
        if name.endswith(suffix):
            return kind  # type: ignore[return-value]
    return "value"


def _allows_none(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    return (origin is typing.Union or origin is types.UnionType) and type(None) in typing.get_args(annotation)


def literal_choices(annotation: Any) -> tuple[str, ...]:
    """The allowed strings of a `Literal[...]` field (possibly optional), else ()."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(candidate) is Literal:
            return tuple(str(v) for v in typing.get_args(candidate))
    return ()


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    kind: Kind
    default: Any
    optional: bool
    annotation: Any

    @property
    def is_bool(self) -> bool:
        return self.annotation is bool

    @property
    def is_money(self) -> bool:
        return self.name.endswith("_usd")


@dataclass(frozen=True, slots=True)
class Target:
    """The server's settings or one feature's: a name, its model and the settings it shows."""

    name: str
    model: type[BaseModel]
    feature: Feature | None

    def settings(self) -> list[Setting]:
        found = []
        for name, info in self.model.model_fields.items():
            kind = kind_of(name)
            # A feature that uses no model has nothing to pick with `model` / `allowed_models`.
            if kind in ("model", "models") and (self.feature is None or self.feature.model_setting is None):
                continue
            found.append(
                Setting(name, kind, info.get_default(), _allows_none(info.annotation), info.annotation)
            )
        return found

    def setting(self, name: str) -> Setting | None:
        return next((s for s in self.settings() if s.name == name), None)


def targets(bot: OpenAIBot, *, exclude: str) -> list[Target]:
    """The server's settings, then every loaded feature's in load order (but /config's own)."""
    found = [Target(SERVER, GuildSettings, None)]
    found += [Target(f.name, f.settings, f) for f in bot.features if f.name != exclude]
    return found


class UnparsableValue(ValueError):
    """What an admin typed has not even the shape the setting needs; `reason_key` says which."""

    def __init__(self, reason_key: str) -> None:
        super().__init__(reason_key)
        self.reason_key = reason_key


def parse_text(setting: Setting, text: str) -> Any:
    """Turn what an admin typed into the value handed to the model's validation (which converts
    numbers, booleans and decimals and says what is wrong).

    Structured settings (a mapping, or a list of rules) take JSON, and a mapping also takes
    `key=value, key=value` (e.g. moderation thresholds: `harassment=0.4, violence=0.8`).
    """
    stripped = text.strip()
    if setting.optional and stripped.lower() in NONE_WORDS:
        return None
    if stripped[:1] in ("{", "[") and (_is_mapping(setting.annotation) or _holds_models(setting.annotation)):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            raise UnparsableValue("config.reason.json") from None
    if _is_mapping(setting.annotation):
        if stripped.lower() in NONE_WORDS:
            return {}
        pairs = [part.split("=", 1) for part in re.split(r"[,;]\s*", stripped) if part.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise UnparsableValue("config.reason.pairs")
        return {key.strip(): value.strip() for key, value in pairs}
    if setting.kind == "models" or typing.get_origin(setting.annotation) is tuple:
        if stripped.lower() in NONE_WORDS:
            return []  # an empty list: for allowed_models, every model
        return [part for part in _LIST_SPLIT.split(stripped) if part]
    return stripped


def _is_mapping(annotation: Any) -> bool:
    return typing.get_origin(annotation) is dict


def _holds_models(annotation: Any) -> bool:
    """A tuple or list of pydantic models (e.g. moderation's action rules): typed as JSON."""
    return typing.get_origin(annotation) in (tuple, list) and any(
        isinstance(arg, type) and issubclass(arg, BaseModel) for arg in typing.get_args(annotation)
    )


class Values:
    """Reads and writes one server's settings of a target through the bot's repositories."""

    def __init__(self, bot: OpenAIBot, guild_id: int) -> None:
        self._bot = bot
        self._guild_id = guild_id

    async def read(self, target: Target) -> tuple[BaseModel, set[str]]:
        """The settings and the names that differ from the defaults (changed by an admin)."""
        if target.feature is None:
            server = await self._bot.guild_settings.get(self._guild_id)
            defaults = GuildSettings()
            return server, {
                n for n in GuildSettings.model_fields if getattr(server, n) != getattr(defaults, n)
            }
        settings = await self._bot.feature_settings.get(self._guild_id, target.feature)
        overrides = await self._bot.feature_settings.overrides(self._guild_id, target.feature.name)
        return settings, set(overrides) & set(target.model.model_fields)

    async def write(self, target: Target, **changes: Any) -> BaseModel:
        """Apply changes (None: back to the default); ValueError when the model refuses them."""
        if target.feature is None:
            return await self._bot.guild_settings.update(self._guild_id, **changes)
        return await self._bot.feature_settings.update(self._guild_id, target.feature, **changes)


__all__ = [
    "NONE_WORDS",
    "SERVER",
    "Kind",
    "Setting",
    "Target",
    "Values",
    "kind_of",
    "literal_choices",
    "parse_text",
    "targets",
]
