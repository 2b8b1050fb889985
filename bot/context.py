"""One context per interaction: server settings, the feature's settings, reply locale, permissions.
Built once, cached on the interaction (`Interaction.extras`), and read by cogs and the error handler."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import discord
from discord import app_commands

from bot.db import FeatureSettingsRepo, GuildSettings, GuildSettingsRepo
from bot.errors import BotMissingChannelPermissions, FeatureDisabled, FeatureUnavailable
from bot.features import Feature, FeatureRegistry, FeatureSettings
from bot.i18n import reply_locale, t
from bot.settings import Settings
from bot.usage.budgets import Budgets, Reservation

log = logging.getLogger(__name__)

# The key under which an interaction's context is kept in `Interaction.extras`.
_EXTRAS_KEY = "bot.context"


@dataclass(frozen=True, slots=True)
class InteractionContext:
    """What a command, button or form needs to know about where it runs, read once."""

    interaction: discord.Interaction[Any]
    locale: str
    #: The server's own settings; None in DMs.
    guild: GuildSettings | None
    #: The feature this interaction belongs to, its settings here, and its bot-wide default model.
    feature: Feature | None = None
    settings: FeatureSettings | None = None
    default_model: str | None = None
    #: False when Discord refused an intent the feature needs (it is off for every server).
    available: bool = True

    @property
    def guild_id(self) -> int | None:
        return self.interaction.guild_id

    @property
    def member_permissions(self) -> discord.Permissions:
        """The member's permissions in this channel, as Discord sent them."""
        return self.interaction.permissions

    @property
    def bot_permissions(self) -> discord.Permissions:
        """The bot's permissions in this channel, as Discord sent them."""
        return self.interaction.app_permissions

    @property
    def model(self) -> str | None:
        """The model this server uses for the feature: its override, else the bot-wide default."""
        if self.settings is not None and self.settings.model:
            return self.settings.model
        return self.default_model

    def t(self, key: str, /, **params: Any) -> str:
        return t(key, self.locale, **params)

    def require_feature(self, *bot_permissions: str) -> FeatureSettings:
        """The feature's settings, if it may run here; else the error that tells the member why."""
        if self.guild_id is None:
            raise app_commands.NoPrivateMessage()
        assert self.feature is not None and self.settings is not None, "context built without a feature"
        if not self.available:
            raise FeatureUnavailable(self.feature.name)
        if not self.settings.enabled:
            raise FeatureDisabled(self.feature.name)
        missing = [name for name in bot_permissions if not getattr(self.bot_permissions, name)]
        if missing:
            raise BotMissingChannelPermissions(missing)
        return self.settings

    async def reserve(self, budgets: Budgets, amount: Decimal) -> Reservation:
        """Hold `amount` USD for the member who used it, against this server's budgets (their roles
        may exempt them); raises BudgetExceeded when it does not fit."""
        assert self.guild_id is not None and self.guild is not None and self.feature is not None
        user = self.interaction.user
        return await budgets.reserve(
            guild_id=self.guild_id,
            user_id=user.id,
            feature=self.feature.name,
            amount=amount,
            settings=self.guild,
            role_ids=[role.id for role in getattr(user, "roles", ())],
        )


class ContextBuilder:
    """Builds and caches `InteractionContext`s; the only reader of settings for interactions."""

    def __init__(
        self,
        settings: Settings,
        registry: FeatureRegistry,
        guilds: GuildSettingsRepo,
        features: FeatureSettingsRepo,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._guilds = guilds
        self._features = features

    async def get(
        self, interaction: discord.Interaction[Any], feature: str | None = None
    ) -> InteractionContext:
        """The interaction's context, with `feature`'s settings when named; read at most once."""
        cached: InteractionContext | None = interaction.extras.get(_EXTRAS_KEY)
        if cached is not None and (feature is None or (cached.feature and cached.feature.name == feature)):
            return cached
        guild_id = interaction.guild_id
        if cached is not None:
            guild = cached.guild
        else:
            guild = await self._guilds.get(guild_id) if guild_id is not None else None
        context = InteractionContext(
            interaction, reply_locale(interaction, guild.reply_locale if guild else None), guild
        )
        if feature is not None:
            declared = self._registry[feature]
            settings = (
                await self._features.get(guild_id, declared) if guild_id is not None else declared.settings()
            )
            default_model = (
                getattr(self._settings, declared.model_setting) if declared.model_setting else None
            )
            context = InteractionContext(
                interaction,
                context.locale,
                guild,
                declared,
                settings,
                default_model,
                self._registry.is_available(feature),
            )
        interaction.extras[_EXTRAS_KEY] = context
        return context

    async def locale(self, interaction: discord.Interaction[Any]) -> str:
        """The reply language; falls back to the member's client language if storage fails, so an
        error about storage can still be told."""
        try:
            return (await self.get(interaction)).locale
        except Exception:
            log.exception("Could not read guild settings for the reply language")
            return reply_locale(interaction, None)


__all__ = ["ContextBuilder", "InteractionContext"]
