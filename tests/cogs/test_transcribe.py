"""Transcription through the real bot in simcord, against the fake OpenAI server on loopback.

Each test asserts what members see (replies, files, private notes), what the API was asked, and
what was stored (transcripts, ledger).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import discord
import pytest

from bot.app import OpenAIBot
from cogs.transcribe import FEATURE as TRANSCRIBE
from tests.cogs.conftest import assert_errors
from tests.cogs.simcord_hooks import post_voice_message, without_settling
from tests.fakes.openai_server import Fault


def speech(text: str) -> bytes:
    """Audio bytes the fake server transcribes as `text`."""
    return b"FAKE-TRANSCRIPT:" + text.encode()


class World:
    def __init__(self, env: Any, fake: Any) -> None:
        self.env = env
        self.fake = fake
        self.guild = env.create_guild()
        self.channel = self.guild.create_text_channel("general")
        self.other = self.guild.create_text_channel("other")
        self.alice = self.guild.add_member(env.create_user("alice"))
        self.bob = self.guild.add_member(env.create_user("bob"))

    @property
    def bot(self) -> OpenAIBot:
        bot: OpenAIBot = self.env.bot
        return bot

    def replies(self, channel: Any = None) -> list[discord.Message]:
        """The bot's public messages in the channel, oldest first."""
        history = (channel or self.channel).history()
        return [m for m in history if m.author.bot and not m.flags.ephemeral]

    def api_requests(self) -> list[Any]:
        return self.fake.requests_to("/v1/audio/transcriptions", "POST")

    def downloads(self) -> list[Any]:
        return [r for r in self.env.http_requests if "cdn" in r.path or "attachments/" in r.path]

    async def voice_message(
        self, member: Any, text: str, *, seconds: float = 3.0, channel: Any = None
    ) -> Any:
        """A voice message from `member`, as Discord delivers it."""
        channel = channel or self.channel
        return await post_voice_message(self.env, channel.id, member.id, speech(text), seconds=seconds)

    async def enable_automatic(self, **changes: Any) -> None:
        changes.setdefault("auto_channel_ids", (self.channel.id,))
        await self.bot.feature_settings.update(self.guild.id, TRANSCRIBE, **changes)

    async def wait_until(self, condition: Any, limit: float = 30.0, *, clock: bool = False) -> None:
        """Let real time pass until condition() holds; `clock` also moves simcord's clock, which
        the edit scheduler's pacing (5 sends per window per channel) waits on."""
        deadline = time.perf_counter() + limit
        while not condition():
            assert time.perf_counter() < deadline, f"timed out waiting for the bot: {self.progress()}"
            await asyncio.sleep(0.02)
            if clock:
                # Transcriptions queued in a server's lane are a wait simcord cannot attribute, so
                # it may report the bot unsettled; the clock has moved all the same.
                with contextlib.suppress(TimeoutError):
                    await self.env.advance_time(1)

    def progress(self) -> str:
        return f"{len(self.api_requests())} API requests, {len(self.replies())} replies"

    async def events(self) -> list[Any]:
        return await self.bot.ledger.events(self.guild.id)


@pytest.fixture
async def world(simcord_env: Any, fake_openai_threaded: Any) -> World:
    return World(simcord_env, fake_openai_threaded)


def buttons(message: discord.Message) -> dict[str, str]:
    found = {}
    for row in message.components:
        for child in getattr(row, "children", []):
            if isinstance(child, discord.Button) and child.label and child.custom_id:
                found[child.label] = child.custom_id
    return found


async def test_slash_text_format_quotes_the_transcript_and_records_usage(world: World) -> None:
    result = await world.alice.slash(
        world.channel, "transcribe", file=("memo.mp3", speech("hello there from the meeting"))
    )
    assert result.acknowledged and not result.ephemeral
    (reply,) = world.replies()
    assert "🎙️ **memo.mp3** · Language: English" in reply.content
    assert "> hello there from the meeting" in reply.content
    assert reply.content.splitlines()[-1].startswith("-# whisper-1 · 0:02 · $")
    assert set(buttons(reply)) == {"Delete"}
    (request,) = world.api_requests()
    assert request.form["model"] == "whisper-1" and request.form["response_format"] == "verbose_json"
    assert request.files["file"].filename == "memo.mp3"
    (event,) = await world.events()
    assert (event.feature, event.model, event.user_id) == ("transcribe", "whisper-1", world.alice.id)
    assert event.request_id == request.request_id and not event.estimated
    assert event.audio_seconds == 2.0  # the response's duration (5 words at 2.5 words/s)
    assert event.cost_usd == world.bot.pricing.cost("whisper-1", audio_seconds=2.0)


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
async def test_subtitle_formats_come_back_as_a_file(world: World, fmt: str) -> None:
    words = " ".join(f"word{i}" for i in range(20))
    await world.alice.slash(world.channel, "transcribe", file=("talk.wav", speech(words)), format=fmt)
    (reply,) = world.replies()
    (attachment,) = reply.attachments
    assert attachment.filename == f"talk.{fmt}"
    body = (await attachment.read()).decode()
    if fmt == "srt":
        assert body.startswith("1\n00:00:00,000 --> 00:00:")
    else:
        assert body.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:")
    assert "word0 word1" in body and "word19" in body
    assert body.count("-->") == 3  # 20 words, 8 per segment


async def test_verbose_json_is_rendered_with_readable_timestamps(world: World) -> None:
    words = " ".join(f"w{i}" for i in range(16))
    await world.alice.slash(world.channel, "transcribe", file=("a.ogg", speech(words)), format="verbose_json")
    (reply,) = world.replies()
    lines = [line for line in reply.content.splitlines() if line.startswith("`")]
    assert lines == ["`0:00–0:03` w0 w1 w2 w3 w4 w5 w6 w7", "`0:03–0:06` w8 w9 w10 w11 w12 w13 w14 w15"]


async def test_json_only_model_asked_for_srt_is_told_before_any_call(world: World) -> None:
    await world.bot.feature_settings.update(world.guild.id, TRANSCRIBE, model="gpt-4o-transcribe")
    await world.alice.slash(world.channel, "transcribe", file=("a.mp3", speech("hi")), format="srt")
    (reply,) = world.replies()
    assert "The srt format needs timestamps, which gpt-4o-transcribe does not give" in reply.content
    assert world.api_requests() == []


async def test_non_audio_file_is_refused_privately(world: World) -> None:
    result = await world.alice.slash(world.channel, "transcribe", file=("notes.txt", b"just text"))
    assert result.ephemeral and "That file is not audio" in result.response.content
    assert world.api_requests() == [] and world.replies() == []
    assert_errors(world.env, "NotAudio")


async def test_oversized_file_is_refused_before_download(world: World) -> None:
    await world.bot.feature_settings.update(world.guild.id, TRANSCRIBE, max_file_mb=1)
    big = speech("x") + b"\0" * (1024 * 1024 + 10)
    result = await world.alice.slash(world.channel, "transcribe", file=("big.wav", big))
    assert (
        result.ephemeral
        and "big.wav is 1.0 MB; this server transcribes files up to 1 MB." in result.response.content
    )
    assert world.api_requests() == []
    assert world.downloads() == []
    assert_errors(world.env, "UserFacingError")


async def test_context_menu_transcribes_and_a_second_request_uses_the_stored_transcript(world: World) -> None:
    message = await world.alice.send(
        world.channel, "listen", attachments=[("note.m4a", speech("buy more milk"))]
    )
    await world.bob.context_menu(world.channel, "Transcribe", message)
    first = world.replies()[-1]
    assert "> buy more milk" in first.content
    await world.bob.context_menu(world.channel, "Transcribe", message)
    second = world.replies()[-1]
    assert second.id != first.id and "> buy more milk" in second.content
    assert second.content.splitlines()[-1] == "-# whisper-1 · from the stored transcript"
    assert len(world.api_requests()) == 1
    assert len(await world.events()) == 1
    # The audio's sender owns the Delete button, not the member who asked.
    assert buttons(second)["Delete"] == f"transcribe:delete:{world.alice.id}"


async def test_context_menu_on_a_message_without_audio(world: World) -> None:
    message = await world.alice.send(world.channel, "no audio", attachments=[("pic.png", b"\x89PNG")])
    result = await world.bob.context_menu(world.channel, "Transcribe", message)
    assert result.ephemeral and "no voice message or audio file" in result.response.content
    assert_errors(world.env, "NoAudio")


async def test_voice_message_auto_transcribed_in_enabled_channel_only(world: World) -> None:
    await world.enable_automatic()
    await world.voice_message(world.alice, "see you at noon", channel=world.other)
    await world.voice_message(world.alice, "meeting moved to three")
    await world.wait_until(lambda: len(world.replies()) == 1)
    (reply,) = world.replies()
    assert reply.reference is not None
    assert "> meeting moved to three" in reply.content
    assert world.replies(world.other) == []
    (request,) = world.api_requests()
    assert request.files["file"].data == speech("meeting moved to three")
    (event,) = await world.events()
    assert event.audio_seconds == 3.0  # the voice message's own duration_secs


async def test_automatic_ignores_non_audio_and_covers_several_files_in_order(world: World) -> None:
    await world.enable_automatic()
    await world.alice.send(world.channel, "a picture", attachments=[("pic.png", b"\x89PNG")])
    await world.alice.send(
        world.channel,
        "two files",
        attachments=[("one.mp3", speech("first file")), ("x.txt", b"t"), ("two.ogg", speech("second file"))],
    )
    await world.wait_until(lambda: len(world.replies()) == 1)
    (reply,) = world.replies()
    assert reply.content.index("**one.mp3**") < reply.content.index("**two.ogg**")
    assert "> first file" in reply.content and "> second file" in reply.content
    assert "x.txt" not in reply.content
    assert len(world.api_requests()) == 2


async def test_voice_message_longer_than_the_maximum_is_refused_without_download(world: World) -> None:
    await world.enable_automatic(max_duration_seconds=60)
    await world.voice_message(world.alice, "long ramble", seconds=125)
    await world.wait_until(lambda: len(world.replies()) == 1)
    (reply,) = world.replies()
    assert "voice-message.ogg lasts 125 s; this server transcribes audio up to 60 s." in reply.content
    assert world.api_requests() == [] and world.downloads() == []


async def test_silent_audio_says_no_speech_found(world: World) -> None:
    await world.alice.slash(world.channel, "transcribe", file=("quiet.wav", speech("")))
    (reply,) = world.replies()
    assert "*No speech found.*" in reply.content


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault(path="/v1/audio/transcriptions", status=429, times=None), "rate"),
        (Fault(path="/v1/audio/transcriptions", status=429, code="insufficient_quota", times=None), "quota"),
        (Fault(path="/v1/audio/transcriptions", status=400, times=None), "could not read this file"),
    ],
)
async def test_api_errors_are_told_clearly(world: World, fault: Fault, expected: str) -> None:
    world.fake.add_fault(fault)
    await world.alice.slash(world.channel, "transcribe", file=("a.mp3", speech("hello")))
    (reply,) = world.replies()
    assert "⚠️" in reply.content and expected in reply.content.lower()
    assert await world.events() == []


async def test_zh_cn_member_gets_chinese_reply(world: World, user_locale: Any) -> None:
    user_locale("zh-CN")
    result = await world.alice.slash(world.channel, "transcribe", file=("notes.txt", b"text"))
    assert "这个文件不是音频" in result.response.content
    assert_errors(world.env, "NotAudio")
    await world.alice.slash(world.channel, "transcribe", file=("a.mp3", speech("")))
    assert "没有识别到语音" in world.replies()[-1].content


async def test_api_unreachable_is_told_clearly(world: World) -> None:
    world.fake.add_fault(Fault(path="/v1/audio/transcriptions", drop_after_chunks=0, times=None))
    await world.alice.slash(world.channel, "transcribe", file=("a.mp3", speech("hello")))
    (reply,) = world.replies()
    assert "⚠️" in reply.content and "reach" in reply.content.lower()


async def test_streaming_model_shows_the_transcript_as_it_is_heard(world: World) -> None:
    await world.bot.feature_settings.update(world.guild.id, TRANSCRIBE, model="gpt-4o-mini-transcribe")
    world.fake.stream_delay = 0.02
    words = " ".join(f"word{i}" for i in range(60))
    await world.alice.slash(world.channel, "transcribe", file=("long.ogg", speech(words)))
    edits = [
        r.json["content"]
        for r in world.env.http_requests
        if r.method == "PATCH" and r.path.endswith("/messages/@original")
    ]
    # Under simcord the scheduler's clock stands still while the bot works, so the paced edits
    # collapse: this asserts early text, not the rhythm (the scheduler's own tests measure that).
    assert len(edits) >= 2, "the transcript should grow in the reply while it is heard"
    assert "> word0" in edits[0] and "word59" not in edits[0]
    (reply,) = world.replies()
    assert f"> {words}" in reply.content
    (request,) = world.api_requests()
    assert request.form["stream"] == "true" and "response_format" not in request.form
    # Tokens reported by the stream are what is charged.
    (event,) = await world.events()
    assert event.input_tokens > 0 and event.output_tokens > 0 and not event.estimated
    assert event.cost_usd == world.bot.pricing.cost(
        "gpt-4o-mini-transcribe", input_tokens=event.input_tokens, output_tokens=event.output_tokens
    )
    # The stream reports tokens, not seconds: the seconds are estimated from the file's size.
    assert event.audio_seconds == round(len(speech(words)) / 16_000, 2)


async def test_delete_button_for_the_sender_or_a_moderator_only(world: World) -> None:
    moderators = world.guild.create_role("mods", permissions=discord.Permissions(manage_messages=True))
    carol = world.guild.add_member(world.env.create_user("carol"), roles=[moderators])
    await world.enable_automatic()
    await world.voice_message(world.alice, "first")
    await world.voice_message(world.alice, "second")
    await world.wait_until(lambda: len(world.replies()) == 2)
    first, second = world.replies()
    refused = await world.bob.click(first, label="Delete")
    assert refused.ephemeral and "Only the member who sent the audio" in refused.response.content
    assert len(world.replies()) == 2
    await world.alice.click(first, label="Delete")
    assert [m.id for m in world.replies()] == [second.id]
    await carol.click(second, label="Delete")
    assert world.replies() == []


async def test_burst_of_fifty_is_answered_with_bounded_concurrency(world: World) -> None:
    await world.enable_automatic()
    cog = world.bot.get_cog("Transcribe")
    running = 0
    peak = 0
    original = world.bot.api.audio.transcribe

    async def counting(**kwargs: Any) -> Any:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            return await original(**kwargs)
        finally:
            running -= 1

    world.bot.api.audio.transcribe = counting  # type: ignore[method-assign]
    world.fake.add_fault(Fault(path="/v1/audio/transcriptions", delay=0.1, times=None))
    async with without_settling(world.env):
        for i in range(50):
            await world.voice_message(world.alice, f"message number {i}")
    await world.wait_until(lambda: len(world.replies()) == 50, limit=90, clock=True)
    texts = sorted(int(m.content.split("message number ")[1].split()[0]) for m in world.replies())
    assert texts == list(range(50))
    assert len(world.api_requests()) == 50
    assert cog is not None and peak <= cog.lanes.limit == 2
    assert peak == 2  # the lane was used, not a single file
    assert len(await world.events()) == 50


async def test_without_message_content_only_automatic_mode_is_off(
    new_bot: Any, fake_openai_threaded: Any
) -> None:
    from simcord import Env

    bot: OpenAIBot = new_bot(refused_intents=frozenset({"message_content"}))
    env = Env(bot, approved_intents=discord.Intents.default())
    await env.start()
    try:
        world = World(env, fake_openai_threaded)
        assert not bot.intents.message_content and bot.features.is_available("transcribe")
        await world.enable_automatic()
        await world.voice_message(world.alice, "nobody reads this")
        await world.alice.slash(world.channel, "transcribe", file=("a.mp3", speech("still works")))
        (reply,) = world.replies()
        assert "> still works" in reply.content
        assert len(world.api_requests()) == 1
        message = await world.alice.send(world.channel, "x", attachments=[("n.ogg", speech("menu too"))])
        await world.bob.context_menu(world.channel, "Transcribe", message)
        assert "> menu too" in world.replies()[-1].content
    finally:
        await env.shutdown()


async def test_a_stream_cut_midway_is_told_and_its_usage_estimated(world: World) -> None:
    await world.bot.feature_settings.update(world.guild.id, TRANSCRIBE, model="gpt-4o-transcribe")
    world.fake.add_fault(Fault(path="/v1/audio/transcriptions", drop_after_chunks=3))
    await world.alice.slash(
        world.channel, "transcribe", file=("a.ogg", speech("one two three four five six"))
    )
    (reply,) = world.replies()
    assert "⚠️" in reply.content and "reach" in reply.content.lower()
    (event,) = await world.events()
    assert event.estimated and event.request_id == world.api_requests()[0].request_id


async def test_transcripts_are_purged_after_the_servers_retention(world: World) -> None:
    from datetime import UTC, datetime, timedelta

    await world.alice.slash(world.channel, "transcribe", file=("a.mp3", speech("kept for a while")))
    cog: Any = world.bot.get_cog("Transcribe")
    now = datetime.now(UTC)
    assert await cog.purge_old_transcripts(now + timedelta(days=29)) == 0
    await world.bot.feature_settings.update(world.guild.id, TRANSCRIBE, keep_transcripts_days=7)
    assert await cog.purge_old_transcripts(now + timedelta(days=6)) == 0
    assert await cog.purge_old_transcripts(now + timedelta(days=8)) == 1
    assert await world.bot.db.fetchall("SELECT * FROM transcripts") == []


async def test_delete_button_works_after_a_restart(world: World, new_bot: Any) -> None:
    await world.alice.slash(world.channel, "transcribe", file=("a.mp3", speech("persisted")))
    (reply,) = world.replies()
    await world.env.restart_bot(new_bot())
    await world.alice.click(reply, label="Delete")
    assert world.replies() == []


async def test_menu_name_is_localized_and_replies_ping_nobody(world: World) -> None:
    puts = [r for r in world.env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]
    menu = next(c for c in puts[-1].json if c["type"] == 3 and c["name"] == "Transcribe")
    assert menu["name"] == "Transcribe" and menu["name_localizations"]["zh-CN"] == "转写"
    slash = next(c for c in puts[-1].json if c["name"] == "transcribe")
    assert slash["name_localizations"]["zh-CN"] == "转写"
    await world.enable_automatic()
    await world.voice_message(world.alice, "@everyone look <@&123>")
    await world.wait_until(lambda: len(world.replies()) == 1)
    (reply,) = world.replies()
    assert "> @everyone look <@&123>" in reply.content and not reply.mention_everyone
    sent = [r for r in world.env.http_requests if r.method == "POST" and r.path.endswith("/messages")]
    assert sent and all(r.json["allowed_mentions"]["parse"] == [] for r in sent)
