"""Acting on a flagged message as the server chose: delete, time out, warn; then the audit entry, the
log channel's entry with its review buttons, and a DM to the author offering an appeal."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import discord

from bot.discord_io.mentions import NO_PINGS
from bot.discord_io.rest_budget import Priority, rest_priority
from bot.i18n import t
from cogs.moderation.notices import ServerNotices
from cogs.moderation.policy import Verdict
from cogs.moderation.records import ModerationRecords
from cogs.moderation.views import LOG_BUTTONS, buttons

if TYPE_CHECKING:
    from bot.app import OpenAIBot

log = logging.getLogger(__name__)

# A warning reply is removed after this long.
WARN_SECONDS = 60.0
EXCERPT_CHARS = 300


def category_list(verdict: Verdict) -> str:
    return ", ".join(f"{category} ({score:.2f})" for category, score in verdict.flagged.items())


class FlagActions:
    """Carries out one verdict; what the bot may not do here is reported, never retried."""

    def __init__(
        self,
        bot: OpenAIBot,
        records: ModerationRecords,
        notices: ServerNotices,
        flush_soon: Callable[[], None],
    ) -> None:
        self.bot = bot
        self.records = records
        self.notices = notices
        self._flush_soon = flush_soon

    async def act(self, message: discord.Message, verdict: Verdict) -> None:
        guild = message.guild
        assert guild is not None
        locale = await self.notices.guild_locale(guild)
        taken = ["log"]
        missing: list[str] = []
        with rest_priority(Priority.MODERATION):
            if verdict.delete:
                self._note(await self._delete(message), "delete", taken, missing)
            if verdict.timeout_minutes:
                self._note(await self._timeout(message.author, verdict, locale), "timeout", taken, missing)
            if verdict.warn:
                self._note(await self._warn(message, verdict, locale), "warn", taken, missing)
        audit_id = await self.records.add_flagged(
            guild_id=guild.id,
            channel_id=message.channel.id,
            message_id=message.id,
            author_id=message.author.id,
            scores=verdict.flagged,
            actions=taken,
            excerpt=message.content[:EXCERPT_CHARS],
        )
        self.records.count(guild.id, "actions", len(taken))
        self._flush_soon()
        for action in missing:
            self.notices.report(guild.id, f"missing:{action}", f"moderation.incident.missing_{action}")
        await self._post_log_entry(message, verdict, taken, audit_id, locale)
        if any(a in taken for a in ("delete", "timeout", "warn")):
            await self._offer_appeal(message, taken, audit_id, locale)

    @staticmethod
    def _note(done: bool, action: str, taken: list[str], missing: list[str]) -> None:
        (taken if done else missing).append(action)

    async def _delete(self, message: discord.Message) -> bool:
        if not self.bot.discord_limits.may(message.channel, "delete"):
            return False
        try:
            await message.delete()
        except discord.NotFound:
            pass  # already gone: what the action wanted
        except discord.Forbidden:
            return False
        return True

    async def _timeout(self, author: discord.User | discord.Member, verdict: Verdict, locale: str) -> bool:
        if not isinstance(author, discord.Member) or not self.bot.discord_limits.may(author, "timeout"):
            return False
        try:
            await author.timeout(
                timedelta(minutes=verdict.timeout_minutes), reason=t("moderation.audit_reason", locale)
            )
        except discord.Forbidden:
            return False
        return True

    async def _warn(self, message: discord.Message, verdict: Verdict, locale: str) -> bool:
        if not self.bot.discord_limits.may(message.channel, "send"):
            return False
        author = message.author
        try:
            await message.channel.send(
                t("moderation.warn", locale, user=author.mention, categories=category_list(verdict)),
                # The warning pings its author, nobody else.
                allowed_mentions=discord.AllowedMentions(
                    everyone=False, roles=False, users=[author], replied_user=False
                ),
                delete_after=WARN_SECONDS,
            )
        except discord.Forbidden:
            return False
        return True

    async def _post_log_entry(
        self, message: discord.Message, verdict: Verdict, taken: list[str], audit_id: int, locale: str
    ) -> None:
        guild = message.guild
        assert guild is not None
        channel = await self.notices.log_channel(guild)
        if channel is None:
            return
        embed = discord.Embed(title=t("moderation.log.title", locale), colour=discord.Colour.orange())
        embed.add_field(name=t("moderation.log.author", locale), value=message.author.mention)
        embed.add_field(name=t("moderation.log.channel", locale), value=f"<#{message.channel.id}>")
        embed.add_field(name=t("moderation.log.link", locale), value=message.jump_url, inline=False)
        embed.add_field(
            name=t("moderation.log.categories", locale), value=category_list(verdict), inline=False
        )
        # Spoilered, and a `||` inside cannot end the spoiler early.
        excerpt = message.content[:EXCERPT_CHARS].replace("||", "|\u200b|")
        if excerpt:
            embed.add_field(name=t("moderation.log.excerpt", locale), value=f"||{excerpt}||", inline=False)
        embed.add_field(
            name=t("moderation.log.actions", locale),
            value=", ".join(t(f"moderation.action.{a}", locale) for a in taken),
            inline=False,
        )
        try:
            with rest_priority(Priority.MODERATION):
                sent = await channel.send(
                    embed=embed,
                    view=buttons(LOG_BUTTONS, guild.id, audit_id, locale),
                    allowed_mentions=NO_PINGS,
                )
        except discord.HTTPException:
            self.notices.report(guild.id, "missing:log", "moderation.incident.missing_log", to_owner=True)
            return
        await self.records.update(guild.id, audit_id, log_message_id=sent.id)

    async def _offer_appeal(
        self, message: discord.Message, taken: list[str], audit_id: int, locale: str
    ) -> None:
        guild = message.guild
        assert guild is not None
        text = t(
            "moderation.dm.acted",
            locale,
            server=guild.name,
            actions=", ".join(t(f"moderation.action.{a}", locale) for a in taken),
        )
        try:
            await message.author.send(
                text, view=buttons(("appeal",), guild.id, audit_id, locale), allowed_mentions=NO_PINGS
            )
        except discord.HTTPException:
            log.info("moderation: could not DM the author of message %d (DMs closed?)", message.id)
