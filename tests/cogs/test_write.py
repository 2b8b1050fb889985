"""/write through the real bot in simcord, against the fake OpenAI server streaming on loopback.

Each test asserts what members see (messages, buttons, private notes) and what was stored (ledger).
"""

from __future__ import annotations

import asyncio
import re
import time
from decimal import Decimal
from typing import Any

import discord
import pytest

from bot.app import OpenAIBot
from bot.discord_io.live_text import final_chunks
from cogs.write import FEATURE as WRITE
from cogs.write.answer import format_usd
from tests.cogs.conftest import assert_errors
from tests.cogs.simcord_hooks import without_settling
from tests.conftest import TEST_RULE_WINDOW
from tests.fakes.openai_server import Fault

MODEL = "gpt-3.5-turbo-instruct"


class World:
    def __init__(self, env: Any, fake: Any) -> None:
        self.env = env
        self.fake = fake
        self.guild = env.create_guild()
        self.channel = self.guild.create_text_channel("general")
        self.alice = self.guild.add_member(env.create_user("alice"))
        self.bob = self.guild.add_member(env.create_user("bob"))

    @property
    def bot(self) -> OpenAIBot:
        bot: OpenAIBot = self.env.bot
        return bot

    def answers(self) -> list[discord.Message]:
        """The bot's public messages in the channel, oldest first."""
        return [m for m in self.channel.history() if m.author.bot and not m.flags.ephemeral]

    def completion_requests(self) -> list[Any]:
        return self.fake.requests_to("/v1/completions", "POST")

    async def events(self) -> list[Any]:
        return await self.bot.ledger.events(self.guild.id)

    async def launch(self, member: Any, **options: Any) -> None:
        """Start /write without waiting for the answer to finish; it then streams on its own."""
        async with without_settling(self.env):
            await member.slash(self.channel, "write", **options)

    def finished(self) -> list[discord.Message]:
        """Answers that are complete (their last message carries the Regenerate button)."""
        return [m for m in self.answers() if "Regenerate" in buttons(m)]

    async def wait_until(self, condition: Any, limit: float = 60.0) -> None:
        """Let real time pass (the bot streams in the background) until condition() holds."""
        deadline = time.perf_counter() + limit
        while not condition():
            assert time.perf_counter() < deadline, "timed out waiting for the bot"
            await asyncio.sleep(0.05)

    async def drain(self) -> None:
        """Let paced edits finish: waits longer than simcord's settle window are parked until the
        clock moves, and the edit scheduler runs on the (virtual) monotonic clock."""
        await self.env.advance_time(120)


@pytest.fixture
async def world(simcord_env: Any, fake_openai_threaded: Any) -> World:
    made = World(simcord_env, fake_openai_threaded)
    # Most tests click and re-run quickly; the cooldown has its own test.
    await made.bot.feature_settings.update(made.guild.id, WRITE, cooldown_seconds=0)
    return made


def footer_of(message: discord.Message) -> list[str]:
    return [line for line in message.content.splitlines() if line.startswith("-# ")]


def buttons(message: discord.Message) -> dict[str, str]:
    """label -> custom_id of every button on the message."""
    found = {}
    for row in message.components:
        for child in getattr(row, "children", []):
            if isinstance(child, discord.Button) and child.label and child.custom_id:
                found[child.label] = child.custom_id
    return found


def assert_answer(messages: list[discord.Message], expected: str) -> None:
    """The messages hold exactly the generated text, split as the bot splits it, plus its footer."""
    footer = "\n".join(footer_of(messages[-1]))
    assert [m.content for m in messages] == final_chunks(expected, footer)
    assert all(len(m.content) <= 2000 for m in messages)


async def test_answer_is_streamed_completely_with_footer_buttons_and_exact_usage(world: World) -> None:
    prompt = "Write about lanterns [[words:40]]"
    result = await world.alice.slash(world.channel, "write", prompt=prompt, max_tokens=100)
    assert result.acknowledged and not result.ephemeral

    expected = world.fake.completion_text_for(prompt, 100)
    messages = world.answers()
    assert len(messages) == 1
    assert_answer(messages, expected)
    (request,) = world.completion_requests()
    assert request.json["stream"] is True
    assert request.json["stream_options"] == {"include_usage": True}
    assert request.json["model"] == MODEL and request.json["max_tokens"] == 100
    assert "temperature" not in request.json  # unset options are not sent

    (event,) = await world.events()
    assert event.request_id == request.request_id
    assert (event.feature, event.model, event.user_id) == ("write", MODEL, world.alice.id)
    assert event.output_tokens == 40 and not event.estimated
    assert event.input_tokens == -(-len(prompt) // 4)
    assert event.cost_usd == world.bot.pricing.cost(
        MODEL, input_tokens=event.input_tokens, output_tokens=event.output_tokens
    )
    assert event.cost_usd is not None
    cost = format_usd(event.cost_usd)
    assert footer_of(messages[0]) == [f"-# {MODEL} · {event.input_tokens + 40} tokens · {cost}"]
    assert set(buttons(messages[0])) == {"Regenerate", "Continue"}


async def test_streaming_shows_text_before_the_end(world: World) -> None:
    # Under simcord the bot's monotonic clock only moves when the bot is idle, so while a stream
    # runs the scheduler sees no time pass: this asserts early text, not the 1-per-second rhythm
    # (the scheduler's unit tests and bench/streaming.py measure that).
    world.fake.stream_delay = 0.01
    prompt = "A slow answer [[words:150]]"
    await world.alice.slash(world.channel, "write", prompt=prompt, max_tokens=200)
    edits = [
        r.json["content"]
        for r in world.env.http_requests
        if r.method == "PATCH" and r.path.endswith("/messages/@original")
    ]
    expected = world.fake.completion_text_for(prompt, 200)
    assert len(edits) >= 2, "the text should appear while it is generated, not only at the end"
    assert expected.startswith(edits[0]) and len(edits[0]) < len(expected)
    assert_answer(world.answers(), expected)


async def test_long_code_answer_splits_without_breaking_the_code_block(world: World) -> None:
    prompt = "Show code [[code]]"
    await world.alice.slash(world.channel, "write", prompt=prompt, max_tokens=1024)
    await world.drain()
    expected = world.fake.completion_text_for(prompt, 1024)
    messages = world.answers()
    assert len(messages) >= 3
    assert_answer(messages, expected)
    for message in messages[1:-1]:
        # Each middle message continues the python block: reopened at its top, closed at its end.
        assert message.content.startswith("```python\n")
        assert message.content.rstrip().endswith("```")
        assert message.content.count("```") % 2 == 0
    # Buttons sit on the last message only; the first lost its Stop button.
    assert buttons(messages[0]) == {}
    assert set(buttons(messages[-1])) == {"Regenerate", "Continue"}


async def test_very_long_answer_is_also_attached_as_markdown(world: World) -> None:
    await world.bot.feature_settings.update(world.guild.id, WRITE, max_tokens=4096)
    prompt = "Everything [[words:2000]]"
    await world.alice.slash(world.channel, "write", prompt=prompt, max_tokens=4000)
    await world.drain()
    expected = world.fake.completion_text_for(prompt, 4000)
    messages = world.answers()
    assert_answer(messages, expected)
    (attachment,) = messages[-1].attachments
    assert attachment.filename == "answer.md"
    assert (await attachment.read()).decode() == expected


async def test_model_output_pings_nobody(world: World) -> None:
    await world.alice.slash(world.channel, "write", prompt="[[mentions]] hello", max_tokens=40)
    (message,) = world.answers()
    assert message.content.startswith("@everyone @here <@&")
    assert message.mention_everyone is False
    sent = [r for r in world.env.http_requests if r.method in ("POST", "PATCH") and "webhooks" in r.path]
    assert sent
    for request in sent:
        assert request.json.get("allowed_mentions") == {"parse": []}


async def test_server_without_usage_gets_an_estimate_marked_as_such(world: World) -> None:
    prompt = "Compatible server [[no-usage]] [[words:12]]"
    await world.alice.slash(world.channel, "write", prompt=prompt, max_tokens=50)
    (event,) = await world.events()
    assert event.estimated and event.output_tokens == 12
    (message,) = world.answers()
    assert footer_of(message)[-1].startswith(f"-# {MODEL} · ~{event.input_tokens + 12} tokens")


async def test_length_limit_says_so_and_continue_carries_on(world: World) -> None:
    prompt = "A long story [[words:80]]"
    await world.alice.slash(world.channel, "write", prompt=prompt, max_tokens=10)
    (first,) = world.answers()
    first_text = world.fake.completion_text_for(prompt, 10)
    assert footer_of(first)[0] == "-# ✂️ Stopped at the length limit (10 tokens). Press Continue for more."

    await world.alice.click(first, label="Continue")
    second = world.answers()[-1]
    assert second.id != first.id
    assert world.completion_requests()[-1].json["prompt"] == prompt + first_text
    assert world.completion_requests()[-1].json["max_tokens"] == 10
    assert len(await world.events()) == 2


async def test_content_filter_is_explained_and_offers_no_continue(world: World) -> None:
    await world.alice.slash(world.channel, "write", prompt="[[filter]] something", max_tokens=50)
    (message,) = world.answers()
    assert "-# 🚫 The AI service's content filter stopped this answer." in message.content
    assert set(buttons(message)) == {"Regenerate"}


async def test_regenerate_repeats_the_same_request(world: World) -> None:
    await world.alice.slash(
        world.channel, "write", prompt="Once more [[words:5]]", temperature=0.3, max_tokens=20
    )
    (message,) = world.answers()
    await world.alice.click(message, label="Regenerate")
    first, second = world.completion_requests()
    for key in ("prompt", "temperature", "max_tokens", "model"):
        assert first.json[key] == second.json[key]
    assert len(world.answers()) == 2
    assert len(await world.events()) == 2


async def test_only_the_author_can_use_the_buttons(world: World) -> None:
    await world.alice.slash(world.channel, "write", prompt="Mine [[words:5]]", max_tokens=20)
    (message,) = world.answers()
    result = await world.bob.click(message, label="Regenerate")
    assert result.ephemeral
    assert (
        result.response.content
        == f"Only <@{world.alice.id}>, who asked for this answer, can use these buttons."
    )
    assert len(world.completion_requests()) == 1


async def test_buttons_work_after_a_restart_and_unknown_ones_say_expired(world: World, new_bot: Any) -> None:
    await world.alice.slash(world.channel, "write", prompt="Persist [[words:5]]", max_tokens=20)
    (message,) = world.answers()
    await world.env.restart_bot(new_bot())
    await world.alice.click(message, label="Regenerate")
    assert len(world.completion_requests()) == 2
    assert len(world.answers()) == 2

    # A session the database does not know (e.g. another server's id) answers "expired".
    async with world.bot.db.transaction() as conn:
        await conn.execute_fetchall("DELETE FROM write_sessions")
    result = await world.alice.click(world.answers()[-1], label="Regenerate")
    assert result.ephemeral
    assert result.response.content == "This answer's buttons have expired. Run /write again."


async def test_stop_keeps_the_text_so_far_and_records_what_was_produced(world: World) -> None:
    world.fake.stream_delay = 0.05
    prompt = "Go on and on [[words:400]]"
    await world.launch(world.alice, prompt=prompt, max_tokens=500)
    await world.wait_until(lambda: bool(world.answers()) and "Stop" in buttons(world.answers()[0]))
    (streaming,) = world.answers()
    result = await world.alice.click(streaming, label="Stop")
    assert not result.ephemeral
    await world.wait_until(lambda: bool(world.finished()))
    await world.drain()

    (message,) = world.answers()
    lines = message.content.splitlines()
    assert lines[-2] == "-# ⏹️ Stopped."
    shown = message.content.rsplit("\n-# ⏹️", 1)[0]
    full = world.fake.completion_text_for(prompt, 500)
    assert full.startswith(shown) and 0 < len(shown) < len(full)
    (event,) = await world.events()
    assert event.estimated and 0 < event.output_tokens < 400
    assert set(buttons(message)) == {"Regenerate", "Continue"}
    assert not world.bot.get_cog("Write").running  # type: ignore[union-attr]


async def test_disabled_feature_is_a_private_message(world: World) -> None:
    await world.bot.feature_settings.update(world.guild.id, WRITE, enabled=False)
    result = await world.alice.slash(world.channel, "write", prompt="hello")
    assert result.ephemeral
    assert result.response.content == (
        "Text writing is turned off in this server. A server admin can turn it on."
    )
    assert world.completion_requests() == []
    assert_errors(world.env, "FeatureDisabled")


async def test_cooldown_says_when_to_retry_then_lets_the_member_go(world: World) -> None:
    await world.bot.feature_settings.update(world.guild.id, WRITE, cooldown_seconds=30)
    await world.alice.slash(world.channel, "write", prompt="one [[words:3]]", max_tokens=10)
    result = await world.alice.slash(world.channel, "write", prompt="two [[words:3]]", max_tokens=10)
    assert result.ephemeral
    assert re.fullmatch(r"Slow down a little: try again in (29|30) s\.", result.response.content)
    # Another member is not affected.
    await world.bob.slash(world.channel, "write", prompt="bob [[words:3]]", max_tokens=10)
    await world.env.advance_time(31)
    await world.alice.slash(world.channel, "write", prompt="three [[words:3]]", max_tokens=10)
    assert len(world.completion_requests()) == 3
    assert_errors(world.env, "Cooldown")


async def test_without_a_prompt_a_form_takes_a_multi_line_prompt(world: World) -> None:
    shown = await world.alice.slash(world.channel, "write", max_tokens=30)
    assert shown.modal is not None
    prompt = "Line one\nLine two\n[[words:6]]"
    await world.alice.submit_modal(shown, {"prompt": prompt})
    assert world.completion_requests()[0].json["prompt"] == prompt
    assert_answer(world.answers(), world.fake.completion_text_for(prompt, 30))


async def test_the_server_cap_limits_max_tokens(world: World) -> None:
    await world.bot.feature_settings.update(world.guild.id, WRITE, max_tokens=25)
    await world.alice.slash(world.channel, "write", prompt="cap [[words:3]]", max_tokens=4000)
    assert world.completion_requests()[0].json["max_tokens"] == 25


async def test_model_autocomplete_lists_completion_models(world: World) -> None:
    choices = await world.alice.autocomplete(world.channel, "write", "model", "")
    values = [c["value"] for c in choices]
    assert MODEL in values and "davinci-002" in values
    assert not any("embedding" in v or "whisper" in v for v in values)
    await world.bot.feature_settings.update(world.guild.id, WRITE, allowed_models=["davinci-002"])
    choices = await world.alice.autocomplete(world.channel, "write", "model", "")
    assert [c["value"] for c in choices] == ["davinci-002"]


# -- errors ---------------------------------------------------------------------------------------


def private_note(world: World, result: Any) -> str:
    """The member's private note; nothing public was posted."""
    assert world.answers() == []
    assert result.ephemeral
    text: str = result.response.content
    return text


async def test_unknown_model_lists_available_ones(world: World) -> None:
    result = await world.alice.slash(world.channel, "write", prompt="hi", model="gpt-99-instruct")
    text = private_note(world, result)
    assert text.startswith("The model `gpt-99-instruct` is not available. Try one of: ")
    assert MODEL in text
    assert world.completion_requests() == []
    assert await world.events() == []


async def test_prompt_over_the_context_is_explained(world: World) -> None:
    await world.bot.feature_settings.update(world.guild.id, WRITE, max_tokens=4096)
    result = await world.alice.slash(world.channel, "write", prompt="word " * 799, max_tokens=4096)
    assert private_note(world, result) == (
        f"Your prompt is too long for `{MODEL}`. Shorten it or ask for fewer tokens."
    )
    assert await world.events() == []


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault(path="/v1/completions", status=429, times=None), "The AI service is busy right now"),
        (
            Fault(path="/v1/completions", status=429, code="insufficient_quota"),
            "quota for this bot is used up",
        ),
        (Fault(path="/v1/completions", status=500, times=None), "The AI service had an internal error"),
    ],
    ids=["rate-limited", "quota", "server-error"],
)
async def test_api_failures_before_any_text_are_private_and_unbilled(
    world: World, fault: Fault, expected: str
) -> None:
    world.fake.add_fault(fault)
    result = await world.alice.slash(world.channel, "write", prompt="hi [[words:5]]", max_tokens=10)
    assert expected in private_note(world, result)
    assert await world.events() == []
    for request in world.env.http_requests:
        assert "sk-test-key" not in repr(request.json)


async def test_error_mid_stream_keeps_the_partial_text_marked_interrupted(world: World) -> None:
    world.fake.add_fault(Fault(path="/v1/completions", stream_error_after_chunks=8))
    prompt = "Breaks [[words:40]]"
    await world.alice.slash(world.channel, "write", prompt=prompt, max_tokens=100)
    (message,) = world.answers()
    text, _, notes = message.content.partition("\n-# ")
    assert world.fake.completion_text_for(prompt, 100).startswith(text) and len(text.split()) == 8
    assert "⚠️ The answer was interrupted by an error of the AI service" in notes
    (event,) = await world.events()
    assert event.estimated and event.output_tokens == 8


async def test_missing_send_messages_permission_is_explained(world: World) -> None:
    me = world.guild.me
    assert me is not None
    channel = world.guild.create_text_channel(
        "read-only", overwrites={me: discord.PermissionOverwrite(send_messages=False)}
    )
    result = await world.alice.slash(channel, "write", prompt="hi")
    assert result.ephemeral
    assert result.response.content == (
        "I am missing permissions in this channel: Send Messages. Ask a server admin to grant them."
    )
    assert world.completion_requests() == []
    assert_errors(world.env, "BotMissingChannelPermissions")


async def test_expired_interaction_token_continues_with_channel_messages(world: World) -> None:
    world.fake.stream_delay = 0.004
    prompt = "A long wait [[code]]"
    await world.launch(world.alice, prompt=prompt, max_tokens=1024)
    # The first part is on screen (not just the deferred "thinking…" placeholder, which a token
    # expiring this early would leave empty beside the channel messages).
    await world.wait_until(lambda: any(m.content for m in world.answers()))
    # Fifteen minutes later Discord answers 401 / 50027 to anything sent with the interaction token.
    world.env.inject_error(
        "*", "/webhooks/*", status=401, code=50027, message="Invalid Webhook Token", times=None
    )
    await world.wait_until(lambda: bool(world.finished()))
    await world.drain()

    messages = world.answers()
    assert len(messages) >= 3
    assert_answer(messages, world.fake.completion_text_for(prompt, 1024))
    channel_sends = [
        r
        for r in world.env.http_requests
        if r.method in ("POST", "PATCH") and r.path.startswith(f"/channels/{world.channel.id}/messages")
    ]
    assert channel_sends, "the answer continued through the channel"
    assert len(await world.events()) == 1
    assert_errors(world.env)  # the expired token is handled, not an error


async def test_ten_concurrent_streams_in_one_channel_keep_the_edit_budget(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10 members at once: every answer complete, and the channel never sees more than 5 sends
    in the (scaled) rule's window.

    The bot runs with the tests' pacing (tests/conftest.py: Discord's intervals scaled down, the
    same 5 sends per window); sends are timed on the clock the bot's scheduler reads.
    """
    pacing = world.bot.edit_scheduler.pacing
    world.fake.stream_delay = 0.02
    sends: list[float] = []
    from simcord.http import router  # every REST call, bot HTTP and interaction webhooks alike

    original = router.dispatch

    def timed(backend: Any, method: str, path: str, **kwargs: Any) -> Any:
        if method in ("POST", "PATCH") and ("/webhooks/" in path or path.endswith("/messages")):
            sends.append(world.env.backend.clock.elapsed)
        return original(backend, method, path, **kwargs)

    monkeypatch.setattr(router, "dispatch", timed)
    members = [world.guild.add_member(world.env.create_user(f"m{i}")) for i in range(10)]
    prompts = [f"Member {i} asks [[words:{30 + i}]]" for i in range(10)]
    for member, prompt in zip(members, prompts, strict=True):
        await world.launch(member, prompt=prompt, max_tokens=100)
    assert len(world.finished()) < 10, "the streams should overlap"
    await world.wait_until(lambda: len(world.finished()) == 10, limit=90)
    await world.drain()

    answers = world.answers()
    assert len(answers) == 10
    by_text = {m.content.split("\n-# ")[0] for m in answers}
    assert by_text == {world.fake.completion_text_for(p, 100) for p in prompts}
    assert len(await world.events()) == 10
    # Each answer is at least one send (a late one may appear complete at once); callbacks don't count.
    assert len(sends) >= 10

    def most_in(window: float) -> int:
        return max(len([t for t in sends[i:] if t - start < window]) for i, start in enumerate(sends))

    assert most_in(TEST_RULE_WINDOW) <= pacing.channel_max_edits
    # The budget really was the limit: the scheduler's own window was filled.
    assert most_in(pacing.channel_window) >= pacing.channel_max_edits
    assert world.bot.edit_scheduler.stats[world.channel.id].rate_limited == 0
    assert Decimal(0) < sum(((e.cost_usd or Decimal(0)) for e in await world.events()), Decimal(0))


async def test_discord_rate_limit_on_an_edit_loses_and_duplicates_nothing(world: World) -> None:
    world.fake.stream_delay = 0.01
    prompt = "Rate limited [[words:120]]"
    world.env.inject_error("PATCH", "/webhooks/*", status=429, message="You are being rate limited.", times=1)
    await world.alice.slash(world.channel, "write", prompt=prompt, max_tokens=200)
    await world.drain()
    expected = world.fake.completion_text_for(prompt, 200)
    messages = world.answers()
    assert_answer(messages, expected)
    assert world.bot.edit_scheduler.stats[world.channel.id].rate_limited == 1
    assert len(await world.events()) == 1


async def test_shutdown_mid_stream_keeps_the_text_and_records_the_usage(world: World) -> None:
    import sqlite3

    world.fake.stream_delay = 0.05
    prompt = "Interrupted by a restart [[words:400]]"
    await world.launch(world.alice, prompt=prompt, max_tokens=500)
    await world.wait_until(lambda: bool(world.answers()))
    database = world.bot.settings.database_path
    await world.bot.close()

    (message,) = world.answers()
    assert (
        "-# ⚠️ Interrupted: the bot was shutting down; the text above is what was written." in message.content
    )
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT feature, estimated, output_tokens FROM usage_events").fetchall()
    assert len(rows) == 1
    feature, estimated, output_tokens = rows[0]
    assert feature == "write" and estimated and 0 < output_tokens < 400


async def test_an_interaction_that_expired_before_the_acknowledgement_is_abandoned_cleanly(
    world: World,
) -> None:
    # Discord says 10062 Unknown interaction when the 3 s to acknowledge are over.
    world.env.inject_error(
        "POST", "/interactions/*/callback", status=404, code=10062, message="Unknown interaction"
    )
    await world.alice.slash(world.channel, "write", prompt="Too late [[words:50]]", max_tokens=100)
    assert world.answers() == []
    (event,) = await world.events()
    assert event.estimated and event.output_tokens == 0
    assert not world.bot.get_cog("Write").running  # type: ignore[union-attr]


async def test_a_ledger_failure_still_shows_the_answer_and_its_priced_cost(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(event: Any) -> Any:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(world.bot.ledger, "record", broken)
    prompt = "Unrecorded [[words:12]]"
    await world.alice.slash(world.channel, "write", prompt=prompt, max_tokens=50)
    (message,) = world.answers()
    assert_answer([message], world.fake.completion_text_for(prompt, 50))
    # The footer prices the usage as the ledger would have (bot.usage.cost), exact tokens included.
    input_tokens = -(-len(prompt) // 4)
    cost = world.bot.pricing.cost(MODEL, input_tokens=input_tokens, output_tokens=12)
    assert cost > 0
    assert footer_of(message) == [f"-# {MODEL} · {input_tokens + 12} tokens · {format_usd(cost)}"]
    assert await world.events() == []
