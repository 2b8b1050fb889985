"""/write picks the endpoint by model: completion models on /completions, every other text model on
/chat/completions with the prompt as one user message; a server's "wrong endpoint" answer is
retried once on the other endpoint and remembered for that model."""

from __future__ import annotations

from typing import Any

import pytest

from cogs.write import FEATURE as WRITE
from tests.cogs.test_write import World, assert_answer, buttons, footer_of

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"


@pytest.fixture
async def world(simcord_env: Any, fake_openai_threaded: Any) -> World:
    made = World(simcord_env, fake_openai_threaded)
    await made.bot.feature_settings.update(made.guild.id, WRITE, cooldown_seconds=0)
    # The fake answers like OpenAI itself; the bot, seeing a loopback address, would otherwise
    # treat it as a compatible server (every text model on /completions) until told otherwise.
    made.bot.model_catalog.openai_hosted = True
    return made


async def test_write_with_a_chat_model_streams_through_chat_completions(world: World) -> None:
    prompt = "Write about rivers [[words:30]]"
    result = await world.alice.slash(world.channel, "write", prompt=prompt, model="gpt-4.1", max_tokens=100)
    assert result.acknowledged and not result.ephemeral
    assert world.fake.requests_to(COMPLETIONS, "POST") == []
    (request,) = world.fake.requests_to(CHAT, "POST")
    assert request.json["messages"] == [{"role": "user", "content": prompt}]
    assert request.json["max_tokens"] == 100 and request.json["model"] == "gpt-4.1"
    expected = world.fake.chat_text_for(request.json["messages"], 100)
    messages = world.answers()
    assert_answer(messages, expected)
    (event,) = await world.events()
    assert (event.feature, event.model, event.output_tokens, event.estimated) == (
        "write",
        "gpt-4.1",
        30,
        False,
    )
    assert event.request_id == request.request_id
    assert footer_of(messages[-1])[0].startswith(f"-# gpt-4.1 · {event.input_tokens + 30} tokens")
    assert set(buttons(messages[-1])) == {"Regenerate", "Continue"}

    # Regenerate and Continue go through the same endpoint.
    await world.alice.click(messages[-1], label="Regenerate")
    await world.alice.click(world.answers()[-1], label="Continue")
    assert len(world.fake.requests_to(CHAT, "POST")) == 3
    assert world.fake.requests_to(COMPLETIONS, "POST") == []


async def test_write_with_a_completion_model_stays_on_completions(world: World) -> None:
    await world.alice.slash(
        world.channel, "write", prompt="Hi [[words:5]]", model="davinci-002", max_tokens=20
    )
    assert len(world.fake.requests_to(COMPLETIONS, "POST")) == 1
    assert world.fake.requests_to(CHAT, "POST") == []
    assert_answer(world.answers(), world.fake.completion_text_for("Hi [[words:5]]", 20))


async def test_a_reasoning_model_is_never_sent_temperature(world: World) -> None:
    await world.alice.slash(
        world.channel,
        "write",
        prompt="Think [[words:4]]",
        model="gpt-5.4-mini",
        temperature=0.3,
        max_tokens=50,
    )
    (request,) = world.fake.requests_to(CHAT, "POST")
    assert "temperature" not in request.json and "max_tokens" not in request.json
    assert request.json["max_completion_tokens"] == 50
    assert request.status == 200
    assert len(world.finished()) == 1


async def test_the_endpoint_fallback_is_remembered(world: World) -> None:
    # A compatible server is assumed to serve every text model on /completions; this one answers
    # like OpenAI that gpt-4.1 is a chat model.
    world.bot.model_catalog.openai_hosted = False
    assert world.bot.model_catalog.endpoint_for("gpt-4.1") == "completions"
    await world.alice.slash(world.channel, "write", prompt="One [[words:3]]", model="gpt-4.1")
    # Tried /completions, told it is a chat model, retried once on chat completions.
    assert [r.path for r in world.fake.requests if r.method == "POST"] == [COMPLETIONS, CHAT]
    assert world.fake.requests_to(COMPLETIONS, "POST")[0].status == 404
    assert len(world.finished()) == 1 and not world.answers()[0].flags.ephemeral
    (event,) = await world.events()
    assert event.request_id == world.fake.requests_to(CHAT, "POST")[0].request_id
    await world.alice.slash(world.channel, "write", prompt="Two [[words:3]]", model="gpt-4.1")
    # Remembered: straight to chat completions this time.
    assert [r.path for r in world.fake.requests if r.method == "POST"] == [COMPLETIONS, CHAT, CHAT]
    assert world.bot.model_catalog.endpoint_for("gpt-4.1") == "chat_completions"
    # Other models are not affected by what was learnt about this one.
    assert world.bot.model_catalog.endpoint_for("gpt-4o") == "completions"
