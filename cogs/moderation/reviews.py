"""What moderators and authors do with a flag afterwards, through its buttons: dismiss it, time the
author out or lift it, appeal (the author only, once), and accept or reject that appeal."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import discord

from bot.discord_io.mentions import NO_PINGS
from bot.discord_io.rest_budget import Priority, rest_priority
from bot.i18n import t
from cogs.moderation.feature import FEATURE
from cogs.moderation.notices import ServerNotices
from cogs.moderation.records import ModerationRecords
from cogs.moderation.views import APPEAL_BUTTONS, ButtonAction, buttons

if TYPE_CHECKING:
    from bot.app import OpenAIBot

log = logging.getLogger(__name__)

# Either one lets a member review flags (the buttons on log entries and appeals).
MODERATOR_PERMISSIONS = ("manage_messages", "moderate_members")


class Reviews:
    def __init__(self, bot: OpenAIBot, records: ModerationRecords, notices: ServerNotices) -> None:
        self.bot = bot
        self.records = records
        self.notices = notices

    async def on_button(
        self, interaction: discord.Interaction[Any], action: ButtonAction, guild_id: int, audit_id: int
    ) -> None:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        locale = ctx.locale
        entry = await self.records.get(guild_id, audit_id)
        if entry is None:
            await interaction.response.send_message(t("moderation.button.gone", locale), ephemeral=True)
            return
        if action == "appeal":
            await self._appeal(interaction, entry.author_id, guild_id, audit_id, entry.appeal, locale)
            return
        perms = interaction.permissions
        if interaction.guild_id != guild_id or not any(getattr(perms, p) for p in MODERATOR_PERMISSIONS):
            await interaction.response.send_message(t("moderation.button.refused", locale), ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild = interaction.guild
        assert guild is not None
        moderator = interaction.user.id
        done: str | None
        if action == "dismiss":
            await self.records.update(guild_id, audit_id, reviewed_by=moderator, review="dismissed")
            done = t("moderation.button.dismissed", locale, user=interaction.user.mention)
        elif action in ("timeout", "untimeout"):
            done = await self._moderator_timeout(guild, entry.author_id, action == "timeout", locale)
            if done is None:
                await interaction.followup.send(t("moderation.button.cannot_timeout", locale), ephemeral=True)
                return
            await self.records.update(guild_id, audit_id, reviewed_by=moderator, review=action)
        elif action == "accept":
            await self._accept_appeal(guild, entry.channel_id, entry.author_id, entry.excerpt, locale)
            await self.records.update(
                guild_id, audit_id, reviewed_by=moderator, review="appeal_accepted", appeal="accepted"
            )
            done = t("moderation.appeal.accepted", locale, user=interaction.user.mention)
        else:
            await self.records.update(
                guild_id, audit_id, reviewed_by=moderator, review="appeal_rejected", appeal="rejected"
            )
            done = t("moderation.appeal.rejected", locale, user=interaction.user.mention)
        await interaction.followup.send(done, ephemeral=True, allowed_mentions=NO_PINGS)
        if action in ("dismiss", "accept", "reject") and interaction.message is not None:
            # The entry is settled: show who settled it, and take the buttons away.
            try:
                await interaction.message.edit(content=done, view=None, allowed_mentions=NO_PINGS)
            except discord.HTTPException:
                log.info("moderation: could not update log entry %d", audit_id)

    async def _moderator_timeout(
        self, guild: discord.Guild, user_id: int, start: bool, locale: str
    ) -> str | None:
        try:
            member = guild.get_member(user_id) or await guild.fetch_member(user_id)
        except discord.HTTPException:
            return None
        if not self.bot.discord_limits.may(member, "timeout"):
            return None
        try:
            with rest_priority(Priority.MODERATION):
                await member.timeout(
                    timedelta(hours=1) if start else None, reason=t("moderation.audit_reason", locale)
                )
        except discord.HTTPException:
            return None
        key = "moderation.button.timed_out" if start else "moderation.button.untimed_out"
        return t(key, locale, user=member.mention)

    async def _appeal(
        self,
        interaction: discord.Interaction[Any],
        author_id: int,
        guild_id: int,
        audit_id: int,
        appeal: str | None,
        locale: str,
    ) -> None:
        if interaction.user.id != author_id:
            await interaction.response.send_message(t("moderation.appeal.not_yours", locale), ephemeral=True)
            return
        if appeal is not None:
            await interaction.response.send_message(t("moderation.appeal.already", locale), ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild = self.bot.get_guild(guild_id)
        channel = None if guild is None else await self.notices.log_channel(guild)
        if channel is None:
            await interaction.followup.send(t("moderation.appeal.nowhere", locale), ephemeral=True)
            return
        guild_locale = await self.notices.guild_locale(channel.guild)
        await channel.send(
            t("moderation.appeal.posted", guild_locale, user=f"<@{author_id}>", id=audit_id),
            view=buttons(APPEAL_BUTTONS, guild_id, audit_id, guild_locale),
            allowed_mentions=NO_PINGS,
        )
        await self.records.update(guild_id, audit_id, appeal="pending")
        await interaction.followup.send(t("moderation.appeal.sent", locale), ephemeral=True)

    async def _accept_appeal(
        self, guild: discord.Guild, channel_id: int, author_id: int, excerpt: str | None, locale: str
    ) -> None:
        """Put the text back (as a quote, under the author's name) and lift a timeout."""
        channel = guild.get_channel_or_thread(channel_id)
        if excerpt and isinstance(channel, discord.TextChannel | discord.Thread):
            quoted = "\n".join(f"> {line}" for line in excerpt.splitlines())
            if self.bot.discord_limits.may(channel, "send"):
                await channel.send(
                    t("moderation.appeal.restored", locale, user=f"<@{author_id}>", text=quoted),
                    allowed_mentions=NO_PINGS,
                )
        # Fetched: without the members intent the cache does not know about timeouts.
        try:
            member: discord.Member | None = await guild.fetch_member(author_id)
        except discord.HTTPException:
            member = None  # they left
        if member is not None and member.is_timed_out() and self.bot.discord_limits.may(member, "timeout"):
            with rest_priority(Priority.MODERATION):
                await member.timeout(None, reason=t("moderation.audit_reason", locale))
