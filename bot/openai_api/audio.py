"""POST /audio/transcriptions (multipart): request fields, response models and the streamed form.
Text formats (text, srt, vtt) come back as TextTranscription; json formats as Transcription;
`stream=True` (gpt-4o*-transcribe) as a TranscriptionStream of delta/done events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from bot.openai_api._base import EMPTY_META, APIModel, ResponseMeta
from bot.openai_api.multipart import encode_multipart, form_fields, guess_content_type
from bot.openai_api.stream import JSONEventStream
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


class TranscriptionEvent(APIModel):
    """One streamed event: `transcript.text.delta` (with `delta`) or `transcript.text.done`
    (with the whole `text` and `usage`)."""

    type: str = ""
    delta: str | None = None
    text: str | None = None
    usage: TranscriptionUsage | None = None


class TranscriptionStream(JSONEventStream[TranscriptionEvent]):
    """Async iterator of TranscriptionEvent; `text` grows with each delta and becomes the done
    event's text; `usage` is set by the done event. The API ends the stream after the done event
    (no [DONE] line), so reaching the end after it is a clean end."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parts: list[str] = []
        self.done = False
        self.usage: TranscriptionUsage | None = None
        self._final: str | None = None

    @property
    def text(self) -> str:
        return self._final if self._final is not None else "".join(self._parts)

    def _on_chunk(self, chunk: TranscriptionEvent) -> None:
        if chunk.type == "transcript.text.delta" and chunk.delta:
            self._parts.append(chunk.delta)
        elif chunk.type == "transcript.text.done":
            self.done = True
            if chunk.text is not None:
                self._final = chunk.text
            self.usage = chunk.usage

    def _ended_cleanly(self) -> bool:
        return self.done


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

    async def stream_transcription(
        self,
        *,
        file: bytes,
        filename: str,
        model: str,
        content_type: str | None = None,
        language: str | None = None,
        prompt: str | None = None,
        request_timeout: float | None = None,
        **extra: Any,
    ) -> TranscriptionStream:
        """Open a streamed transcription (json events); retries apply until the response starts."""
        extra.pop("stream", None)
        extra.pop("response_format", None)
        fields = form_fields(
            {"model": model, "language": language, "prompt": prompt, "stream": "true", **extra}
        )
        body = encode_multipart(fields, "file", file, filename, content_type or guess_content_type(filename))
        response, meta = await self._t.open_stream(
            "/audio/transcriptions",
            body.body,
            request_timeout=request_timeout,
            content_type=body.content_type,
        )
        return TranscriptionStream(response, meta, TranscriptionEvent, self._t.secret_to_scrub)
