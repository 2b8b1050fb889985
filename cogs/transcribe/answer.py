"""One transcription reply: each audio attachment in order, streamed where the model streams,
then the final text (quoted, split cleanly), footer, Delete button and any file."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

import discord

from bot.discord_io.live_text import LONG_TEXT_THRESHOLD, LiveTextSequence, MessageSink
from bot.error_handler import known_error_text
from bot.errors import UserFacingError
from bot.i18n import t
from bot.openai_api import BadRequestError, OpenAIError
from bot.usage.budgets import BudgetExceeded
from bot.usage.cost import format_usd
from bot.usage.refusal import budget_refusal_text
from cogs.transcribe import render
from cogs.transcribe.audio_files import Refusal
from cogs.transcribe.transcriber import Format, Job, Outcome, Transcriber
from cogs.transcribe.views import delete_view

if TYPE_CHECKING:
    from bot.discord_io.edit_scheduler import EditScheduler

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Section:
    """What the reply says about one attachment."""

    name: str
    text: str | None = None
    note: str | None = None
    outcome: Outcome | None = None
    #: Set when a budget refused this attachment (automatic mode then pauses until it resets).
    budget_refusal: BudgetExceeded | None = None


def compose(sections: list[Section], fmt: Format, locale: str) -> str:
    parts = []
    for section in sections:
        header = f"🎙️ **{discord.utils.escape_markdown(section.name)}**"
        outcome = section.outcome
        language = render.language_label(outcome.transcript.language) if outcome else None
        if language:
            header += f" · {t('transcribe.language', locale, language=language)}"
        if section.note is not None:
            parts.append(f"{header}\n⚠️ {section.note}")
            continue
        text = section.text or ""
        if not text.strip():
            parts.append(f"{header}\n*{t('transcribe.no_speech', locale)}*")
            continue
        segments = outcome.transcript.segments if outcome else None
        if fmt == "verbose_json" and segments:
            parts.append(f"{header}\n{render.timestamped(segments)}")
        else:
            parts.append(f"{header}\n{render.quoted(text)}")
    return "\n\n".join(parts)


def footer(sections: list[Section], locale: str) -> str | None:
    outcomes = [s.outcome for s in sections if s.outcome is not None]
    if not outcomes:
        return None
    models = ", ".join(dict.fromkeys(o.transcript.model for o in outcomes))
    if all(o.cached for o in outcomes):
        return "-# " + t("transcribe.footer_stored", locale, model=models)
    seconds = sum(o.seconds or 0.0 for o in outcomes)
    cost = sum((o.cost or Decimal(0) for o in outcomes), Decimal(0))
    return "-# " + t(
        "transcribe.footer", locale, model=models, duration=render.short_stamp(seconds), cost=format_usd(cost)
    )


def error_text(exc: Exception, locale: str) -> str:
    if isinstance(exc, BadRequestError) and not isinstance(exc, UserFacingError):
        return t("transcribe.error.unreadable", locale)
    return known_error_text(exc, locale) or t("error.api_server", locale)


class TranscriptionReply:
    """Transcribes `items` (jobs, or refusals told in their place) into one reply through `sink`."""

    def __init__(
        self,
        transcriber: Transcriber,
        sink: MessageSink[discord.Message],
        scheduler: EditScheduler,
        channel_id: int,
        *,
        owner_id: int,
        locale: str,
        fmt: Format = "text",
    ) -> None:
        self.transcriber = transcriber
        self.sequence: LiveTextSequence[discord.Message] = LiveTextSequence(sink, scheduler, channel_id)
        self.owner_id = owner_id
        self.locale = locale
        self.fmt = fmt
        self.sections: list[Section] = []

    async def run(self, items: list[Job | tuple[str, Refusal]]) -> list[Section]:
        for item in items:
            if isinstance(item, tuple):
                name, refusal = item
                self.sections.append(Section(name, note=t(refusal.key, self.locale, **refusal.params)))
                continue
            self.sections.append(await self._one(item))
        await self._finish()
        return self.sections

    async def _one(self, job: Job) -> Section:
        name = job.attachment.filename
        done = list(self.sections)

        def show(partial: str) -> None:
            self.sequence.update(compose([*done, Section(name, text=partial)], self.fmt, self.locale))

        try:
            outcome = await self.transcriber.run(job, on_text=show)
        except BudgetExceeded as refusal:
            return Section(name, note=budget_refusal_text(refusal, self.locale), budget_refusal=refusal)
        except (OpenAIError, UserFacingError) as exc:
            log.info("Transcription of attachment %s failed: %s", job.attachment.id, type(exc).__name__)
            return Section(name, note=error_text(exc, self.locale))
        return Section(name, text=outcome.transcript.text, outcome=outcome)

    async def _finish(self) -> None:
        text = compose(self.sections, self.fmt, self.locale)
        file = self._file()
        if file is None and len(text) > LONG_TEXT_THRESHOLD:
            whole = "\n\n".join(f"{s.name}\n{s.text}" for s in self.sections if s.text)
            file = discord.File(io.BytesIO(whole.encode()), filename="transcript.txt")
        await self.sequence.finish(
            text,
            footer=footer(self.sections, self.locale),
            view=delete_view(self.owner_id, self.locale),
            file=file,
        )

    def _file(self) -> discord.File | None:
        """srt and vtt come back as a file (for the one attachment of /transcribe)."""
        if self.fmt not in ("srt", "vtt"):
            return None
        for section in self.sections:
            segments = section.outcome.transcript.segments if section.outcome else None
            if segments:
                body = render.srt(segments) if self.fmt == "srt" else render.vtt(segments)
                stem = section.name.rsplit(".", 1)[0] or "transcript"
                return discord.File(io.BytesIO(body.encode()), filename=f"{stem}.{self.fmt}")
        return None
