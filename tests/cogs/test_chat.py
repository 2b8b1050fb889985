"""/chat through the real bot in simcord, against the fake OpenAI server streaming on loopback.

Each test asserts what members see in the thread and what was sent to the API and stored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
import pytest

from bot.app import OpenAIBot, create_bot
from bot.settings import Settings
from cogs.chat import FEATURE as CHAT
from tests.cogs.conftest import assert_errors
from tests.cogs.simcord_hooks import without_settling
from tests.conftest import closing_bots

MODEL = "gpt-5.4-mini"


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

    @property
    def cog(self) -> Any:
        return self.bot.get_cog("Chat")

    def chat_requests(self) -> list[Any]:
        return self.fake.requests_to("/v1/chat/completions", "POST")

    async def start(self, member: Any, **options: Any) -> Any:
        """/chat new; returns the conversation's thread."""
        before = {t.id for t in self.channel.threads}
        result = await member.slash(self.channel, "chat new", **options)
        assert result.acknowledged
        (thread,) = [t for t in self.channel.threads if t.id not in before]
        return thread

    def bot_messages(self, thread: Any) -> list[discord.Message]:
        return [m for m in thread.history() if m.author.bot]

    def answers(self, thread: Any) -> list[discord.Message]:
        """The bot's finished answers (footer line and buttons), oldest first; a multi-message
        answer counts by its last message. Notes have a footer-style line but no buttons."""
        return [
            m
            for m in self.bot_messages(thread)
            if m.content.splitlines() and m.content.splitlines()[-1].startswith("-# ") and buttons(m)
        ]

    async def launch(self, member: Any, thread: Any, content: str) -> None:
        """Post in the thread without waiting for the answer (simcord's verbs wait until the bot is
        idle, so nothing could be posted while an answer streams otherwise)."""
        async with without_settling(self.env, pause=0.01):
            await member.send(thread, content)

    async def stored(self, thread: Any) -> list[tuple[str, str, str]]:
        """(role, speaker, text) of the conversation's stored history."""
        conversation = await self.cog.repo.by_thread(self.guild.id, thread.id)
        return [(m.role, m.author_name, m.content) for m in await self.cog.repo.history(conversation)]

    async def wait_until(self, condition: Any, limit: float = 30.0) -> None:
        deadline = time.perf_counter() + limit
        while not condition():
            assert time.perf_counter() < deadline, "timed out waiting for the bot"
            await asyncio.sleep(0.02)


@pytest.fixture
async def world(simcord_env: Any, fake_openai_threaded: Any) -> World:
    made = World(simcord_env, fake_openai_threaded)
    await made.bot.feature_settings.update(made.guild.id, CHAT, cooldown_seconds=0)
    return made


def text_of(message: discord.Message) -> str:
    return "\n".join(line for line in message.content.splitlines() if not line.startswith("-# "))


def buttons(message: discord.Message) -> dict[str, str]:
    found = {}
    for row in message.components:
        for child in getattr(row, "children", []):
            if isinstance(child, discord.Button) and child.label and child.custom_id:
                found[child.label] = child.custom_id
    return found


def user(name: str, text: str) -> dict[str, Any]:
    return {"role": "user", "content": f"{name}: {text}"}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


async def test_a_conversation_of_several_turns_carries_the_history_in_order(world: World) -> None:
    thread = await world.start(world.alice, message="Hello there [[words:6]]", instructions="Be brief.")
    await world.bob.send(thread, "What next? [[words:5]]")
    await world.alice.send(thread, "And finally [[words:4]]")

    requests = world.chat_requests()
    assert len(requests) == 3
    system = {"role": "system", "content": "Be brief."}
    a1 = world.fake.chat_text_for([user("alice", "Hello there [[words:6]]")])
    a2 = world.fake.chat_text_for([user("bob", "What next? [[words:5]]")])
    a3 = world.fake.chat_text_for([user("alice", "And finally [[words:4]]")])
    assert [r.json["messages"] for r in requests] == [
        [system, user("alice", "Hello there [[words:6]]")],
        [
            system,
            user("alice", "Hello there [[words:6]]"),
            assistant(a1),
            user("bob", "What next? [[words:5]]"),
        ],
        [
            system,
            user("alice", "Hello there [[words:6]]"),
            assistant(a1),
            user("bob", "What next? [[words:5]]"),
            assistant(a2),
            user("alice", "And finally [[words:4]]"),
        ],
    ]
    for request in requests:
        # gpt-5.4-mini is a reasoning model: no temperature, and the limit in max_completion_tokens.
        assert request.json["model"] == MODEL
        assert "temperature" not in request.json and "max_tokens" not in request.json
        assert request.json["max_completion_tokens"] > 0
        assert request.json["stream_options"] == {"include_usage": True}

    answers = world.answers(thread)
    assert [text_of(m) for m in answers] == [a1, a2, a3]
    assert set(buttons(answers[-1])) == {"Regenerate", "End"}
    assert await world.stored(thread) == [
        ("user", "alice", "Hello there [[words:6]]"),
        ("assistant", world.bot.user.display_name, a1),
        ("user", "bob", "What next? [[words:5]]"),
        ("assistant", world.bot.user.display_name, a2),
        ("user", "alice", "And finally [[words:4]]"),
        ("assistant", world.bot.user.display_name, a3),
    ]
    events = list(reversed(await world.bot.ledger.events(world.guild.id)))  # oldest first
    assert [(e.feature, e.model, e.user_id, e.estimated) for e in events] == [
        ("chat", MODEL, world.alice.id, False),
        ("chat", MODEL, world.bob.id, False),
        ("chat", MODEL, world.alice.id, False),
    ]
    assert [e.output_tokens for e in events] == [6, 5, 4]
    assert [e.request_id for e in events] == [r.request_id for r in requests]
    footer = answers[0].content.splitlines()[-1]
    assert footer.startswith(f"-# {MODEL} · {events[0].input_tokens + 6} tokens")


async def test_history_is_trimmed_from_the_oldest_to_the_budget(world: World) -> None:
    await world.bot.feature_settings.update(world.guild.id, CHAT, max_context_tokens=500)
    thread = await world.start(world.alice, instructions="Answer in one word.")
    long = "x" * 600  # about 150 tokens each with its speaker
    for n in range(5):
        await world.alice.send(thread, f"{n} {long} [[words:3]]")
    last = world.chat_requests()[-1].json["messages"]
    assert last[0] == {"role": "system", "content": "Answer in one word."}  # instructions always first
    assert last[-1] == user("alice", f"4 {long} [[words:3]]")
    # Only the newest messages that fit 500 estimated tokens were sent, in order; the oldest went.
    sent_users = [m["content"].split(" ", 2)[1] for m in last if m["role"] == "user"]
    assert sent_users == ["3", "4"]
    assert sum(len(m["content"]) for m in last) // 4 <= 500
    # Everything is still stored: trimming only shapes what is sent.
    assert len(await world.stored(thread)) == 10


async def test_messages_posted_while_an_answer_streams_are_answered_next_in_order(world: World) -> None:
    thread = await world.start(world.alice)
    world.fake.stream_delay = 0.01
    await world.launch(world.alice, thread, "First question [[words:80]]")
    await world.wait_until(lambda: len(world.chat_requests()) == 1)
    await world.launch(world.bob, thread, "Bob asks meanwhile [[words:3]]")
    await world.launch(world.alice, thread, "Alice adds something [[words:3]]")
    assert len(world.chat_requests()) == 1  # one answer at a time per conversation
    await world.wait_until(lambda: len(world.answers(thread)) == 3)
    await world.env.settle()

    first, second, third = (r.json["messages"] for r in world.chat_requests())
    a1 = world.fake.chat_text_for(first)
    a2 = world.fake.chat_text_for(second)
    assert second == [*first, assistant(a1), user("bob", "Bob asks meanwhile [[words:3]]")]
    assert third == [*second, assistant(a2), user("alice", "Alice adds something [[words:3]]")]
    assert [text_of(m) for m in world.answers(thread)] == [a1, a2, world.fake.chat_text_for(third)]


async def test_stop_keeps_the_text_so_far_and_records_an_estimate(world: World) -> None:
    thread = await world.start(world.alice)
    world.fake.stream_delay = 0.02
    await world.launch(world.alice, thread, "A long answer please [[words:400]]")
    await world.wait_until(lambda: any("Stop" in buttons(m) for m in world.bot_messages(thread)))
    streaming = next(m for m in world.bot_messages(thread) if "Stop" in buttons(m))
    await world.alice.click(streaming, label="Stop")
    await world.wait_until(lambda: len(world.answers(thread)) == 1)
    await world.env.settle()

    (answer,) = world.answers(thread)
    assert "Stopped." in answer.content
    full = world.fake.chat_text_for(world.chat_requests()[-1].json["messages"])
    kept = text_of(answer)
    assert kept and full.startswith(kept) and len(kept) < len(full)
    assert set(buttons(answer)) == {"Regenerate", "End"}
    (event,) = await world.bot.ledger.events(world.guild.id)
    assert event.estimated and 0 < event.output_tokens < 400
    assert (await world.stored(thread))[-1] == ("assistant", world.bot.user.display_name, kept)


async def test_regenerate_replaces_the_last_answer(world: World) -> None:
    thread = await world.start(world.alice, message="Tell me something [[words:5]]")
    await world.alice.send(thread, "More please [[words:7]]")
    old = world.answers(thread)[-1]
    await world.bob.click(old, label="Regenerate")

    requests = world.chat_requests()
    assert len(requests) == 3
    assert requests[2].json["messages"] == requests[1].json["messages"]  # the same question again
    # The replaced answer stays readable without its buttons; the new one has them.
    (replaced,) = [m for m in world.bot_messages(thread) if m.id == old.id]
    assert buttons(replaced) == {} and text_of(replaced) == text_of(old)
    answers = world.answers(thread)
    assert len(answers) == 2 and answers[-1].id != old.id
    assert text_of(answers[-1]) == world.fake.chat_text_for(requests[2].json["messages"])
    stored = await world.stored(thread)
    assert [role for role, _, _ in stored] == ["user", "assistant", "user", "assistant"]
    # Only the last answer can be regenerated.
    result = await world.alice.click(answers[0], label="Regenerate")
    assert result.ephemeral and "last answer" in result.response.content
    assert len(world.chat_requests()) == 3


async def test_end_stops_the_conversation(world: World) -> None:
    thread = await world.start(world.alice, message="Hi [[words:3]]")
    result = await world.bob.slash(thread, "chat end")
    assert result.ephemeral and "Only" in result.response.content  # not bob's conversation
    result = await world.alice.slash(thread, "chat end")
    assert not result.ephemeral and "Conversation ended" in result.response.content
    conversation = await world.cog.repo.by_thread(world.guild.id, thread.id)
    assert conversation.ended
    await world.alice.send(thread, "Are you there? [[words:3]]")
    assert len(world.chat_requests()) == 1  # no answer after the end


async def test_archiving_the_thread_ends_the_conversation(world: World) -> None:
    thread = await world.start(world.alice, message="Hi [[words:3]]")
    world.env.backend.edit_channel(thread.id, {}, thread_metadata={"archived": True})
    await world.env.settle()
    conversation = await world.cog.repo.by_thread(world.guild.id, thread.id)
    assert conversation.ended


async def test_a_thread_in_another_server_is_never_seen(world: World) -> None:
    other = world.env.create_guild(name="Other")
    other_channel = other.create_text_channel("general")
    carol = other.add_member(world.env.create_user("carol"))
    await world.bot.feature_settings.update(other.id, CHAT, cooldown_seconds=0)
    before = {t.id for t in other_channel.threads}
    await carol.slash(other_channel, "chat new", message="Secret of the other server [[words:3]]")
    (other_thread,) = [t for t in other_channel.threads if t.id not in before]

    thread = await world.start(world.alice, message="Hello [[words:3]]")
    await world.alice.send(thread, "What do you know? [[words:3]]")
    mine = world.chat_requests()[-1].json["messages"]
    assert all("Secret" not in m["content"] for m in mine)
    # Storage is keyed by server: this server cannot reach the other thread's conversation.
    assert await world.cog.repo.by_thread(world.guild.id, other_thread.id) is None
    assert await world.cog.repo.by_thread(other.id, other_thread.id) is not None
    # A plain thread (no conversation) gets no answer.
    plain_channel = world.env.backend.create_thread(world.channel.id, "plain", world.alice.id)
    await world.env.settle()
    (plain,) = [t for t in world.channel.threads if t.id == plain_channel.id]
    count = len(world.chat_requests())
    await world.alice.send(plain, "anyone? [[words:3]]")
    assert len(world.chat_requests()) == count
    assert world.bot_messages(plain) == []


async def test_zh_cn(world: World, user_locale: Any) -> None:
    user_locale("zh-CN")
    thread = await world.start(world.alice, message="你好 [[words:3]]")
    intro = world.bot_messages(thread)[0]
    assert "开始了对话" in intro.content
    (answer,) = world.answers(thread)
    assert set(buttons(answer)) == {"重新生成", "结束"}
    assert "个令牌" in answer.content.splitlines()[-1]


async def test_refusals_are_private(world: World) -> None:
    await world.bot.feature_settings.update(world.guild.id, CHAT, allowed_models=["gpt-4.1"])
    result = await world.alice.slash(world.channel, "chat new", model="gpt-5.5")
    assert result.ephemeral and "does not allow" in result.response.content
    assert_errors(world.env, "ChatError")
    result = await world.alice.slash(world.channel, "chat end")
    assert result.ephemeral and "conversation's thread" in result.response.content
    assert world.chat_requests() == [] and world.channel.threads == []


@pytest.fixture
async def simcord_bot(bot_settings: Settings, request: pytest.FixtureRequest) -> AsyncIterator[OpenAIBot]:
    """The bot, run without the intents a test names (`indirect` parameter), as when Discord refuses them."""
    refused = frozenset(getattr(request, "param", ()))
    async with closing_bots() as bots:
        yield bots(create_bot(bot_settings, refused_intents=refused))


@pytest.mark.parametrize("simcord_bot", [{"message_content"}], indirect=True)
async def test_without_message_content_the_bot_answers_mentions(world: World) -> None:
    assert not world.bot.intents.message_content
    thread = await world.start(world.alice)
    assert "Mention" in world.bot_messages(thread)[0].content  # the thread says how it works
    await world.alice.send(thread, "Hello without a mention [[words:3]]")
    assert world.chat_requests() == []  # Discord withholds its text; the bot leaves it alone
    mention = world.bot.user.mention
    await world.bob.send(thread, f"{mention} what time is it? [[words:3]]")
    (request,) = world.chat_requests()
    assert request.json["messages"] == [user("bob", "what time is it? [[words:3]]")]
    assert len(world.answers(thread)) == 1

    help_text = (await world.alice.slash(world.channel, "help")).response.embeds[0].fields[0].value
    assert "without the Message Content intent: mention the bot" in help_text
    # /chat is not turned off for want of the intent.
    assert world.bot.features.is_available("chat")


async def test_with_message_content_help_has_no_mention_note(world: World) -> None:
    help_text = (await world.alice.slash(world.channel, "help")).response.embeds[0].fields[0].value
    assert "Conversations" in help_text and "mention the bot" not in help_text


async def test_private_threads_and_images_for_vision_models(world: World) -> None:
    await world.bot.feature_settings.update(world.guild.id, CHAT, private_threads=True)
    thread = await world.start(world.alice, model="gpt-4.1")
    assert world.env.backend.channels[thread.id].type == discord.ChannelType.private_thread.value
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    await world.alice.send(thread, "What is this? [[words:3]]", attachments=[("cat.png", png)])
    (request,) = world.chat_requests()
    (message,) = request.json["messages"]
    assert message["content"][0] == {"type": "text", "text": "alice: What is this? [[words:3]]"}
    assert message["content"][1]["type"] == "image_url"
    assert message["content"][1]["image_url"]["url"].endswith("cat.png")


async def test_turn_limit_usage_estimate_and_retention(world: World) -> None:
    await world.bot.feature_settings.update(world.guild.id, CHAT, max_turns=2)
    thread = await world.start(world.alice, message="One [[words:3]]")
    await world.alice.send(thread, "Two, from a server without usage [[words:3]] [[no-usage]]")
    await world.alice.send(thread, "Three [[words:3]]")
    assert len(world.chat_requests()) == 2  # the third message is over the limit
    assert "limit of 2 answers" in world.bot_messages(thread)[-1].content
    newest, oldest = await world.bot.ledger.events(world.guild.id)
    assert not oldest.estimated and newest.estimated  # no usage reported: estimated, and marked so
    assert newest.output_tokens == 3 and newest.input_tokens > 0
    assert "~" in world.answers(thread)[-1].content.splitlines()[-1]

    # Conversations past the retention are deleted with their messages; recent ones stay.
    cog = world.cog
    assert await cog.purge_old_conversations(datetime.now(UTC)) == 0
    assert await cog.purge_old_conversations(datetime.now(UTC) + timedelta(days=31)) == 1
    assert await cog.repo.by_thread(world.guild.id, thread.id) is None
    assert await world.bot.db.fetchall("SELECT id FROM chat_messages") == []


async def test_ending_while_an_answer_streams_stops_it_and_drops_waiting_messages(world: World) -> None:
    thread = await world.start(world.alice)
    world.fake.stream_delay = 0.02
    await world.launch(world.alice, thread, "A long answer please [[words:400]]")
    await world.wait_until(lambda: len(world.chat_requests()) == 1)
    await world.launch(world.bob, thread, "And mine? [[words:3]]")
    result = await world.alice.slash(thread, "chat end")
    assert "Conversation ended" in result.response.content
    await world.env.settle()
    assert len(world.chat_requests()) == 1  # bob's waiting message is not answered after the end
    (answer,) = world.answers(thread)
    assert "Stopped." in answer.content


async def test_a_message_taken_just_before_the_conversation_ended_is_not_answered(world: World) -> None:
    thread = await world.start(world.alice, message="Hi [[words:3]]")
    cog = world.cog
    # What on_message holds when /chat end lands while it stores the message: the row as it was.
    taken = await cog.repo.by_thread(world.guild.id, thread.id)
    assert not taken.ended
    late = await cog.repo.add_message(
        taken, role="user", author_id=world.alice.id, author_name="alice", content="Late [[words:3]]"
    )
    result = await world.alice.slash(thread, "chat end")
    assert "Conversation ended" in result.response.content

    cog._enqueue(await world.bot.fetch_channel(thread.id), taken, late)
    await cog._workers[thread.id]
    assert len(world.chat_requests()) == 1  # the turn read the conversation again and saw it ended
    assert [m.content for m in world.answers(thread)] == [world.answers(thread)[0].content]


async def test_a_long_opening_message_is_quoted_in_part_and_sent_to_the_model_whole(world: World) -> None:
    opening = "\n".join(f"Line {n}: " + "lorem ipsum " * 25 for n in range(12)) + " [[words:3]]"
    assert 3500 < len(opening) <= 4000
    thread = await world.start(world.alice, message=opening)
    intro = world.bot_messages(thread)[0].content
    assert len(intro) <= 2000 and intro.endswith("…")
    assert "\n\n> Line 0: lorem ipsum" in intro
    assert world.chat_requests()[-1].json["messages"][-1]["content"] == f"alice: {opening}"
    assert len(world.answers(thread)) == 1
