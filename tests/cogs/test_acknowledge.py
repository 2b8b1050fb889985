"""Acknowledge first: a slow `GET /models` never delays a command's acknowledgement.

The model list is read from the background catalog; these tests make `/models` take 5 s.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.settings import Settings
from tests.cogs.ack import acknowledgement_delay
from tests.conftest import make_settings
from tests.fakes.openai_server import Fault

MODEL = "gpt-3.5-turbo-instruct"
# Discord allows 3 s; /write may wait up to 1 s for a refusal it can keep private.
ACK_LIMIT = 1.5


def slow_models() -> Fault:
    return Fault(method="GET", path="/v1/models", delay=5.0, times=None)


@pytest.fixture
def bot_settings(tmp_path: Path, fake_openai_threaded: Any) -> Settings:
    # /models fails from the very start: the bot has no model list when the first /write arrives,
    # which is when the old code went to fetch one.
    fake_openai_threaded.add_fault(Fault(method="GET", path="/v1/models", status=503, times=None))
    return make_settings(tmp_path, fake_openai_threaded)


def public_answers(channel: Any) -> list[Any]:
    return [m for m in channel.history() if m.author.bot and not m.flags.ephemeral]


async def test_write_is_acknowledged_quickly_and_answers_while_models_take_5_s(
    simcord_env: Any, fake_openai_threaded: Any
) -> None:
    guild = simcord_env.create_guild()
    channel = guild.create_text_channel("general")
    alice = guild.add_member(simcord_env.create_user("alice"))
    prompt = "Say hello [[words:6]]"
    fake_openai_threaded.clear_faults()
    fake_openai_threaded.add_fault(slow_models())

    delay, result = await acknowledgement_delay(
        simcord_env, alice.slash(channel, "write", prompt=prompt, max_tokens=20)
    )

    assert delay < ACK_LIMIT, f"acknowledged after {delay:.2f} s"
    assert result.acknowledged and not result.ephemeral
    (answer,) = public_answers(channel)
    assert answer.content.startswith(fake_openai_threaded.completion_text_for(prompt, 20))
    # The only listing was the catalog's own start-up attempt, which failed: nothing was filtered.
    assert len(fake_openai_threaded.requests_to("/v1/models", "GET")) == 1
    assert simcord_env.bot.model_catalog.ids() is None


async def test_autocomplete_and_write_read_the_cached_list_without_asking_again(
    simcord_env: Any, fake_openai_threaded: Any
) -> None:
    guild = simcord_env.create_guild()
    channel = guild.create_text_channel("general")
    alice = guild.add_member(simcord_env.create_user("alice"))
    fake = fake_openai_threaded
    # A listing that worked once, then /models turns slow and failing.
    fake.clear_faults()
    assert await simcord_env.bot.model_catalog.refresh()
    fake.add_fault(Fault(method="GET", path="/v1/models", status=500, delay=5.0, times=None))
    listings = len(fake.requests_to("/v1/models", "GET"))

    for typed in ("g", "gp", "gpt-3.5"):
        choices = await alice.autocomplete(channel, "write", "model", typed)
        assert MODEL in [choice["value"] for choice in choices]

    delay, result = await acknowledgement_delay(
        simcord_env, alice.slash(channel, "write", prompt="Hi [[words:3]]", model="no-such-model")
    )
    assert delay < ACK_LIMIT
    # Validated against the cached list: a private refusal naming the unknown model.
    assert result.ephemeral and "no-such-model" in result.response.content
    assert fake.requests_to("/v1/completions", "POST") == []
    assert len(fake.requests_to("/v1/models", "GET")) == listings


def command_at(tree: app_commands.CommandTree[Any], invocation: str) -> Any:
    """The command behind "name" or "group sub" (simcord's invocation strings)."""
    first, *rest = invocation.split()
    found: Any = tree.get_command(first)
    for part in rest:
        found = found.get_command(part) if found is not None else None
    return found


async def test_every_command_without_required_options_is_acknowledged_in_time(
    simcord_env: Any, fake_openai_threaded: Any
) -> None:
    """The rule for commands added later too: with /models slow, each one answers within the limit."""
    guild = simcord_env.create_guild()
    channel = guild.create_text_channel("general")
    # Manage Server, so the admin commands run their real work rather than refusing.
    admins = guild.create_role("admins", permissions=discord.Permissions(manage_guild=True))
    alice = guild.add_member(simcord_env.create_user("alice"), roles=[admins])
    fake_openai_threaded.clear_faults()
    fake_openai_threaded.add_fault(slow_models())
    tree = simcord_env.bot.tree

    checked = []
    for invocation in alice.available_commands(channel):
        command = command_at(tree, invocation)
        if not isinstance(command, app_commands.Command) or any(p.required for p in command.parameters):
            continue
        delay, result = await acknowledgement_delay(simcord_env, alice.slash(channel, invocation))
        assert result.acknowledged and delay < ACK_LIMIT, f"/{invocation} acknowledged after {delay:.2f} s"
        checked.append(invocation)
    # /write without a prompt opens its form.
    assert {"help", "write", "config show", "config history", "usage show", "usage export"} <= set(checked)


async def test_the_helper_reports_a_late_acknowledgement(
    simcord_env: Any, fake_openai_threaded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The measurement itself: a /write whose checks take 2 s is reported 2 s late."""
    guild = simcord_env.create_guild()
    channel = guild.create_text_channel("general")
    alice = guild.add_member(simcord_env.create_user("alice"))
    fake_openai_threaded.clear_faults()
    # The loaded cog's own method: extensions re-import their module, so patch the instance.
    cog = simcord_env.bot.get_cog("Write")
    original = cog._request

    async def slow_request(interaction: Any, options: Any) -> Any:
        await asyncio.sleep(2.0)
        return await original(interaction, options)

    monkeypatch.setattr(cog, "_request", slow_request)
    delay, result = await acknowledgement_delay(
        simcord_env, alice.slash(channel, "write", prompt="Hi [[words:3]]", max_tokens=10)
    )
    assert result.acknowledged
    assert 2.0 <= delay < 3.0


@pytest.mark.parametrize(
    ("path", "invocation", "options"),
    [
        ("/v1/chat/completions", "chat new", {"message": "Hello [[words:3]]"}),
        ("/v1/moderations", "moderate", {"text": "a calm sentence"}),
        ("/v1/embeddings", "ask", {"question": "What are the rules?"}),
        # An empty knowledge base still embeds the query before it can say nothing matched.
        ("/v1/embeddings", "kb search", {"query": "when do voice channels close"}),
        ("/v1/images/generations", "imagine", {"prompt": "a lighthouse at dawn"}),
        # The fake transcribes these bytes as the text after the marker.
        ("/v1/audio/transcriptions", "transcribe", {"file": ("talk.wav", b"FAKE-TRANSCRIPT:hello there")}),
    ],
)
async def test_commands_with_a_slow_api_are_acknowledged_before_calling_it(
    simcord_env: Any, fake_openai_threaded: Any, path: str, invocation: str, options: dict[str, Any]
) -> None:
    guild = simcord_env.create_guild()
    channel = guild.create_text_channel("general")
    alice = guild.add_member(simcord_env.create_user("alice"))
    fake_openai_threaded.clear_faults()
    fake_openai_threaded.add_fault(Fault(path=path, delay=2.0, times=None))
    delay, result = await acknowledgement_delay(simcord_env, alice.slash(channel, invocation, **options))
    assert result.acknowledged and delay < ACK_LIMIT, f"/{invocation} acknowledged after {delay:.2f} s"
    assert fake_openai_threaded.requests_to(path, "POST"), "the slow endpoint was really called"


async def test_kb_add_is_acknowledged_before_embedding_its_text(
    simcord_env: Any, fake_openai_threaded: Any
) -> None:
    """/kb add takes an editor (Manage Server here), so it is not in the list above; same assertions."""
    guild = simcord_env.create_guild()
    channel = guild.create_text_channel("general")
    admins = guild.create_role("admins", permissions=discord.Permissions(manage_guild=True))
    alice = guild.add_member(simcord_env.create_user("alice"), roles=[admins])
    fake_openai_threaded.clear_faults()
    fake_openai_threaded.add_fault(Fault(path="/v1/embeddings", delay=2.0, times=None))
    text = "Voice channels close at midnight. Music bots are allowed in the lounge only."
    delay, result = await acknowledgement_delay(
        simcord_env, alice.slash(channel, "kb add", text=text, title="Voice")
    )
    assert result.acknowledged and delay < ACK_LIMIT, f"/kb add acknowledged after {delay:.2f} s"
    (request,) = fake_openai_threaded.requests_to("/v1/embeddings", "POST")
    assert request.json["input"] == [text], "the slow endpoint was really called, with the text"
    # The slow embedding finished and the document was stored, as the reply says.
    (stored,) = await simcord_env.bot.get_cog("Knowledge").repo.documents(guild.id)
    assert (stored.title, stored.chunks) == ("Voice", 1)
    assert result.ephemeral and result.response.content == f"✅ Added **Voice** (`#{stored.id}`): 1 passages."
