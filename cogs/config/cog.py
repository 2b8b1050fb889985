"""/config: show, set, channel, role, reset (after a confirmation) and history of this server's
settings — the server's own and every loaded feature's, read from the feature registry.

Manage Server is required twice: as the commands' default permission, and checked again when a
command runs, because a server can give the commands to anyone in its integration settings.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands
from pydantic import ValidationError

from bot.discord_io.mentions import NO_PINGS
from bot.i18n import t
from bot.i18n.formatting import format_datetime_utc
from cogs.config.audit import ConfigAudit
from cogs.config.feature import FEATURE
from cogs.config.render import explain, show_value, target_label
from cogs.config.schema import (
    Kind,
    Setting,
    Target,
    UnparsableValue,
    Values,
    literal_choices,
    parse_text,
    targets,
)

if TYPE_CHECKING:
    from bot.app import OpenAIBot
    from bot.context import InteractionContext

log = logging.getLogger(__name__)

HISTORY_ROWS = 15
CONFIRM_SECONDS = 120.0
_TYPED_KINDS: frozenset[Kind] = frozenset({"value", "model", "models"})
_CHANNEL_KINDS: frozenset[Kind] = frozenset({"channel", "channels"})
_ROLE_KINDS: frozenset[Kind] = frozenset({"role", "roles"})


class ConfigRefused(Exception):
    """A change /config will not make; the text says why, in the member's language."""


def _require_manage_guild(interaction: discord.Interaction[Any]) -> None:
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    if not interaction.permissions.manage_guild:
        raise app_commands.MissingPermissions(["manage_guild"])


def _opt(name: str, english: str, cmd: str) -> tuple[locale_str, locale_str]:
    return (
        locale_str(name, key=f"cmd.config.{cmd}.opt.{name}.name"),
        locale_str(english, key=f"cmd.config.{cmd}.opt.{name}.description"),
    )


class ConfigCog(commands.Cog, name="Config"):
    config = app_commands.Group(
        name=locale_str("config", key="cmd.config.name"),
        description=locale_str("Show and change this server's bot settings", key="cmd.config.description"),
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: OpenAIBot) -> None:
        self.bot = bot
        self.audit = ConfigAudit(bot.db)

    # -- helpers --------------------------------------------------------------------------------

    def _targets(self) -> list[Target]:
        return targets(self.bot, exclude=FEATURE.name)

    def _target(self, name: str, locale: str) -> Target:
        found = next((tg for tg in self._targets() if tg.name == name), None)
        if found is None:
            names = ", ".join(f"`{tg.name}`" for tg in self._targets())
            raise ConfigRefused(t("config.error.unknown_feature", locale, feature=name, names=names))
        return found

    def _setting(self, target: Target, name: str, kinds: frozenset[Kind], locale: str) -> Setting:
        setting = target.setting(name)
        if setting is None or setting.kind not in kinds:
            names = ", ".join(f"`{s.name}`" for s in target.settings() if s.kind in kinds) or "—"
            raise ConfigRefused(t("config.error.unknown_setting", locale, setting=name, names=names))
        return setting

    def _default_model(self, target: Target) -> str | None:
        if target.feature is None or target.feature.model_setting is None:
            return None
        value = getattr(self.bot.settings, target.feature.model_setting, None)
        return value if isinstance(value, str) else None

    def _catalog_models(self, target: Target) -> list[str] | None:
        catalog = self.bot.model_catalog
        if target.feature is not None and target.feature.model_setting == "completion_model":
            return catalog.completion_models()
        return catalog.ids()

    async def _context(self, interaction: discord.Interaction[Any]) -> InteractionContext:
        _require_manage_guild(interaction)
        return await self.bot.contexts.get(interaction)

    async def _change(
        self, ctx: InteractionContext, target: Target, setting: Setting, value: Any
    ) -> tuple[Any, Any]:
        """Validate with the target's model, store, audit; return (old, new) as shown values."""
        assert ctx.guild_id is not None
        values = Values(self.bot, ctx.guild_id)
        current, _ = await values.read(target)
        try:
            target.model.model_validate({**current.model_dump(), setting.name: value})
        except ValidationError as exc:
            reason = explain(exc, ctx.locale)
            raise ConfigRefused(
                t("config.error.invalid", ctx.locale, setting=setting.name, reason=reason)
            ) from None
        updated = await values.write(target, **{setting.name: value})
        old = current.model_dump(mode="json")[setting.name]
        new = updated.model_dump(mode="json")[setting.name]
        await self.audit.record(
            ctx.guild_id, ctx.interaction.user.id, [(target.name, setting.name, old, new)]
        )
        log.info(
            "guild %d: %s.%s changed by user %d",
            ctx.guild_id,
            target.name,
            setting.name,
            ctx.interaction.user.id,
        )
        return getattr(current, setting.name), getattr(updated, setting.name)

    async def _reply_changed(
        self, ctx: InteractionContext, target: Target, setting: Setting, old: Any, new: Any
    ) -> None:
        model = self._default_model(target)
        text = t(
            "config.changed",
            ctx.locale,
            target=target_label(target.name, ctx.locale),
            setting=setting.name,
            old=show_value(setting, old, ctx.locale, default_model=model),
            new=show_value(setting, new, ctx.locale, default_model=model),
        )
        await ctx.interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)

    def announce(
        self, interaction: discord.Interaction[Any], changes: list[tuple[str, str, Any, Any]]
    ) -> None:
        """Dispatch `feature_settings_changed(interaction, feature, names)` per feature whose values
        changed, for cogs that act on their settings (the knowledge base re-indexes on a new model).
        Called after the reply, so a listener may follow up on the interaction."""
        changed: dict[str, set[str]] = {}
        for feature, name, old, new in changes:
            if old != new:
                changed.setdefault(feature, set()).add(name)
        for feature, names in changed.items():
            self.bot.dispatch("feature_settings_changed", interaction, feature, frozenset(names))

    async def _run(self, interaction: discord.Interaction[Any], action: Awaitable[None]) -> None:
        """Run a command body; a refusal is told privately in the member's language."""
        try:
            await action
        except ConfigRefused as refused:
            await interaction.response.send_message(f"⚠️ {refused}", ephemeral=True, allowed_mentions=NO_PINGS)

    # -- show -----------------------------------------------------------------------------------

    @config.command(
        name=locale_str("show", key="cmd.config.show.name"),
        description=locale_str(
            "Every setting of this server, its value and whether it is the default",
            key="cmd.config.show.description",
        ),
    )
    @app_commands.rename(feature=_opt("feature", "", "show")[0])
    @app_commands.describe(feature=_opt("feature", "Only this feature's settings", "show")[1])
    async def show(self, interaction: discord.Interaction[Any], feature: str | None = None) -> None:
        await self._run(interaction, self._show(interaction, feature))

    async def _show(self, interaction: discord.Interaction[Any], feature: str | None) -> None:
        ctx = await self._context(interaction)
        assert ctx.guild_id is not None
        chosen = [self._target(feature, ctx.locale)] if feature else self._targets()
        values = Values(self.bot, ctx.guild_id)
        embed = discord.Embed(title=t("config.show.title", ctx.locale), colour=discord.Colour.blurple())
        for target in chosen:
            current, changed = await values.read(target)
            lines = []
            for setting in target.settings():
                shown = show_value(
                    setting,
                    getattr(current, setting.name),
                    ctx.locale,
                    default_model=self._default_model(target),
                )
                mark = "config.show.changed" if setting.name in changed else "config.show.default"
                lines.append(t(mark, ctx.locale, setting=setting.name, value=shown))
            embed.add_field(
                name=target_label(target.name, ctx.locale), value="\n".join(lines)[:1024], inline=False
            )
        embed.set_footer(text=t("config.show.footer", ctx.locale))
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)

    # -- set (typed values) ---------------------------------------------------------------------

    @config.command(
        name=locale_str("set", key="cmd.config.set.name"),
        description=locale_str("Change one setting", key="cmd.config.set.description"),
    )
    @app_commands.rename(
        feature=_opt("feature", "", "set")[0],
        setting=_opt("setting", "", "set")[0],
        value=_opt("value", "", "set")[0],
    )
    @app_commands.describe(
        feature=_opt("feature", "Feature (or server) the setting belongs to", "set")[1],
        setting=_opt("setting", "Setting to change", "set")[1],
        value=_opt("value", "New value; none/off/auto clears an optional setting", "set")[1],
    )
    async def set_(
        self,
        interaction: discord.Interaction[Any],
        feature: str,
        setting: str,
        value: app_commands.Range[str, 1, 1000],
    ) -> None:
        await self._run(interaction, self._set(interaction, feature, setting, value))

    async def _set(self, interaction: discord.Interaction[Any], feature: str, name: str, text: str) -> None:
        ctx = await self._context(interaction)
        target = self._target(feature, ctx.locale)
        setting = self._setting(target, name, _TYPED_KINDS, ctx.locale)
        try:
            value = parse_text(setting, text)
        except UnparsableValue as exc:
            reason = t(exc.reason_key, ctx.locale)
            raise ConfigRefused(
                t("config.error.invalid", ctx.locale, setting=setting.name, reason=reason)
            ) from None
        if setting.kind in ("model", "models") and value:
            self._check_models(target, [value] if isinstance(value, str) else list(value), ctx.locale)
        old, new = await self._change(ctx, target, setting, value)
        await self._reply_changed(ctx, target, setting, old, new)
        self.announce(interaction, [(target.name, setting.name, old, new)])

    def _check_models(self, target: Target, models: list[str], locale: str) -> None:
        available = self._catalog_models(target)
        if available is None:
            return  # the catalog could not be read yet; the feature says so when the model is used
        unknown = [m for m in models if m not in available]
        if unknown:
            raise ConfigRefused(
                t(
                    "config.error.unknown_model",
                    locale,
                    model=", ".join(unknown),
                    examples=", ".join(available[:5]) or "—",
                )
            )

    # -- channels and roles ---------------------------------------------------------------------

    @config.command(
        name=locale_str("channel", key="cmd.config.channel.name"),
        description=locale_str("Set or remove a channel setting", key="cmd.config.channel.description"),
    )
    @app_commands.rename(
        feature=_opt("feature", "", "channel")[0],
        setting=_opt("setting", "", "channel")[0],
        channel=_opt("channel", "", "channel")[0],
        remove=_opt("remove", "", "channel")[0],
    )
    @app_commands.describe(
        feature=_opt("feature", "Feature (or server) the setting belongs to", "channel")[1],
        setting=_opt("setting", "Channel setting to change", "channel")[1],
        channel=_opt("channel", "The channel", "channel")[1],
        remove=_opt("remove", "Remove this channel instead of setting it", "channel")[1],
    )
    async def channel(
        self,
        interaction: discord.Interaction[Any],
        feature: str,
        setting: str,
        channel: discord.TextChannel | discord.VoiceChannel | discord.ForumChannel | discord.StageChannel,
        remove: bool = False,
    ) -> None:
        await self._run(
            interaction, self._entity(interaction, feature, setting, channel.id, remove, channel=True)
        )

    @config.command(
        name=locale_str("role", key="cmd.config.role.name"),
        description=locale_str("Add or remove a role setting", key="cmd.config.role.description"),
    )
    @app_commands.rename(
        feature=_opt("feature", "", "role")[0],
        setting=_opt("setting", "", "role")[0],
        role=_opt("role", "", "role")[0],
        remove=_opt("remove", "", "role")[0],
    )
    @app_commands.describe(
        feature=_opt("feature", "Feature (or server) the setting belongs to", "role")[1],
        setting=_opt("setting", "Role setting to change", "role")[1],
        role=_opt("role", "The role", "role")[1],
        remove=_opt("remove", "Remove this role instead of adding it", "role")[1],
    )
    async def role(
        self,
        interaction: discord.Interaction[Any],
        feature: str,
        setting: str,
        role: discord.Role,
        remove: bool = False,
    ) -> None:
        await self._run(
            interaction, self._entity(interaction, feature, setting, role.id, remove, channel=False)
        )

    async def _entity(
        self,
        interaction: discord.Interaction[Any],
        feature: str,
        name: str,
        entity_id: int,
        remove: bool,
        *,
        channel: bool,
    ) -> None:
        ctx = await self._context(interaction)
        target = self._target(feature, ctx.locale)
        setting = self._setting(target, name, _CHANNEL_KINDS if channel else _ROLE_KINDS, ctx.locale)
        if channel and not remove:
            self._check_channel_visible(interaction, entity_id, ctx.locale)
        assert ctx.guild_id is not None
        current, _ = await Values(self.bot, ctx.guild_id).read(target)
        value: Any
        if setting.kind in ("channels", "roles"):
            held = set(getattr(current, setting.name))
            value = sorted(held - {entity_id}) if remove else sorted(held | {entity_id})
        else:
            value = None if remove else entity_id
        old, new = await self._change(ctx, target, setting, value)
        await self._reply_changed(ctx, target, setting, old, new)
        self.announce(interaction, [(target.name, setting.name, old, new)])

    def _check_channel_visible(
        self, interaction: discord.Interaction[Any], channel_id: int, locale: str
    ) -> None:
        guild = interaction.guild
        found = guild.get_channel(channel_id) if guild is not None else None
        if guild is None or found is None or not found.permissions_for(guild.me).view_channel:
            raise ConfigRefused(t("config.error.channel_hidden", locale, channel=f"<#{channel_id}>"))

    # -- reset ----------------------------------------------------------------------------------

    @config.command(
        name=locale_str("reset", key="cmd.config.reset.name"),
        description=locale_str("Put settings back to their defaults", key="cmd.config.reset.description"),
    )
    @app_commands.rename(feature=_opt("feature", "", "reset")[0], setting=_opt("setting", "", "reset")[0])
    @app_commands.describe(
        feature=_opt("feature", "Only this feature (all if empty)", "reset")[1],
        setting=_opt("setting", "Only this setting", "reset")[1],
    )
    async def reset(
        self, interaction: discord.Interaction[Any], feature: str | None = None, setting: str | None = None
    ) -> None:
        await self._run(interaction, self._ask_reset(interaction, feature, setting))

    async def _ask_reset(
        self, interaction: discord.Interaction[Any], feature: str | None, name: str | None
    ) -> None:
        ctx = await self._context(interaction)
        if name is not None and feature is None:
            raise ConfigRefused(t("config.error.setting_needs_feature", ctx.locale))
        chosen = [self._target(feature, ctx.locale)] if feature else self._targets()
        all_kinds: frozenset[Kind] = _TYPED_KINDS | _CHANNEL_KINDS | _ROLE_KINDS
        setting = self._setting(chosen[0], name, all_kinds, ctx.locale) if name is not None else None
        if setting is not None:
            what = f"`{chosen[0].name}.{setting.name}`"
        elif feature is not None:
            what = target_label(chosen[0].name, ctx.locale)
        else:
            what = t("config.reset.everything", ctx.locale)
        view = ResetConfirm(self, ctx.locale, chosen, setting, interaction.user.id)
        await interaction.response.send_message(
            t("config.reset.confirm", ctx.locale, what=what),
            view=view,
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    async def do_reset(
        self, interaction: discord.Interaction[Any], chosen: list[Target], setting: Setting | None
    ) -> list[tuple[str, str, Any, Any]]:
        """Reset and audit; returns the changes as (feature, setting, old, new)."""
        _require_manage_guild(interaction)
        assert interaction.guild_id is not None
        values = Values(self.bot, interaction.guild_id)
        changes: list[tuple[str, str, Any, Any]] = []
        for target in chosen:
            current, changed = await values.read(target)
            names = [setting.name] if setting is not None else sorted(changed)
            names = [n for n in names if n in changed]
            if not names:
                continue
            before = current.model_dump(mode="json")
            after = (await values.write(target, **dict.fromkeys(names))).model_dump(mode="json")
            changes += [(target.name, n, before[n], after[n]) for n in names]
        await self.audit.record(interaction.guild_id, interaction.user.id, changes)
        return changes

    # -- history --------------------------------------------------------------------------------

    @config.command(
        name=locale_str("history", key="cmd.config.history.name"),
        description=locale_str("Who changed which setting, and when", key="cmd.config.history.description"),
    )
    @app_commands.rename(feature=_opt("feature", "", "history")[0])
    @app_commands.describe(feature=_opt("feature", "Only this feature's changes", "history")[1])
    async def history(self, interaction: discord.Interaction[Any], feature: str | None = None) -> None:
        await self._run(interaction, self._history(interaction, feature))

    async def _history(self, interaction: discord.Interaction[Any], feature: str | None) -> None:
        ctx = await self._context(interaction)
        assert ctx.guild_id is not None
        rows = await self.audit.recent(ctx.guild_id, feature=feature, limit=HISTORY_ROWS)
        embed = discord.Embed(title=t("config.history.title", ctx.locale), colour=discord.Colour.blurple())
        if not rows:
            embed.description = t("config.history.empty", ctx.locale)
        else:
            embed.description = "\n".join(
                t(
                    "config.history.line",
                    ctx.locale,
                    when=format_datetime_utc(row.changed_at, ctx.locale),
                    user=f"<@{row.user_id}>",
                    setting=f"{row.feature}.{row.setting}",
                    old=_json_value(row.old, ctx.locale),
                    new=_json_value(row.new, ctx.locale),
                )
                for row in rows
            )[:4096]
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)

    # -- autocomplete ---------------------------------------------------------------------------

    def _feature_choices(
        self, current: str, locale: str, kinds: frozenset[Kind]
    ) -> list[app_commands.Choice[str]]:
        needle = current.lower()
        found = []
        for target in self._targets():
            if not any(s.kind in kinds for s in target.settings()):
                continue
            label = target_label(target.name, locale)
            if needle in label.lower():
                found.append(app_commands.Choice(name=label[:100], value=target.name))
        return found[:25]

    def _setting_choices(
        self, interaction: discord.Interaction[Any], current: str, kinds: frozenset[Kind]
    ) -> list[app_commands.Choice[str]]:
        target = next((tg for tg in self._targets() if tg.name == interaction.namespace.feature), None)
        if target is None:
            return []
        return [
            app_commands.Choice(name=s.name, value=s.name)
            for s in target.settings()
            if s.kind in kinds and current.lower() in s.name.lower()
        ][:25]

    async def _locale(self, interaction: discord.Interaction[Any]) -> str:
        return await self.bot.contexts.locale(interaction)

    @show.autocomplete("feature")
    @history.autocomplete("feature")
    @reset.autocomplete("feature")
    async def _any_feature(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        all_kinds: frozenset[Kind] = _TYPED_KINDS | _CHANNEL_KINDS | _ROLE_KINDS
        return self._feature_choices(current, await self._locale(interaction), all_kinds)

    @set_.autocomplete("feature")
    async def _typed_feature(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return self._feature_choices(current, await self._locale(interaction), _TYPED_KINDS)

    @channel.autocomplete("feature")
    async def _channel_feature(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return self._feature_choices(current, await self._locale(interaction), _CHANNEL_KINDS)

    @role.autocomplete("feature")
    async def _role_feature(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return self._feature_choices(current, await self._locale(interaction), _ROLE_KINDS)

    @set_.autocomplete("setting")
    async def _typed_setting(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return self._setting_choices(interaction, current, _TYPED_KINDS)

    @reset.autocomplete("setting")
    async def _any_setting(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return self._setting_choices(interaction, current, _TYPED_KINDS | _CHANNEL_KINDS | _ROLE_KINDS)

    @channel.autocomplete("setting")
    async def _channel_setting(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return self._setting_choices(interaction, current, _CHANNEL_KINDS)

    @role.autocomplete("setting")
    async def _role_setting(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return self._setting_choices(interaction, current, _ROLE_KINDS)

    @set_.autocomplete("value")
    async def _value(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        target = next((tg for tg in self._targets() if tg.name == interaction.namespace.feature), None)
        setting = target.setting(str(interaction.namespace.setting)) if target is not None else None
        if target is None or setting is None:
            return []
        if setting.kind in ("model", "models"):
            # A list is typed comma-separated: complete its last item.
            head, _, last = current.rpartition(",")
            prefix = f"{head}," if head else ""
            options = [
                prefix + m for m in self._catalog_models(target) or [] if last.strip().lower() in m.lower()
            ]
        elif setting.is_bool:
            options = ["on", "off"]
        else:
            options = list(literal_choices(setting.annotation))
        if setting.optional or setting.kind == "models":
            options.append("none")
        needle = current.lower()
        return [
            app_commands.Choice(name=o[:100], value=o[:100])
            for o in options
            if needle in o.lower() or setting.kind in ("model", "models")
        ][:25]


def _json_value(value: Any, locale: str) -> str:
    if value is None:
        return t("config.value.none", locale)
    if value is True or value is False:
        return t("config.value.on" if value else "config.value.off", locale)
    if isinstance(value, list):
        return ", ".join(f"`{v}`" for v in value) or "—"
    return f"`{value}`"


class ResetConfirm(discord.ui.View):
    """Reset / Cancel under the question; only the admin who asked can answer, once."""

    def __init__(
        self, cog: ConfigCog, locale: str, chosen: list[Target], setting: Setting | None, user_id: int
    ) -> None:
        super().__init__(timeout=CONFIRM_SECONDS)
        self.cog = cog
        self.locale = locale
        self.chosen = chosen
        self.setting = setting
        self.user_id = user_id
        confirm: discord.ui.Button[ResetConfirm] = discord.ui.Button(
            label=t("config.reset.button", locale), style=discord.ButtonStyle.danger
        )
        cancel: discord.ui.Button[ResetConfirm] = discord.ui.Button(
            label=t("config.reset.cancel", locale), style=discord.ButtonStyle.secondary
        )
        confirm.callback = self._confirm  # type: ignore[method-assign]
        cancel.callback = self._cancel  # type: ignore[method-assign]
        self.add_item(confirm)
        self.add_item(cancel)

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return interaction.user.id == self.user_id

    async def _confirm(self, interaction: discord.Interaction[Any]) -> None:
        self.stop()
        try:
            changes = await self.cog.do_reset(interaction, self.chosen, self.setting)
        except app_commands.MissingPermissions:
            await interaction.response.edit_message(
                content=t(
                    "error.missing_permissions", self.locale, permissions=t("perm.manage_guild", self.locale)
                ),
                view=None,
            )
            return
        await interaction.response.edit_message(
            content=t("config.reset.done", self.locale, count=len(changes)), view=None
        )
        self.cog.announce(interaction, changes)

    async def _cancel(self, interaction: discord.Interaction[Any]) -> None:
        self.stop()
        await interaction.response.edit_message(content=t("config.reset.cancelled", self.locale), view=None)
