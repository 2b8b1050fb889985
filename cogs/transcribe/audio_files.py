"""Which attachments are audio, the name the API gets for them, and the checks made before download.
Pure functions over discord.py's Attachment and Message; no network."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import discord

from cogs.transcribe.feature import TranscribeSettings

AUDIO_EXTENSIONS = frozenset(
    {"flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "opus", "wav", "webm"}
)
# The API names formats by extension; Opus in an Ogg container and .oga are Ogg to it.
_UPLOAD_EXTENSION = {"opus": "ogg", "oga": "ogg"}
_BY_CONTENT_TYPE = {
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/m4a": "m4a",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/webm": "webm",
}
# Bytes per second assumed when nothing says how long the audio is (128 kbit/s).
ESTIMATE_BYTES_PER_SECOND = 16_000


def _extension(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def _content_type(attachment: discord.Attachment) -> str:
    return (attachment.content_type or "").split(";", 1)[0].strip().lower()


def is_audio(attachment: discord.Attachment) -> bool:
    return (
        _content_type(attachment).startswith("audio/") or _extension(attachment.filename) in AUDIO_EXTENSIONS
    )


def audio_attachments(message: discord.Message) -> list[discord.Attachment]:
    """The message's audio attachments, in the order they were sent."""
    return [a for a in message.attachments if is_audio(a)]


def is_voice_message(message: discord.Message) -> bool:
    return bool(message.flags.voice)


def upload_name(attachment: discord.Attachment) -> str:
    """A file name whose extension the API accepts."""
    extension = _extension(attachment.filename)
    known = _UPLOAD_EXTENSION.get(extension, extension)
    if known not in AUDIO_EXTENSIONS:
        known = _BY_CONTENT_TYPE.get(_content_type(attachment), "ogg")
    stem = attachment.filename.rsplit(".", 1)[0] if "." in attachment.filename else attachment.filename
    return f"{stem or 'audio'}.{known}"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an attachment is not transcribed: a catalog key and its parameters."""

    key: str
    params: dict[str, Any]


def refusal_before_download(attachment: discord.Attachment, settings: TranscribeSettings) -> Refusal | None:
    """Size and duration checks from the attachment's metadata, so nothing too big is downloaded."""
    limit = settings.max_file_mb * 1024 * 1024
    if attachment.size > limit:
        return Refusal(
            "transcribe.error.too_large",
            {
                "name": attachment.filename,
                "size_mb": f"{attachment.size / 1024 / 1024:.1f}",
                "max_mb": settings.max_file_mb,
            },
        )
    duration = attachment.duration
    if duration is not None and duration > settings.max_duration_seconds:
        return Refusal(
            "transcribe.error.too_long",
            {
                "name": attachment.filename,
                "seconds": round(duration),
                "max_seconds": settings.max_duration_seconds,
            },
        )
    return None


def known_seconds(attachment: discord.Attachment) -> float | None:
    """Voice messages say how long they are; other attachments do not."""
    return attachment.duration
