"""Transcription's ways in: /transcribe, the "Transcribe" message menu, and automatic replies to
audio in the channels a server enabled. All share one lane per server and one reply builder."""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands, tasks

from bot.discord_io.rest_budget import Priority, rest_priority
from bot.errors import UserFacingError
from bot.i18n import match_locale
from bot.retention import purge_past_retention
from cogs.transcribe.answer import Section, TranscriptionReply
from cogs.transcribe.audio_files import Refusal, audio_attachments, is_audio, refusal_before_download
from cogs.transcribe.feature import FEATURE, TranscribeSettings
from cogs.transcribe.lanes import ServerLanes
from cogs.transcribe.sinks import InteractionSink, ReplySink
from cogs.transcribe.store import TranscriptRepo
from cogs.transcribe.transcriber import Format, Job, Transcriber

if TYPE_CHECKING:
    from bot.app import OpenAIBot
    from bot.context import InteractionContext

log = logging.getLogger(__name__)

#: Transcriptions running at once in one server; the rest wait their turn in arrival order.
CONCURRENCY_PER_SERVER = 2
# Put on the member's message when its audio is taken in: heard, and answered in turn.
WORKING_EMOJI = "🎧"
SHUTDOWN_GRACE_SECONDS = 5.0
# How often transcripts past their server's retention are purged.
PURGE_INTERVAL_HOURS = 6.0


class ModelNotAllowed(UserFacingError):
    key = "transcribe.error.model_not_allowed"

    def __init__(self, model: str, allowed: tuple[str, ...]) -> None:
        super().__init__(model=model, allowed=", ".join(allowed))


class NotAudio(UserFacingError):
    key = "transcribe.error.not_audio"


class NoAudio(UserFacingError):
    key = "transcribe.error.no_audio"


def _refusal_error(refusal: Refusal) -> UserFacingError:
    error = UserFacingError(**refusal.params)
    error.key = refusal.key
    return error


class TranscribeCog(commands.Cog, name="Transcribe"):
    def __init__(self, bot: OpenAIBot, *, concurrency: int = CONCURRENCY_PER_SERVER) -> None:
        self.bot = bot
        self.transcripts = TranscriptRepo(bot.db)
        self.transcriber = Transcriber(bot, self.transcripts)
        self.lanes = ServerLanes(concurrency)
        # Automatic mode stops after a budget refused it, until that budget resets: the refusal is
        # said once, not on every voice message. Keyed by server (monthly) or (server, member).
        self._paused_until: dict[tuple[int, int | None], datetime] = {}
        self.menu: app_commands.ContextMenu = app_commands.ContextMenu(
            name=locale_str("Transcribe", key="menu.transcribe.label"), callback=self.transcribe_message
        )
        self.menu.guild_only = True

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)
        self._purge_old_transcripts.start()

    async def cog_unload(self) -> None:
        self._purge_old_transcripts.cancel()
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)
        await self.lanes.close(SHUTDOWN_GRACE_SECONDS)

    @tasks.loop(hours=PURGE_INTERVAL_HOURS)
    async def _purge_old_transcripts(self) -> None:
        await self.purge_old_transcripts(datetime.now(UTC))

    async def purge_old_transcripts(self, now: datetime) -> int:
        """Delete transcripts past each server's retention (`keep_transcripts_days`)."""
        return await purge_past_retention(
            self.bot.feature_settings,
            FEATURE,
            "keep_transcripts_days",
            lambda default, days: self.transcripts.purge(now, default, days),
            "transcripts",
        )

    # -- checks -------------------------------------------------------------------------------------

    def _check(self, ctx: InteractionContext) -> tuple[TranscribeSettings, str]:
        settings = ctx.require_feature("view_channel", "send_messages")
        assert isinstance(settings, TranscribeSettings)
        model = ctx.model
        assert model is not None, "transcribe declares a default model setting"
        if not settings.is_model_allowed(model):
            raise ModelNotAllowed(model, settings.allowed_models)
        return settings, model

    @staticmethod
    def _job(
        interaction: discord.Interaction[Any],
        attachment: discord.Attachment,
        settings: TranscribeSettings,
        model: str,
        *,
        message_id: int | None,
        fmt: Format = "text",
        language: str | None = None,
        prompt: str | None = None,
    ) -> Job:
        assert interaction.guild_id is not None and interaction.channel_id is not None
        return Job(
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            user_id=interaction.user.id,
            message_id=message_id,
            attachment=attachment,
            model=model,
            format=fmt,
            language=language,
            prompt=prompt,
            max_bytes=settings.max_file_mb * 1024 * 1024,
        )

    # -- /transcribe ----------------------------------------------------------------------------------

    @app_commands.command(
        name=locale_str("transcribe", key="cmd.transcribe.name"),
        description=locale_str("Turn an audio file into text", key="cmd.transcribe.description"),
    )
    @app_commands.guild_only()
    @app_commands.rename(
        file=locale_str("file", key="cmd.transcribe.opt.file.name"),
        language=locale_str("language", key="cmd.transcribe.opt.language.name"),
        format=locale_str("format", key="cmd.transcribe.opt.format.name"),
        prompt=locale_str("prompt", key="cmd.transcribe.opt.prompt.name"),
    )
    @app_commands.describe(
        file=locale_str(
            "The audio file (mp3, m4a, ogg, wav, webm, flac…)", key="cmd.transcribe.opt.file.description"
        ),
        language=locale_str(
            "Spoken language as an ISO code (en, zh…); detected if empty",
            key="cmd.transcribe.opt.language.description",
        ),
        format=locale_str(
            "How the transcript comes back (default text)", key="cmd.transcribe.opt.format.description"
        ),
        prompt=locale_str(
            "Words or spellings to expect (names, terms)", key="cmd.transcribe.opt.prompt.description"
        ),
    )
    async def transcribe(
        self,
        interaction: discord.Interaction[Any],
        file: discord.Attachment,
        language: app_commands.Range[str, 2, 5] | None = None,
        format: Literal["text", "srt", "vtt", "verbose_json"] = "text",
        prompt: app_commands.Range[str, 1, 500] | None = None,
    ) -> None:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        settings, model = self._check(ctx)
        if not is_audio(file):
            raise NotAudio()
        refusal = refusal_before_download(file, settings)
        if refusal is not None:
            raise _refusal_error(refusal)
        job = self._job(
            interaction,
            file,
            settings,
            model,
            message_id=None,
            fmt=format,
            language=language.strip().lower() if language else None,
            prompt=prompt,
        )
        await self._answer_interaction(ctx, [job], format)

    # -- the message menu -----------------------------------------------------------------------------

    async def transcribe_message(
        self, interaction: discord.Interaction[Any], message: discord.Message
    ) -> None:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        settings, model = self._check(ctx)
        audio = audio_attachments(message)
        if not audio:
            raise NoAudio()
        items: list[Job | tuple[str, Refusal]] = []
        for attachment in audio:
            refusal = refusal_before_download(attachment, settings)
            if refusal is not None:
                items.append((attachment.filename, refusal))
            else:
                items.append(self._job(interaction, attachment, settings, model, message_id=message.id))
        await self._answer_interaction(ctx, items, "text", owner_id=message.author.id)

    async def _answer_interaction(
        self,
        ctx: InteractionContext,
        items: list[Job | tuple[str, Refusal]],
        fmt: Format,
        *,
        owner_id: int | None = None,
    ) -> None:
        interaction = ctx.interaction
        # Downloads and the API are slow: acknowledge before either.
        await interaction.response.defer(thinking=True)
        assert ctx.guild_id is not None and interaction.channel_id is not None
        reply = TranscriptionReply(
            self.transcriber,
            InteractionSink(interaction),
            self.bot.edit_scheduler,
            interaction.channel_id,
            owner_id=owner_id if owner_id is not None else interaction.user.id,
            locale=ctx.locale,
            fmt=fmt,
        )
        # A member's own request runs in their interaction at once (Discord paces those); the
        # server's lanes are for what arrives unasked, in bursts.
        await reply.run(items)

    # -- automatic mode -------------------------------------------------------------------------------

    def automatic_possible(self) -> bool:
        """Without the Message Content intent Discord sends no attachments of other members' messages."""
        return bool(self.bot.intents.message_content)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.guild is None or not message.attachments:
            return
        if not self.automatic_possible() or not self.bot.features.is_available(FEATURE.name):
            return
        audio = audio_attachments(message)
        if not audio or self._paused(message.guild.id, message.author.id):
            return
        settings = await self.bot.feature_settings.get(message.guild.id, FEATURE)
        assert isinstance(settings, TranscribeSettings)
        parent_id = getattr(message.channel, "parent_id", None)
        if not settings.automatic_in(message.channel.id, parent_id):
            return
        if not self.bot.discord_limits.may(message.channel, "send"):
            log.info("Not transcribing in channel %s: the bot may not send there", message.channel.id)
            return
        self.lanes.submit(message.guild.id, partial(self._automatic, message, audio, settings))
        # Seen at once when Discord's budget allows: the member knows their audio was heard. Left
        # in place (removing it would be another request), and behind replies in the REST budget:
        # in a burst, answers matter more than markers.
        with contextlib.suppress(discord.HTTPException), rest_priority(Priority.COSMETIC):
            await message.add_reaction(WORKING_EMOJI)

    async def _automatic(
        self, message: discord.Message, audio: list[discord.Attachment], settings: TranscribeSettings
    ) -> None:
        assert message.guild is not None
        guild_id = message.guild.id
        try:
            guild = await self.bot.guild_settings.get(guild_id)
            locale = guild.reply_locale or match_locale(message.guild.preferred_locale) or "en-US"
            model = settings.model or self.bot.settings.transcription_model
            items: list[Job | tuple[str, Refusal]] = []
            for attachment in audio:
                refusal = refusal_before_download(attachment, settings)
                if refusal is not None:
                    items.append((attachment.filename, refusal))
                    continue
                items.append(
                    Job(
                        guild_id=guild_id,
                        channel_id=message.channel.id,
                        user_id=message.author.id,
                        message_id=message.id,
                        attachment=attachment,
                        model=model,
                        max_bytes=settings.max_file_mb * 1024 * 1024,
                    )
                )
            reply = TranscriptionReply(
                self.transcriber,
                ReplySink(message),
                self.bot.edit_scheduler,
                message.channel.id,
                owner_id=message.author.id,
                locale=locale,
            )
            sections = await reply.run(items)
            self._pause_for_refusals(guild_id, message.author.id, sections)
        except Exception:
            log.exception("Automatic transcription of message %s failed", message.id)

    def _paused(self, guild_id: int, user_id: int) -> bool:
        now = datetime.now(UTC)
        return any(
            key in self._paused_until and now < self._paused_until[key]
            for key in ((guild_id, None), (guild_id, user_id))
        )

    def _pause_for_refusals(self, guild_id: int, user_id: int, sections: list[Section]) -> None:
        for section in sections:
            refusal = section.budget_refusal
            if refusal is None or section.outcome is not None:
                continue
            owner = None if refusal.scope == "server_month" else user_id
            self._paused_until[(guild_id, owner)] = refusal.resets_at
            log.info(
                "Automatic transcription paused in guild %s until %s (budget)", guild_id, refusal.resets_at
            )
