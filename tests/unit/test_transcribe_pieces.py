"""Pure pieces of the transcription feature: audio detection, pre-download checks, rendering,
settings validation and the per-server lanes."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest
from pydantic import ValidationError

from bot.i18n import t
from cogs.transcribe import render
from cogs.transcribe.audio_files import is_audio, refusal_before_download, upload_name
from cogs.transcribe.feature import TranscribeSettings
from cogs.transcribe.lanes import ServerLanes


class _State:
    http = None


def attachment(filename: str, *, size: int = 1000, content_type: str | None = None, **extra: Any) -> Any:
    data: dict[str, Any] = {
        "id": "1",
        "filename": filename,
        "size": size,
        "url": f"https://cdn.discordapp.com/attachments/1/1/{filename}",
        "proxy_url": "",
        **extra,
    }
    if content_type is not None:
        data["content_type"] = content_type
    return discord.Attachment(data=data, state=_State())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("voice-message.ogg", "audio/ogg", True),
        ("song.FLAC", None, True),
        ("clip.opus", None, True),
        ("noext", "audio/mpeg", True),
        ("talk.mp4", "video/mp4", True),
        ("photo.png", "image/png", False),
        ("notes.txt", "text/plain", False),
    ],
)
def test_audio_is_recognised_by_type_or_extension(
    name: str, content_type: str | None, expected: bool
) -> None:
    assert is_audio(attachment(name, content_type=content_type)) is expected


def test_upload_names_use_extensions_the_api_accepts() -> None:
    assert upload_name(attachment("a.opus")) == "a.ogg"
    assert upload_name(attachment("a.oga")) == "a.ogg"
    assert upload_name(attachment("memo", content_type="audio/mpeg")) == "memo.mp3"
    assert upload_name(attachment("x.mp3")) == "x.mp3"


def test_size_and_duration_are_checked_from_metadata() -> None:
    settings = TranscribeSettings(max_file_mb=2, max_duration_seconds=60)
    assert refusal_before_download(attachment("a.ogg", size=2 * 1024 * 1024), settings) is None
    big = refusal_before_download(attachment("a.ogg", size=2 * 1024 * 1024 + 1), settings)
    assert big is not None and big.key == "transcribe.error.too_large"
    long = refusal_before_download(attachment("v.ogg", duration_secs=61.0), settings)
    assert long is not None and long.params == {"name": "v.ogg", "seconds": 61, "max_seconds": 60}
    assert t(long.key, "zh-CN", **long.params) == "v.ogg 时长 61 秒；本服务器只转写不超过 60 秒的音频。"


def test_settings_bounds_and_channels() -> None:
    with pytest.raises(ValidationError):
        TranscribeSettings(max_file_mb=26)  # over the API's cap
    settings = TranscribeSettings(auto_channel_ids=[5, 3, 5])
    assert settings.auto_channel_ids == (3, 5)
    assert settings.automatic_in(3, None) and settings.automatic_in(99, 5)  # a thread of channel 5
    assert not settings.automatic_in(4, None)
    assert not TranscribeSettings(auto_all_channels=True, enabled=False).automatic_in(1, None)


def test_subtitles_and_readable_timestamps() -> None:
    segments = [(0.0, 2.5, " hello there"), (2.5, 3661.2, " general kenobi")]
    assert render.srt(segments) == (
        "1\n00:00:00,000 --> 00:00:02,500\nhello there\n\n2\n00:00:02,500 --> 01:01:01,200\ngeneral kenobi\n"
    )
    assert render.vtt(segments).startswith("WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nhello there\n")
    assert render.timestamped(segments) == "`0:00–0:02` hello there\n`0:02–1:01:01` general kenobi"
    assert render.quoted("one\n\ntwo") == "> one\n>\n> two"
    assert render.language_label("english") == "English" and render.language_label("en") == "en"


def test_context_menu_labels_fit_discord() -> None:
    for locale in ("en-US", "zh-CN"):
        label = t("menu.transcribe.label", locale)
        assert 1 <= len(label) <= 32


async def test_lanes_bound_each_server_and_keep_order() -> None:
    lanes = ServerLanes(2)
    running: dict[int, int] = {}
    peak: dict[int, int] = {}
    order: list[tuple[int, int]] = []
    done = asyncio.Event()

    def work(server: int, n: int) -> Any:
        async def run() -> None:
            running[server] = running.get(server, 0) + 1
            peak[server] = max(peak.get(server, 0), running[server])
            order.append((server, n))
            await asyncio.sleep(0.01 if server == 0 else 0.001)
            running[server] -= 1
            if len(order) == 30:
                done.set()

        return run

    for n in range(20):
        lanes.submit(0, work(0, n))  # a busy server
    for n in range(10):
        lanes.submit(1, work(1, n))
    await asyncio.wait_for(done.wait(), 5)
    assert peak == {0: 2, 1: 2}
    assert [n for s, n in order if s == 0] == list(range(20))
    # The quiet server was not held up behind the busy one's queue.
    assert order.index((1, 9)) < order.index((0, 19))
    await lanes.close(1)
