"""Automatic moderation: channel messages checked in batches, flagged ones handed to actions.py, their
buttons to reviews.py. Also /moderate (anyone: a text's scores, nothing stored) and /moderation status."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands, tasks

from bot.clients import build_api_client
from bot.discord_io.mentions import NO_PINGS
from bot.i18n import t
from bot.openai_api import OpenAIError
from bot.retention import purge_past_retention
from bot.usage import UsageEvent
from cogs.moderation.actions import FlagActions
from cogs.moderation.feature import FEATURE, ModerationSettings
from cogs.moderation.notices import ServerNotices
from cogs.moderation.pacing import estimate_tokens
from cogs.moderation.pipeline import Job, ModerationPipeline, split_text
from cogs.moderation.policy import Verdict, decide
from cogs.moderation.records import ModerationRecords, PendingMessage
from cogs.moderation.reviews import Reviews
from cogs.moderation.views import ButtonAction

if TYPE_CHECKING:
    from bot.app import OpenAIBot

log = logging.getLogger(__name__)

# Images the API accepts for moderation (omni models only).
MAX_IMAGE_BYTES = 20 * 1024 * 1024
# How often the text of old flagged messages is purged.
PURGE_INTERVAL_HOURS = 6.0
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
        self._tasks: set[asyncio.Task[Any]] = set()
        self.notices = ServerNotices(bot, self._spawn)
        self.actions = FlagActions(bot, self.records, self.notices, self._flush_soon)
        self.reviews = Reviews(bot, self.records, self.notices)
        self._flushing: asyncio.Task[None] | None = None
        self._output_ids = 0

    async def cog_load(self) -> None:
        self._purge_loop.start()
        self.bot.output_review.register(self.review_output)
        left = await self.records.recover_pending()
        for guild_id in sorted({m.guild_id for m in left}):
            count = sum(1 for m in left if m.guild_id == guild_id)
            self._spawn(self.notices.report_when_ready(guild_id, count))

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
        return await purge_past_retention(
            self.bot.feature_settings, FEATURE, "keep_excerpt_days", self.records.purge, "moderation excerpts"
        )

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
        # Read per message: the repository keeps each server's settings in memory, and a /config
        # change reaches the very next message.
        settings = await self.bot.feature_settings.get(guild_id, FEATURE)
        assert isinstance(settings, ModerationSettings)
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
            self._spawn(self.actions.act(origin.message, verdict))
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
            self.notices.report(job.guild_id, "api_error", "moderation.incident.api_error")
        else:
            self.notices.report(job.guild_id, "unchecked", "moderation.incident.unchecked")

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

    # -- buttons (see views.py) -----------------------------------------------------------------

    async def on_button(
        self, interaction: discord.Interaction[Any], action: ButtonAction, guild_id: int, audit_id: int
    ) -> None:
        await self.reviews.on_button(interaction, action, guild_id, audit_id)

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
        """The last 24 hours, as /moderation status shows them."""
        counts = await self.records.status(guild_id)
        state = "on" if settings is not None and settings.enabled else "off"
        return t("moderation.status", locale, state=t(f"moderation.state.{state}", locale), **counts)


def _pending(job: Job) -> PendingMessage:
    origin = job.payload
    assert isinstance(origin, Origin)
    message = origin.message
    return PendingMessage(job.message_id, job.guild_id, message.channel.id, message.author.id)
