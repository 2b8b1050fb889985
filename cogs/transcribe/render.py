"""How a transcript reads in Discord: quoted text, readable timestamps, and srt/vtt files.
Pure functions; the subtitle files are rendered here from segments, for every model that has them."""

from __future__ import annotations

from collections.abc import Sequence

from cogs.transcribe.store import Segment


def quoted(text: str) -> str:
    """The transcript as a Markdown block quote (every line, blank ones too, stays inside it)."""
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.strip().splitlines())


def _stamp(seconds: float, sep: str) -> str:
    millis = round(max(0.0, seconds) * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{millis:03d}"


def short_stamp(seconds: float) -> str:
    """m:ss, or h:mm:ss past an hour."""
    whole = int(max(0.0, seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def srt(segments: Sequence[Segment]) -> str:
    blocks = [
        f"{i}\n{_stamp(start, ',')} --> {_stamp(end, ',')}\n{text.strip()}\n"
        for i, (start, end, text) in enumerate(segments, start=1)
    ]
    return "\n".join(blocks)


def vtt(segments: Sequence[Segment]) -> str:
    blocks = [
        f"{_stamp(start, '.')} --> {_stamp(end, '.')}\n{text.strip()}\n" for start, end, text in segments
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def timestamped(segments: Sequence[Segment]) -> str:
    """verbose_json made readable: one line per segment, its time span in code style."""
    return "\n".join(
        f"`{short_stamp(start)}–{short_stamp(end)}` {text.strip()}" for start, end, text in segments
    )


def language_label(language: str | None) -> str | None:
    """The API names languages in English ("english") or by code ("en"); shown capitalised."""
    if not language:
        return None
    return language if len(language) <= 3 else language[:1].upper() + language[1:]
