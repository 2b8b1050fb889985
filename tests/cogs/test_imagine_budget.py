"""/imagine reserves the worst case (n images at the size and quality) before the API call: a
request a budget cannot cover is refused with which budget, and nothing is called or spent."""

from __future__ import annotations

from decimal import Decimal

from tests.cogs.test_imagine import World
from tests.cogs.test_imagine import world as world  # the fixture


async def test_a_request_the_members_budget_cannot_cover_is_refused_before_the_api(world: World) -> None:
    await world.bot.guild_settings.update(world.guild.id, member_daily_budget_usd=Decimal("0.05"))
    result = await world.alice.slash(world.channel, "imagine", prompt="A lighthouse", n=1)
    assert result.acknowledged
    assert world.api_requests() == []
    assert await world.events() == []
    # The "thinking…" placeholder became the refusal.
    (notice,) = world.posts()
    assert notice.content.startswith("⚠️ Your daily AI budget in this server does not cover this request:")

    # With room for the request, it runs, and nothing stays reserved afterwards.
    await world.bot.guild_settings.update(world.guild.id, member_daily_budget_usd=Decimal("1"))
    await world.alice.slash(world.channel, "imagine", prompt="A lighthouse", n=1)
    await world.drain()
    assert len(world.image_requests()) == 1
    assert [e.feature for e in await world.events()] == ["imagine"]
