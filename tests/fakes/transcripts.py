"""Transcription bodies of the fake OpenAI server in every response format.

Owns segment timing and the json, text, srt, vtt and verbose_json renderings of one transcript.
"""

from __future__ import annotations

import math
from typing import Any

BYTES_PER_SECOND = 16_000  # 128 kbit/s, a typical voice-message bitrate
WORDS_PER_SEGMENT = 8


def duration_for(data: bytes, text: str) -> float:
    if data.startswith(b"FAKE-TRANSCRIPT:"):
        return round(max(1.0, len(text.split()) / 2.5), 2)
    return round(max(1.0, len(data) / BYTES_PER_SECOND), 2)


def segments(text: str, duration: float) -> list[dict[str, Any]]:
    words = text.split()
    groups = [words[i : i + WORDS_PER_SEGMENT] for i in range(0, len(words), WORDS_PER_SEGMENT)] or [[]]
    step = duration / len(groups)
    return [
        {
            "id": i,
            "seek": 0,
            "start": round(i * step, 2),
            "end": round((i + 1) * step, 2),
            "text": " " + " ".join(group),
            "tokens": [50364 + j for j in range(len(group))],
            "temperature": 0.0,
            "avg_logprob": -0.25,
            "compression_ratio": 1.3,
            "no_speech_prob": 0.01,
        }
        for i, group in enumerate(groups)
    ]


def words(text: str, duration: float) -> list[dict[str, Any]]:
    items = text.split()
    step = duration / max(1, len(items))
    return [
        {"word": w.strip(".,!?"), "start": round(i * step, 2), "end": round((i + 1) * step, 2)}
        for i, w in enumerate(items)
    ]


def _stamp(seconds: float, sep: str) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{millis:03d}"


def srt(text: str, duration: float) -> str:
    blocks = [
        f"{s['id'] + 1}\n{_stamp(s['start'], ',')} --> {_stamp(s['end'], ',')}\n{s['text'].strip()}\n"
        for s in segments(text, duration)
    ]
    return "\n".join(blocks) + "\n"


def vtt(text: str, duration: float) -> str:
    blocks = [
        f"{_stamp(s['start'], '.')} --> {_stamp(s['end'], '.')}\n{s['text'].strip()}\n"
        for s in segments(text, duration)
    ]
    return "WEBVTT\n\n" + "\n".join(blocks) + "\n"


def usage(model: str, text: str, duration: float) -> dict[str, Any]:
    if model == "whisper-1":
        return {"type": "duration", "seconds": math.ceil(duration)}
    audio_tokens = math.ceil(duration * 10)
    output = math.ceil(len(text) / 4)
    return {
        "type": "tokens",
        "input_tokens": audio_tokens,
        "output_tokens": output,
        "total_tokens": audio_tokens + output,
        "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
    }
