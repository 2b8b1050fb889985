"""Automatic moderation: channel messages checked in batches, flagged ones handled as the server chose.
Also /moderate (anyone: a text's scores, nothing stored) and /moderation status (admins: last 24 h)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands, tasks

from bot.clients import build_api_client
from bot.discord_io.mentions import NO_PINGS
from bot.discord_io.rest_budget import Priority, rest_priority
from bot.i18n import t
from bot.openai_api import OpenAIError
from bot.usage import UsageEvent
from cogs.moderation.feature import FEATURE, ModerationSettings
from cogs.moderation.pacing import estimate_tokens
from cogs.moderation.pipeline import Job, ModerationPipeline, split_text
from cogs.moderation.policy import Verdict, decide
from cogs.moderation.records import ModerationRecords, PendingMessage
from cogs.moderation.views import APPEAL_BUTTONS, LOG_BUTTONS, ButtonAction, buttons

if TYPE_CHECKING:
    from bot.app import OpenAIBot

log = logging.getLogger(__name__)

# Images the API accepts for moderation (omni models only).
MAX_IMAGE_BYTES = 20 * 1024 * 1024
# A warning reply is removed after this long.
WARN_SECONDS = 60.0
# Settings are read again after this long, so a busy channel costs no database read per message.
SETTINGS_TTL = 5.0
# An incident (unchecked messages, a missing permission) is reported once, then not again for this long.
INCIDENT_QUIET_SECONDS = 600.0
EXCERPT_CHARS = 300
# How often the text of old flagged messages is purged.
PURGE_INTERVAL_HOURS = 6.0
MODERATOR_PERMISSIONS = ("manage_messages", "moderate_members")
_CHECKED_TYPES = (discord.MessageType.default, discord.MessageType.reply)


@dataclass(slots=True)
class Origin:
    """What the pipeline carries back for a queued message."""

    message: discord.Message
    settings: ModerationSettings


_OUTPUT_POLL_SECONDS = 0.05


@dataclass(slots=True)
class OutputCheck:
    """The bot's own output waiting for its verdict (see `check_output`)."""

    settings: ModerationSettings
    result: asyncio.Future[Verdict | None]


class ModerationCog(commands.Cog, name="Moderation"):
    def __init__(self, bot: OpenAIBot) -> None:
        self.bot = bot
        self.records = ModerationRecords(bot.db)
        # Its own client without retries: the pipeline keeps its queue on 429 and paces itself.
        self._api = build_api_client(bot.settings, session=bot.http_session, max_retries=0)
        self.pipeline = ModerationPipeline(self._api.moderations.create, self)
        self._settings: dict[int, tuple[float, ModerationSettings]] = {}
        self._incidents: dict[tuple[int, str], float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._flushing: asyncio.Task[None] | None = None
        self._output_ids = 0

    async def cog_load(self) -> None:
        self._purge_loop.start()
        self.bot.output_review.register(self.review_output)
        left = await self.records.recover_pending()
        for guild_id in sorted({m.guild_id for m in left}):
            count = sum(1 for m in left if m.guild_id == guild_id)
            self._spawn(self._notify_when_ready(guild_id, count))

    async def cog_unload(self) -> None:
        self.bot.output_review.unregister(self.review_output)
        self._purge_loop.cancel()
        await self.pipeline.close()
        for task in list(self._tasks):
            if not task.done():
                await asyncio.wait({task}, timeout=5)
        await self.records.flush()

    # -- data kept ------------------------------------------------------------------------------

    @tasks.loop(hours=PURGE_INTERVAL_HOURS)
    async def _purge_loop(self) -> None:
        await self.purge_old_excerpts()

    async def purge_old_excerpts(self) -> int:
        """Drop flagged messages' text past each server's `keep_excerpt_days`."""
        try:
            customised = await self.bot.feature_settings.customised(FEATURE)
            days = {
                guild_id: s.keep_excerpt_days
                for guild_id, s in customised.items()
                if isinstance(s, ModerationSettings)
            }
            return await self.records.purge(ModerationSettings().keep_excerpt_days, days)
        except Exception:
            log.exception("moderation: could not purge old excerpts; trying again later")
            return 0

    # -- intake ----------------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        await self._consider(message)

    @commands.Cog.listener()
    async def on_message_edit(self, before: discord.Message, after: discord.Message) -> None:
        if before.content != after.content:
            await self._consider(after)

    async def _consider(self, message: discord.Message) -> None:
        guild = message.guild
        if guild is None or message.author.bot or message.webhook_id is not None:
            return
        if message.type not in _CHECKED_TYPES or not self.bot.features.is_available(FEATURE.name):
            return
        settings = await self._settings_for(guild.id)
        if not settings.enabled:
            return
        channel = message.channel
        parent = getattr(channel, "parent_id", None)
        if not settings.checks_channel(channel.id, parent):
            return
        roles = getattr(message.author, "roles", [])
        if settings.exempt_role_ids and any(role.id in settings.exempt_role_ids for role in roles):
            return
        model = settings.model or self.bot.settings.moderation_model
        images = []
        if model.startswith("omni"):
            images = [
                a.url
                for a in message.attachments
                if (a.content_type or "").startswith("image/") and a.size < MAX_IMAGE_BYTES
            ]
        texts = split_text(message.content)
        if not texts and not images:
            return
        self.pipeline.submit(
            Job(message.id, guild.id, model, texts, images, payload=Origin(message, settings))
        )

    async def _settings_for(self, guild_id: int) -> ModerationSettings:
        now = time.monotonic()
        cached = self._settings.get(guild_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        settings = await self.bot.feature_settings.get(guild_id, FEATURE)
        assert isinstance(settings, ModerationSettings)
        if len(self._settings) > 10_000:
            self._settings.clear()
        self._settings[guild_id] = (now + SETTINGS_TTL, settings)
        return settings

    async def check_output(self, guild_id: int, text: str) -> Verdict | None:
        """For features about to post AI output here in full (/write answers, chat, transcripts):
        the server's verdict on it, batched with the channel messages. None when moderation or
        `check_bot_output` is off here, or the text could not be checked before its deadline."""
        settings = await self._settings_for(guild_id)
        if not (settings.enabled and settings.check_bot_output) or not self.bot.features.is_available(
            FEATURE.name
        ):
            return None
        texts = split_text(text)
        if not texts:
            return None
        model = settings.model or self.bot.settings.moderation_model
        check = OutputCheck(settings, asyncio.get_running_loop().create_future())
        self._output_ids -= 1  # negative: never a Discord message id
        self.pipeline.submit(Job(self._output_ids, guild_id, model, texts, payload=check))
        # Wait by sleeping, not by awaiting the future the pipeline's task sets: a harness (simcord)
        # cannot tell a task parked on another task's future from a hang. A batch takes at least
        # its 250 ms gathering window, so checking every 50 ms costs nothing that matters.
        while not check.result.done():  # noqa: ASYNC110  (see the comment above)
            await asyncio.sleep(_OUTPUT_POLL_SECONDS)
        return check.result.result()

    async def review_output(self, guild_id: int, text: str) -> list[str] | None:
        """The bot's output reviewer (see `bot.output_review`): the flagged categories, or None."""
        verdict = await self.check_output(guild_id, text)
        return None if verdict is None else list(verdict.flagged)

    def forget_settings(self, guild_id: int) -> None:
        """Settings changed (e.g. through /config): read them again for the next message."""
        self._settings.pop(guild_id, None)

    # -- the pipeline's sink (called from its task; nothing here waits) ---------------------------

    def queued(self, job: Job) -> None:
        if isinstance(job.payload, Origin):
            self.records.journal(_pending(job))
            self._flush_soon()

    def checked(self, job: Job) -> None:
        origin = job.payload
        if isinstance(origin, OutputCheck):
            if not origin.result.done():
                origin.result.set_result(decide(job.scores, origin.settings))
            return
        assert isinstance(origin, Origin)
        self.records.settled(job.message_id)
        self.records.count(job.guild_id, "checked")
        verdict = decide(job.scores, origin.settings)
        if verdict.is_flagged:
            self.records.count(job.guild_id, "flagged")
            self._spawn(self._act(origin, verdict))
        self._flush_soon()

    def unchecked(self, job: Job, reason: str) -> None:
        if isinstance(job.payload, OutputCheck):
            if not job.payload.result.done():
                job.payload.result.set_result(None)
            return
        self.records.unchecked(_pending(job), reason)
        self._flush_soon()
        if reason in ("api_error", "refused"):
            # Not a matter of time: the API refuses these requests (key, model, input).
            self._report(job.guild_id, "api_error", "moderation.incident.api_error")
        else:
            self._report(job.guild_id, "unchecked", "moderation.incident.unchecked")

    def api_call(self, jobs: list[Job], model: str, tokens: dict[int, int], status: int) -> None:
        for guild_id in tokens:
            self.records.count(guild_id, "api_calls")
            if status == 429:
                self.records.count(guild_id, "http_429")
        if status == 200 and self.bot.user is not None:
            bot_id = self.bot.user.id
            for guild_id, used in tokens.items():
                event = UsageEvent(
                    guild_id=guild_id,
                    user_id=bot_id,
                    feature=FEATURE.name,
                    model=model,
                    input_tokens=used,
                    estimated=True,
                    cost_usd=Decimal(0),
                )
                self._spawn(self._record_usage(event))

    async def _record_usage(self, event: UsageEvent) -> None:
        try:
            await self.bot.ledger.record(event)
        except Exception:
            log.exception("moderation: could not record a call in the usage ledger")

    def _flush_soon(self) -> None:
        if self._flushing is None or self._flushing.done():
            self._flushing = self._spawn(self._flush())

    async def _flush(self) -> None:
        while self.records.dirty:
            try:
                await self.records.flush()
            except Exception:
                log.exception("moderation: could not write counters and the queue journal")
                return

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- acting on a flag ------------------------------------------------------------------------

    async def _act(self, origin: Origin, verdict: Verdict) -> None:
        message = origin.message
        guild = message.guild
        assert guild is not None
        limits = self.bot.discord_limits
        locale = await self._guild_locale(guild)
        taken = ["log"]
        missing: list[str] = []
        author = message.author
        with rest_priority(Priority.MODERATION):
            if verdict.delete:
                if limits.may(message.channel, "delete"):
                    try:
                        await message.delete()
                        taken.append("delete")
                    except discord.NotFound:
                        taken.append("delete")  # already gone
                    except discord.Forbidden:
                        missing.append("delete")
                else:
                    missing.append("delete")
            if verdict.timeout_minutes:
                if isinstance(author, discord.Member) and limits.may(author, "timeout"):
                    try:
                        await author.timeout(
                            timedelta(minutes=verdict.timeout_minutes),
                            reason=t("moderation.audit_reason", locale),
                        )
                        taken.append("timeout")
                    except discord.Forbidden:
                        missing.append("timeout")
                else:
                    missing.append("timeout")
            if verdict.warn:
                if limits.may(message.channel, "send"):
                    try:
                        await message.channel.send(
                            t(
                                "moderation.warn",
                                locale,
                                user=author.mention,
                                categories=_category_list(verdict, locale),
                            ),
                            allowed_mentions=discord.AllowedMentions(
                                everyone=False, roles=False, users=[author], replied_user=False
                            ),
                            delete_after=WARN_SECONDS,
                        )
                        taken.append("warn")
                    except discord.Forbidden:
                        missing.append("warn")
                else:
                    missing.append("warn")
        excerpt = message.content[:EXCERPT_CHARS]
        audit_id = await self.records.add_flagged(
            guild_id=guild.id,
            channel_id=message.channel.id,
            message_id=message.id,
            author_id=author.id,
            scores=verdict.flagged,
            actions=taken,
            excerpt=excerpt,
        )
        self.records.count(guild.id, "actions", len(taken))
        self._flush_soon()
        for action in missing:
            self._report(guild.id, f"missing:{action}", f"moderation.incident.missing_{action}")
        await self._post_log_entry(origin, verdict, taken, audit_id, locale)
        if any(a in taken for a in ("delete", "timeout", "warn")):
            await self._offer_appeal(message, taken, audit_id, locale)

    async def _post_log_entry(
        self, origin: Origin, verdict: Verdict, taken: list[str], audit_id: int, locale: str
    ) -> None:
        message = origin.message
        guild = message.guild
        assert guild is not None
        channel = await self._log_channel(guild)
        if channel is None:
            return
        embed = discord.Embed(
            title=t("moderation.log.title", locale),
            colour=discord.Colour.orange(),
        )
        embed.add_field(name=t("moderation.log.author", locale), value=message.author.mention)
        embed.add_field(name=t("moderation.log.channel", locale), value=f"<#{message.channel.id}>")
        embed.add_field(name=t("moderation.log.link", locale), value=message.jump_url, inline=False)
        embed.add_field(
            name=t("moderation.log.categories", locale), value=_category_list(verdict, locale), inline=False
        )
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
            self._report(guild.id, "missing:log", "moderation.incident.missing_log", to_owner=True)
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

    # -- incidents -------------------------------------------------------------------------------

    def _report(self, guild_id: int, kind: str, key: str, *, to_owner: bool = False, **params: Any) -> None:
        """Tell the server once per incident: a new report of the same kind waits INCIDENT_QUIET_SECONDS."""
        now = time.monotonic()
        last = self._incidents.get((guild_id, kind))
        self._incidents[(guild_id, kind)] = now
        if last is not None and now - last < INCIDENT_QUIET_SECONDS:
            return
        self._spawn(self._send_report(guild_id, key, to_owner, params))

    async def _send_report(self, guild_id: int, key: str, to_owner: bool, params: dict[str, Any]) -> None:
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            return
        locale = await self._guild_locale(guild)
        text = t(key, locale, **params)
        channel = None if to_owner else await self._log_channel(guild)
        try:
            if channel is not None:
                await channel.send(text, allowed_mentions=NO_PINGS)
                return
        except discord.HTTPException:
            pass
        owner = guild.owner or (await guild.fetch_member(guild.owner_id) if guild.owner_id else None)
        if owner is None:
            return
        try:
            await owner.send(t("moderation.incident.owner", locale, server=guild.name, text=text))
        except discord.HTTPException:
            log.warning("moderation: could not tell guild %d about an incident (%s)", guild_id, key)

    async def _notify_when_ready(self, guild_id: int, count: int) -> None:
        await self.bot.wait_until_ready()
        self._report(guild_id, "unchecked", "moderation.incident.restart", count=count)

    async def _log_channel(self, guild: discord.Guild) -> discord.TextChannel | discord.Thread | None:
        settings = await self.bot.guild_settings.get(guild.id)
        if settings.log_channel_id is None:
            return None
        channel = guild.get_channel_or_thread(settings.log_channel_id)
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            return None
        if not self.bot.discord_limits.may(channel, "send"):
            self._report(guild.id, "missing:log", "moderation.incident.missing_log", to_owner=True)
            return None
        return channel

    async def _guild_locale(self, guild: discord.Guild) -> str:
        settings = await self.bot.guild_settings.get(guild.id)
        if settings.reply_locale:
            return settings.reply_locale
        return "zh-CN" if str(guild.preferred_locale).startswith("zh") else "en-US"

    # -- buttons ---------------------------------------------------------------------------------

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
        channel = None if guild is None else await self._log_channel(guild)
        if channel is None:
            await interaction.followup.send(t("moderation.appeal.nowhere", locale), ephemeral=True)
            return
        guild_locale = await self._guild_locale(channel.guild)
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

    # -- commands --------------------------------------------------------------------------------

    @app_commands.command(
        name=locale_str("moderate", key="cmd.moderate.name"),
        description=locale_str(
            "See how the moderation model scores a text (only you see it)", key="cmd.moderate.description"
        ),
    )
    @app_commands.guild_only()
    @app_commands.rename(text=locale_str("text", key="cmd.moderate.opt.text.name"))
    @app_commands.describe(text=locale_str("The text to score", key="cmd.moderate.opt.text.description"))
    async def moderate(
        self, interaction: discord.Interaction[Any], text: app_commands.Range[str, 1, 4000]
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        settings = ctx.settings
        assert isinstance(settings, ModerationSettings)
        model = ctx.model or self.bot.settings.moderation_model
        try:
            response = await self.bot.api.moderations.create(input=split_text(text), model=model)
        except OpenAIError:
            log.exception("/moderate failed")
            await interaction.followup.send(t("moderation.moderate.failed", ctx.locale), ephemeral=True)
            return
        scores: dict[str, float] = {}
        for result in response.results:
            for category, score in result.category_scores.items():
                scores[category] = max(score, scores.get(category, 0.0))
        verdict = decide(scores, settings)
        lines = [
            t(
                "moderation.moderate.flagged" if verdict.is_flagged else "moderation.moderate.clean",
                ctx.locale,
            )
        ]
        for category, score in sorted(scores.items(), key=lambda item: -item[1])[:8]:
            mark = "⚠️" if category in verdict.flagged else "·"
            lines.append(f"{mark} `{category}` {score:.3f}")
        await interaction.followup.send("\n".join(lines), ephemeral=True, allowed_mentions=NO_PINGS)
        if ctx.guild_id is not None:
            await self._record_usage(
                UsageEvent(
                    guild_id=ctx.guild_id,
                    channel_id=interaction.channel_id,
                    user_id=interaction.user.id,
                    feature=FEATURE.name,
                    model=response.model or model,
                    request_id=response.meta.request_id,
                    input_tokens=sum(estimate_tokens(p) for p in split_text(text)),
                    estimated=True,
                    cost_usd=Decimal(0),
                )
            )

    group = app_commands.Group(
        name=locale_str("moderation", key="cmd.moderation.name"),
        description=locale_str("Automatic moderation of this server", key="cmd.moderation.description"),
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    @group.command(
        name=locale_str("status", key="cmd.moderation.status.name"),
        description=locale_str(
            "Checked, flagged and unchecked messages in the last 24 hours",
            key="cmd.moderation.status.description",
        ),
    )
    async def status(self, interaction: discord.Interaction[Any]) -> None:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        if not ctx.member_permissions.manage_guild:
            raise app_commands.MissingPermissions(["manage_guild"])
        assert ctx.guild_id is not None
        await interaction.response.send_message(
            await self.status_text(ctx.guild_id, ctx.locale, ctx.settings), ephemeral=True
        )

    async def status_text(self, guild_id: int, locale: str, settings: Any) -> str:
        """The last 24 hours, as /moderation status (and /config moderation status) show them."""
        counts = await self.records.status(guild_id)
        state = "on" if settings is not None and settings.enabled else "off"
        return t("moderation.status", locale, state=t(f"moderation.state.{state}", locale), **counts)


def _pending(job: Job) -> PendingMessage:
    origin = job.payload
    assert isinstance(origin, Origin)
    message = origin.message
    return PendingMessage(job.message_id, job.guild_id, message.channel.id, message.author.id)


def _category_list(verdict: Verdict, locale: str) -> str:
    return ", ".join(f"{category} ({score:.2f})" for category, score in verdict.flagged.items())
