"""One attachment transcribed: answer from the stored transcript, or download, call the API
(streamed for gpt-4o*-transcribe), store the result and record its usage once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

import discord

from bot.errors import UserFacingError
from bot.openai_api import OpenAIError, Transcription, TranscriptionUsage
from bot.usage import UsageEvent
from bot.usage.budgets import Reservation
from cogs.transcribe.audio_files import ESTIMATE_BYTES_PER_SECOND, known_seconds, upload_name
from cogs.transcribe.store import Segment, StoredTranscript, TranscriptRepo

if TYPE_CHECKING:
    from bot.app import OpenAIBot

log = logging.getLogger(__name__)

Format = Literal["text", "srt", "vtt", "verbose_json"]
TIMESTAMPED_FORMATS: frozenset[str] = frozenset({"srt", "vtt", "verbose_json"})


def json_only(model: str) -> bool:
    """gpt-4o*-transcribe models answer only json (no segments), and they stream."""
    return model.startswith("gpt-4o")


class FormatNeedsTimestamps(UserFacingError):
    key = "transcribe.error.format_needs_whisper"

    def __init__(self, fmt: str, model: str) -> None:
        super().__init__(format=fmt, model=model)


class DownloadFailed(UserFacingError):
    key = "transcribe.error.download"

    def __init__(self, name: str) -> None:
        super().__init__(name=name)


class TooLarge(UserFacingError):
    key = "transcribe.error.too_large"

    def __init__(self, name: str, size: int, max_mb: int) -> None:
        super().__init__(name=name, size_mb=f"{size / 1024 / 1024:.1f}", max_mb=max_mb)


@dataclass(frozen=True, slots=True)
class Job:
    guild_id: int
    channel_id: int
    user_id: int
    message_id: int | None
    attachment: discord.Attachment
    model: str
    format: Format = "text"
    language: str | None = None
    prompt: str | None = None
    max_bytes: int = 25 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Outcome:
    transcript: StoredTranscript
    #: Answered from the stored transcript: no API call, nothing recorded.
    cached: bool
    seconds: float | None = None
    cost: Decimal | None = None


def _segments(result: Transcription) -> tuple[Segment, ...] | None:
    if result.segments is None:
        return None
    return tuple(
        (float(s.get("start", 0.0)), float(s.get("end", 0.0)), str(s.get("text", "")))
        for s in result.segments
    )


# 32 kbit/s, the lowest bitrate voice recordings commonly use: a file's size read at it gives the
# longest the audio can be, so a reservation from it is never too small.
WORST_BYTES_PER_SECOND = 4_000


class Transcriber:
    def __init__(self, bot: OpenAIBot, repo: TranscriptRepo) -> None:
        self.bot = bot
        self.repo = repo

    async def run(self, job: Job, on_text: Callable[[str], None] | None = None) -> Outcome:
        """The transcript; `on_text(text_so_far)` is called as a streamed transcript grows."""
        stored = await self.repo.get(job.guild_id, job.attachment.id)
        if stored is not None and (job.format not in TIMESTAMPED_FORMATS or stored.segments is not None):
            return Outcome(stored, cached=True, seconds=stored.duration)
        if job.format in TIMESTAMPED_FORMATS and json_only(job.model):
            raise FormatNeedsTimestamps(job.format, job.model)
        reservation = await self._reserve(job)  # raises BudgetExceeded: nothing downloaded or called
        try:
            return await self._transcribe(job, on_text)
        finally:
            try:
                await self.bot.budgets.release(reservation)
            except Exception:
                log.exception("Could not release budget reservation %s (it expires)", reservation.id)

    async def _reserve(self, job: Job) -> Reservation:
        """Hold the worst case: the audio's known length, else its size at the lowest usual bitrate."""
        seconds = known_seconds(job.attachment) or job.attachment.size / WORST_BYTES_PER_SECOND
        guild = self.bot.get_guild(job.guild_id)
        member = guild.get_member(job.user_id) if guild is not None else None
        return await self.bot.budgets.reserve(
            guild_id=job.guild_id,
            user_id=job.user_id,
            feature="transcribe",
            amount=self.bot.pricing.cost(job.model, audio_seconds=round(seconds, 2)),
            settings=await self.bot.guild_settings.get(job.guild_id),
            role_ids=[role.id for role in member.roles] if member is not None else [],
        )

    async def _transcribe(self, job: Job, on_text: Callable[[str], None] | None) -> Outcome:
        data = await self._download(job)
        name = upload_name(job.attachment)
        usage: TranscriptionUsage | None
        request_id: str | None
        if json_only(job.model):
            stream = await self.bot.api.audio.stream_transcription(
                file=data, filename=name, model=job.model, language=job.language, prompt=job.prompt
            )
            try:
                async with stream:
                    async for event in stream:
                        if on_text is not None and event.type == "transcript.text.delta":
                            on_text(stream.text)
            except OpenAIError:
                # The audio was sent and partly transcribed: what it used is recorded, estimated.
                partial = StoredTranscript(model=job.model, text=stream.text)
                seconds, _ = self._seconds(job, partial, None, len(data))
                await self._record(job, None, stream.meta.request_id, seconds, True)
                raise
            transcript = StoredTranscript(model=job.model, text=stream.text.strip(), language=job.language)
            usage, request_id = stream.usage, stream.meta.request_id
        else:
            result = await self.bot.api.audio.transcribe(
                file=data,
                filename=name,
                model=job.model,
                language=job.language,
                prompt=job.prompt,
                response_format="verbose_json",
            )
            assert isinstance(result, Transcription)
            transcript = StoredTranscript(
                model=job.model,
                text=result.text.strip(),
                language=result.language or job.language,
                duration=result.duration,
                segments=_segments(result),
            )
            usage, request_id = result.usage, result.meta.request_id
        seconds, estimated = self._seconds(job, transcript, usage, len(data))
        transcript = transcript.model_copy(update={"duration": transcript.duration or seconds})
        await self.repo.put(job.guild_id, job.attachment.id, job.message_id, transcript)
        cost = await self._record(job, usage, request_id, seconds, estimated)
        return Outcome(transcript, cached=False, seconds=seconds, cost=cost)

    async def _download(self, job: Job) -> bytes:
        """The attachment's bytes from Discord's CDN (its own URL, as discord.py reads it)."""
        attachment = job.attachment
        if attachment.size > job.max_bytes:  # checked before, but never download past the cap
            raise TooLarge(attachment.filename, attachment.size, job.max_bytes // (1024 * 1024))
        try:
            data = await attachment.read()
        except (discord.HTTPException, discord.NotFound) as exc:
            log.info("Could not download attachment %s: %s", attachment.id, exc)
            raise DownloadFailed(attachment.filename) from None
        if len(data) > job.max_bytes:
            raise TooLarge(attachment.filename, len(data), job.max_bytes // (1024 * 1024))
        return data

    @staticmethod
    def _seconds(
        job: Job, transcript: StoredTranscript, usage: TranscriptionUsage | None, size: int
    ) -> tuple[float, bool]:
        """Audio seconds: the voice message's own, the response's, or an estimate (marked)."""
        for value in (known_seconds(job.attachment), transcript.duration, usage.seconds if usage else None):
            if value is not None:
                return float(value), False
        return round(size / ESTIMATE_BYTES_PER_SECOND, 2), True

    async def _record(
        self,
        job: Job,
        usage: TranscriptionUsage | None,
        request_id: str | None,
        seconds: float,
        estimated: bool,
    ) -> Decimal | None:
        """Token-priced where the server reports tokens and the table prices them; else per minute."""
        pricing = self.bot.pricing
        price = pricing.price_for(job.model)
        input_tokens = (usage.input_tokens or 0) if usage else 0
        output_tokens = (usage.output_tokens or 0) if usage else 0
        by_tokens = (
            usage is not None
            and usage.type == "tokens"
            and price is not None
            and (price.input_per_1m > 0 or price.output_per_1m > 0)
        )
        if by_tokens:
            cost = pricing.cost(job.model, input_tokens=input_tokens, output_tokens=output_tokens)
            estimated = False
        else:
            cost = pricing.cost(job.model, audio_seconds=seconds)
        event = UsageEvent(
            guild_id=job.guild_id,
            channel_id=job.channel_id,
            user_id=job.user_id,
            feature="transcribe",
            model=job.model,
            request_id=request_id,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            audio_seconds=seconds,
            estimated=estimated,
            cost_usd=cost,
        )
        try:
            await self.bot.ledger.record(event)
        except Exception:
            log.exception("Usage of a transcription NOT recorded: %r", event)
        return cost


__all__ = ["Format", "Job", "OpenAIError", "Outcome", "Transcriber", "json_only"]
