"""POST /audio/transcriptions (multipart): request fields and response models.
Text formats (text, srt, vtt) come back as TextTranscription; json formats as Transcription."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from bot.openai_api._base import EMPTY_META, APIModel, ResponseMeta
from bot.openai_api.multipart import encode_multipart, form_fields, guess_content_type
from bot.openai_api.transport import Transport

TranscriptionFormat = Literal["json", "text", "srt", "vtt", "verbose_json"]
_TEXT_FORMATS = frozenset({"text", "srt", "vtt"})


class TranscriptionUsage(APIModel):
    """Either token usage (type "tokens", gpt-4o transcribe models) or duration usage (type "duration")."""

    type: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    input_token_details: dict[str, Any] | None = None
    seconds: float | None = None


class Transcription(APIModel):
    text: str = ""
    language: str | None = None
    duration: float | None = None
    usage: TranscriptionUsage | None = None
    segments: list[dict[str, Any]] | None = None
    words: list[dict[str, Any]] | None = None
    logprobs: list[dict[str, Any]] | None = None


@dataclass(slots=True)
class TextTranscription:
    """A transcription returned as plain text (response_format text, srt or vtt)."""

    text: str
    meta: ResponseMeta = field(default=EMPTY_META)
    format: str = "text"
    usage: None = None  # text formats carry no usage; present so callers can treat both results alike


class Audio:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def transcribe(
        self,
        *,
        file: bytes,
        filename: str,
        model: str,
        content_type: str | None = None,
        language: str | None = None,
        prompt: str | None = None,
        response_format: TranscriptionFormat | None = None,
        temperature: float | None = None,
        request_timeout: float | None = None,
        **extra: Any,
    ) -> Transcription | TextTranscription:
        fields = form_fields(
            {
                "model": model,
                "language": language,
                "prompt": prompt,
                "response_format": response_format,
                "temperature": temperature,
                **extra,
            }
        )
        body = encode_multipart(fields, "file", file, filename, content_type or guess_content_type(filename))
        raw = await self._t.post_multipart(
            "/audio/transcriptions", body.body, body.content_type, request_timeout=request_timeout
        )
        if response_format in _TEXT_FORMATS:
            text = raw.body.decode("utf-8", errors="replace")
            if response_format == "text":
                text = text.rstrip("\n")  # the API ends plain text with a newline; subtitles keep theirs
            return TextTranscription(text, raw.meta, format=response_format or "text")
        return self._t.parse(Transcription, raw)
