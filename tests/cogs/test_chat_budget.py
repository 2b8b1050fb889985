"""/chat turns reserve the member's worst case before the API call, like /write: a turn the
server's budget cannot cover is refused in the thread, costs nothing, and holds nothing after."""

from __future__ import annotations

from decimal import Decimal

from tests.cogs.test_chat import World
from tests.cogs.test_chat import world as world  # the fixture


async def test_a_turn_the_budget_cannot_cover_is_refused_and_spends_nothing(world: World) -> None:
    thread = await world.start(world.alice, message="First question [[words:5]]")
    assert len(world.chat_requests()) == 1
    await world.bot.guild_settings.update(world.guild.id, monthly_budget_usd=Decimal("0.0001"))

    await world.alice.send(thread, "Second question [[words:5]]")

    assert len(world.chat_requests()) == 1  # no API call
    note = [m.content for m in world.bot_messages(thread)][-1]
    assert note.startswith("⚠️ This server's monthly AI budget does not cover this request:")
    events = await world.bot.ledger.events(world.guild.id)
    assert [e.feature for e in events] == ["chat"]  # only the first turn was spent
    # Nothing is left held: with the budget lifted the next turn goes through.
    await world.bot.guild_settings.update(world.guild.id, monthly_budget_usd=None)
    await world.alice.send(thread, "Third question [[words:5]]")
    assert len(world.chat_requests()) == 2
