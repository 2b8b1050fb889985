"""What a feature declares about itself, and the registry of the features this bot process loaded.

A cog package declares one `Feature` as the module attribute `FEATURE`; the core reads features
only through this module and never names one (Red-DiscordBot's `Config.register_guild`: defaults
are declared once, in the feature, and a stored row holds only a server's overrides).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import discord
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.i18n.catalog import add_root as add_catalog_root

log = logging.getLogger(__name__)


class FeatureSettings(BaseModel):
    """Per-server settings every feature has; a feature subclasses it to add its own fields.

    The field defaults are the feature's defaults. A server's stored row holds only the fields an
    admin changed, so a new default reaches every server that did not override it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    #: None follows the bot-wide default model (the Settings field the feature names).
    model: str | None = Field(default=None, min_length=1, max_length=100)
    #: Models members may pick; empty allows every model the API lists.
    allowed_models: tuple[str, ...] = ()

    @field_validator("model", mode="before")
    @classmethod
    def _strip_model(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("allowed_models", mode="before")
    @classmethod
    def _sorted_unique_models(cls, value: object) -> object:
        if isinstance(value, list | tuple | set | frozenset):
            names = {v.strip() for v in value if isinstance(v, str)}
            if len(names) != len(value) and any(not isinstance(v, str) for v in value):
                return value  # let pydantic name the bad item
            return tuple(sorted(n for n in names if n))
        return value

    def is_model_allowed(self, model: str) -> bool:
        return not self.allowed_models or model in self.allowed_models


@dataclass(frozen=True, slots=True)
class Feature:
    """One feature, as its cog package declares it (module attribute `FEATURE`)."""

    #: Stable identifier: storage key, catalog key suffix (`feature.<name>`), log name.
    name: str
    #: The per-server settings model; its defaults are the feature's defaults.
    settings: type[FeatureSettings] = FeatureSettings
    #: Name of the `Settings` field holding the bot-wide default model, if the feature uses one.
    model_setting: str | None = None
    #: Gateway intents the feature needs (`discord.Intents` flag names, e.g. "message_content").
    intents: frozenset[str] = frozenset()
    #: Intents the feature uses when Discord grants them and degrades without: when one is refused
    #: the feature stays available and checks `bot.intents` itself to turn that part off.
    optional_intents: frozenset[str] = frozenset()
    #: Permissions the bot needs for the feature (`discord.Permissions` flag names).
    permissions: frozenset[str] = frozenset()
    #: Catalog key of the feature's one-line /help description.
    help_key: str | None = None
    #: Folder of the feature's own NNNN_name.sql migrations (its tables), run after the core's.
    migrations: Path | None = None
    #: Folder of the feature's catalogs (`<locale>/*.json`), merged with the core's.
    locales: Path | None = None

    def __post_init__(self) -> None:
        unknown_intents = [
            i for i in self.intents | self.optional_intents if i not in discord.Intents.VALID_FLAGS
        ]
        unknown_perms = [p for p in self.permissions if p not in discord.Permissions.VALID_FLAGS]
        if unknown_intents or unknown_perms:
            raise ValueError(
                f"feature {self.name!r}: unknown intents {unknown_intents} or permissions {unknown_perms}"
            )
        if self.locales is not None:
            # At declaration, like a cog's translations: the feature's strings are there before
            # any command is built or synced, in the bot and in tests alike.
            add_catalog_root(self.locales)

    @property
    def privileged_intents(self) -> frozenset[str]:
        """The intents without which the feature is off (optional ones only reduce it)."""
        return self.intents & PRIVILEGED_INTENTS


PRIVILEGED_INTENTS: frozenset[str] = frozenset({"members", "presences", "message_content"})


def declared_feature(extension: str) -> Feature | None:
    """The feature an extension module declares, or None (a module may declare none, like /help)."""
    module = importlib.import_module(extension)
    feature = getattr(module, "FEATURE", None)
    if feature is not None and not isinstance(feature, Feature):
        raise TypeError(f"{extension}.FEATURE is a {type(feature).__name__}, not a Feature")
    return feature


@dataclass(slots=True)
class FeatureRegistry:
    """The features of this process, in load order, and those turned off for want of an intent."""

    _features: dict[str, Feature] = field(default_factory=dict)
    #: extension module -> the feature it declares
    _by_extension: dict[str, str] = field(default_factory=dict)
    #: feature name -> the privileged intents Discord refused it
    unavailable: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_extensions(cls, extensions: Iterable[str]) -> FeatureRegistry:
        """Declarations of every listed extension, in order."""
        registry = cls()
        for extension in extensions:
            try:
                feature = declared_feature(extension)
            except Exception:
                # Loading the extension fails the same way moments later, and is logged there.
                continue
            if feature is not None:
                registry.add(feature, extension)
        return registry

    def add(self, feature: Feature, extension: str | None = None) -> None:
        if feature.name in self._features:
            raise ValueError(f"two extensions declare the feature {feature.name!r}")
        self._features[feature.name] = feature
        if extension is not None:
            self._by_extension[extension] = feature.name

    def for_extension(self, extension: str) -> Feature | None:
        name = self._by_extension.get(extension)
        return None if name is None else self._features.get(name)

    def remove(self, name: str) -> None:
        self._features.pop(name, None)
        self.unavailable.pop(name, None)

    def __getitem__(self, name: str) -> Feature:
        return self._features[name]

    def __iter__(self) -> Iterator[Feature]:
        return iter(self._features.values())

    def intents(self) -> discord.Intents:
        """What the gateway must deliver: the default non-privileged intents plus each feature's."""
        intents = discord.Intents.default()
        for feature in self:
            for name in feature.intents | feature.optional_intents:
                setattr(intents, name, True)
        return intents

    def permissions(self) -> discord.Permissions:
        """What the invite link asks for: what every feature needs, plus reading and replying
        (in threads too: commands are used there)."""
        permissions = discord.Permissions(
            view_channel=True, send_messages=True, send_messages_in_threads=True
        )
        for feature in self:
            for name in feature.permissions:
                setattr(permissions, name, True)
        return permissions

    def mark_unavailable(self, refused: Iterable[str]) -> list[str]:
        """Turn off the features that need one of the refused privileged intents; return their names."""
        refused_set = frozenset(refused)
        names = []
        for feature in self:
            missing = feature.intents & refused_set
            if missing:
                self.unavailable[feature.name] = missing
                names.append(feature.name)
        return names

    def is_available(self, name: str) -> bool:
        return name in self._features and name not in self.unavailable


__all__ = [
    "PRIVILEGED_INTENTS",
    "Feature",
    "FeatureRegistry",
    "FeatureSettings",
    "declared_feature",
]
