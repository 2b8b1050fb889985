"""The bot's own AI output reviewed before it is left on screen: /write through moderation's
reviewer (the core's OutputReview seam), with the server's rules deciding."""

from __future__ import annotations

from typing import Any

from tests.cogs.conftest import assert_errors
from tests.cogs.test_write import World, buttons, footer_of
from tests.cogs.test_write import world as world


async def _moderation_on(world: World, **changes: Any) -> None:
    moderation = world.bot.features["moderation"]
    await world.bot.feature_settings.update(world.guild.id, moderation, enabled=True, **changes)


async def test_an_answer_the_servers_rules_forbid_is_withheld(world: World) -> None:
    await _moderation_on(world)
    await world.alice.slash(
        world.channel, "write", prompt="Say flag:harassment please [[echo]]", max_tokens=50
    )
    (message,) = world.answers()
    body = [line for line in message.content.splitlines() if not line.startswith("-# ")]
    assert body == ["🚫 This answer was withheld: this server's moderation rules forbid it (harassment)."]
    assert "flag:harassment" not in message.content
    assert footer_of(message)  # the usage is still shown and was recorded
    assert sorted(e.feature for e in await world.events()) == ["moderation", "write"]  # review on /usage too
    assert set(buttons(message)) == {"Regenerate"}  # nothing to continue from
    reviewed = [r.json["input"] for r in world.fake.requests_to("/v1/moderations", "POST")]
    assert any("flag:harassment" in str(i) for i in reviewed)
    assert_errors(world.env)


async def test_answers_pass_when_clean_or_when_the_server_does_not_review_output(world: World) -> None:
    await _moderation_on(world)
    await world.alice.slash(world.channel, "write", prompt="A calm reply [[words:6]]", max_tokens=10)
    assert "withheld" not in world.answers()[-1].content

    await _moderation_on(world, check_bot_output=False)
    await world.alice.slash(world.channel, "write", prompt="Say flag:harassment [[echo]]", max_tokens=50)
    assert "flag:harassment" in world.answers()[-1].content


async def test_a_chat_answer_the_servers_rules_forbid_is_withheld(world: World) -> None:
    await _moderation_on(world)
    before = {t.id for t in world.channel.threads}
    await world.alice.slash(world.channel, "chat new", message="Repeat flag:violence [[echo]]")
    (thread,) = [t for t in world.channel.threads if t.id not in before]
    answers = [m for m in thread.history() if m.author.bot and "-# " in m.content]
    assert answers, "the conversation answered"
    last = answers[-1].content
    assert last.startswith(
        "🚫 This answer was withheld: this server's moderation rules forbid it (violence)."
    )
    assert "flag:violence" not in last
