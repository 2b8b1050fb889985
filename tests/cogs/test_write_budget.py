"""/write under budgets, through the real bot in simcord and the fake API: refused privately before
any request when the worst case does not fit, reservations released after success and after an API
error, exempt roles, the refusal in the member's language."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import discord
import pytest

from bot.db import Database
from cogs.write import FEATURE as WRITE
from tests.cogs.simcord_hooks import without_settling
from tests.cogs.test_write import World, private_note
from tests.fakes.openai_server import Fault


@pytest.fixture
async def world(simcord_env: Any, fake_openai_threaded: Any) -> World:
    made = World(simcord_env, fake_openai_threaded)
    await made.bot.feature_settings.update(made.guild.id, WRITE, cooldown_seconds=0)
    return made


async def _held(db: Database) -> int:
    row = await db.fetchone("SELECT COUNT(*) FROM budget_reservations")
    assert row is not None
    return int(row[0])


async def test_a_request_whose_worst_case_does_not_fit_is_refused_before_calling_the_api(
    world: World,
) -> None:
    await world.bot.guild_settings.update(world.guild.id, member_daily_budget_usd=Decimal("0.001"))
    # 1,000 tokens at $2 per million could cost $0.002: more than the member's day allows.
    result = await world.alice.slash(world.channel, "write", prompt="hi", max_tokens=1000)
    text = private_note(world, result)
    assert text.startswith(
        "Your daily AI budget in this server does not cover this request: $0.001 of $0.001 is left"
    )
    assert "It resets on " in text and text.endswith("12:00:00\u202fAM UTC.")
    assert world.completion_requests() == []
    assert await world.events() == [] and await _held(world.bot.db) == 0

    # A smaller answer fits; its reservation is gone once the real cost is recorded.
    result = await world.alice.slash(world.channel, "write", prompt="hi [[words:5]]", max_tokens=100)
    assert result.acknowledged and not result.ephemeral
    await world.drain()
    (event,) = await world.events()
    assert event.cost_usd is not None and event.cost_usd < Decimal("0.001")
    assert await _held(world.bot.db) == 0


async def test_the_servers_monthly_budget_refuses_in_the_members_language(
    world: World, user_locale: Callable[[str], None]
) -> None:
    await world.bot.guild_settings.update(world.guild.id, monthly_budget_usd=Decimal("0.0005"))
    user_locale("zh-CN")
    result = await world.alice.slash(world.channel, "write", prompt="hi", max_tokens=1000)
    text = private_note(world, result)
    assert text.startswith("本服务器本月的 AI 预算不足以支付这次请求：US$0.0005 中还剩 US$0.0005")
    assert "日 00:00:00 UTC 重置" in text
    assert world.completion_requests() == []


async def test_a_reservation_is_released_when_the_api_fails(world: World) -> None:
    await world.bot.guild_settings.update(world.guild.id, monthly_budget_usd=Decimal("0.0030"))
    world.fake.add_fault(Fault(path="/v1/completions", status=500, times=None))
    result = await world.alice.slash(world.channel, "write", prompt="hi", max_tokens=1000)
    assert "The AI service had an internal error" in private_note(world, result)
    assert await _held(world.bot.db) == 0
    assert await world.events() == []


async def test_exempt_roles_are_not_held_to_the_member_budget(world: World) -> None:
    staff = world.guild.create_role("staff", permissions=discord.Permissions.none())
    carol = world.guild.add_member(world.env.create_user("carol"), roles=[staff])
    await world.bot.guild_settings.update(
        world.guild.id, member_daily_budget_usd=Decimal("0.001"), budget_exempt_role_ids=[staff.id]
    )
    result = await carol.slash(world.channel, "write", prompt="hi [[words:5]]", max_tokens=1000)
    assert result.acknowledged and not result.ephemeral
    await world.drain()
    assert len(await world.events()) == 1
    refused: Any = await world.bob.slash(world.channel, "write", prompt="hi", max_tokens=1000)
    assert refused.ephemeral and "daily AI budget" in refused.response.content


async def test_fifty_simultaneous_writes_at_the_edge_of_the_budget_spend_at_most_the_budget(
    world: World,
) -> None:
    # Each answer may cost up to 50 tokens at $2 per million plus its prompt: about $0.0001, so a
    # budget of $0.0005 has room for four worst cases, whatever order the fifty arrive in.
    budget = Decimal("0.0005")
    await world.bot.guild_settings.update(world.guild.id, monthly_budget_usd=budget)
    members = [world.guild.add_member(world.env.create_user(f"m{n}")) for n in range(50)]
    # simcord runs one operation at a time; with its settle step cut to a short pause each /write
    # returns once decided and answers stream on in the background, overlapping the next ones.
    async with without_settling(world.env):
        results = [
            await m.slash(world.channel, "write", prompt="Hi [[words:40]]", max_tokens=50) for m in members
        ]
    started = [r for r in results if not r.ephemeral]
    refused = [r for r in results if r.ephemeral]
    assert started and len(refused) >= 40
    assert all("monthly AI budget does not cover" in r.response.content for r in refused)
    await world.wait_until(lambda: len(world.finished()) == len(started))
    await world.drain()
    events = await world.events()
    assert len(events) == len(started) == len(world.completion_requests())
    assert sum((e.cost_usd or Decimal(0) for e in events), Decimal(0)) <= budget
    assert await _held(world.bot.db) == 0
