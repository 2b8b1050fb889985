"""Transcription reserves the audio's worst case before downloading or calling the API; automatic
mode says a budget refusal once, then stays quiet until the budget resets."""

from __future__ import annotations

from decimal import Decimal

from tests.cogs.test_transcribe import World
from tests.cogs.test_transcribe import world as world  # the fixture


async def test_automatic_mode_says_a_budget_refusal_once_then_pauses(world: World) -> None:
    await world.enable_automatic()
    await world.bot.guild_settings.update(world.guild.id, monthly_budget_usd=Decimal("0.000001"))

    await world.voice_message(world.alice, "first words", seconds=30)
    await world.wait_until(lambda: len(world.replies()) == 1)
    (reply,) = world.replies()
    assert "This server's monthly AI budget does not cover this request" in reply.content
    assert world.api_requests() == []

    # The next voice messages get no reply and no API call until the budget resets.
    await world.voice_message(world.bob, "second words", seconds=30)
    await world.env.settle()
    assert len(world.replies()) == 1
    assert world.api_requests() == []
    assert await world.bot.ledger.events(world.guild.id) == []


async def test_a_request_within_the_budget_is_transcribed_and_holds_nothing_after(world: World) -> None:
    await world.enable_automatic()
    await world.bot.guild_settings.update(world.guild.id, monthly_budget_usd=Decimal("1"))
    for n in range(3):
        await world.voice_message(world.alice, f"words number {n}", seconds=30)
    await world.wait_until(lambda: len(world.replies()) == 3)
    assert len(world.api_requests()) == 3
    assert len(await world.bot.ledger.events(world.guild.id)) == 3
