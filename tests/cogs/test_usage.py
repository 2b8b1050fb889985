"""/usage through the real bot in simcord: members see their own usage, Manage Server sees the
server's (by feature, by model, top members, any member), a PNG chart, budgets, the CSV export
whose sums equal the report's, and zh-CN formatting."""

from __future__ import annotations

import csv
import io
import struct
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import discord
import pytest

from bot.app import OpenAIBot
from bot.usage import UsageEvent
from tests.cogs.conftest import assert_errors

# The first chart imports matplotlib, off the event loop but within simcord's settle step: several
# seconds on a loaded machine, more than simcord's default 5 s.
pytestmark = pytest.mark.simcord(settle_timeout=30.0)


class World:
    def __init__(self, env: Any) -> None:
        self.env = env
        self.guild = env.create_guild()
        self.channel = self.guild.create_text_channel("general")
        admins = self.guild.create_role("admins", permissions=discord.Permissions(manage_guild=True))
        self.admin = self.guild.add_member(env.create_user("ada"), roles=[admins])
        self.alice = self.guild.add_member(env.create_user("alice"))
        self.bob = self.guild.add_member(env.create_user("bob"))

    @property
    def bot(self) -> OpenAIBot:
        bot: OpenAIBot = self.env.bot
        return bot

    async def spend(
        self, member: Any, feature: str, model: str, cost: str, days_ago: int = 0, **usage: Any
    ) -> None:
        when = datetime.now(UTC) - timedelta(days=days_ago)
        await self.bot.ledger.record(
            UsageEvent(
                guild_id=self.guild.id,
                user_id=member.id,
                feature=feature,
                model=model,
                cost_usd=Decimal(cost),
                created_at=when,
                **usage,
            )
        )


@pytest.fixture
async def world(simcord_env: Any) -> World:
    made = World(simcord_env)
    await made.spend(
        made.alice, "write", "gpt-3.5-turbo-instruct", "1.25", input_tokens=1000, output_tokens=2000
    )
    await made.spend(made.alice, "imagine", "dall-e-3", "0.08", days_ago=1, images=2)
    await made.spend(
        made.bob, "write", "davinci-002", "1234.5", days_ago=2, input_tokens=500, output_tokens=500
    )
    # Another server's usage never shows.
    await made.bot.ledger.record(
        UsageEvent(
            guild_id=made.guild.id + 1, user_id=made.alice.id, feature="write", model="m", cost_usd=Decimal(9)
        )
    )
    return made


def _report(result: Any) -> discord.Embed:
    # Deferred ("thinking…"), then the report replaces the placeholder privately.
    assert result.acknowledged and result.ephemeral
    message = result.response
    embed: discord.Embed = message.embeds[0]
    return embed


def _fields(embed: discord.Embed) -> dict[str, str]:
    return {str(f.name): str(f.value) for f in embed.fields}


def _assert_png(data: bytes) -> tuple[int, int]:
    """A PNG signature, an IHDR chunk with a valid CRC, and its width and height."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    body = data[16 : 16 + length]
    (crc,) = struct.unpack(">I", data[16 + length : 20 + length])
    assert zlib.crc32(kind + body) == crc
    assert data.endswith(b"IEND\xaeB`\x82")
    width, height = struct.unpack(">II", body[:8])
    return width, height


async def test_a_member_sees_only_their_own_usage_with_a_chart(world: World) -> None:
    result = await world.alice.slash(world.channel, "usage show", period="7d")
    embed = _report(result)
    assert embed.description is not None and embed.description.startswith(
        f"<@{world.alice.id}> · last 7 days"
    )
    fields = _fields(embed)
    assert fields["Total"] == "2 requests · 3,000 tokens · 2 images · $1.33"
    assert "Top members" not in fields
    assert fields["By model"].splitlines() == [
        "`gpt-3.5-turbo-instruct` · 1 requests · 3,000 tokens · $1.25",
        "`dall-e-3` · 1 requests · 0 tokens · 2 images · $0.08",
    ]
    assert embed.footer.text is not None and "pricing table of Jun 1, 2025" in embed.footer.text
    (attachment,) = result.response.attachments
    assert attachment.filename == "usage.png"
    width, height = _assert_png(await attachment.read())
    assert (width, height) == (800, 360)


async def test_manage_server_sees_the_server_by_feature_and_model_top_members_and_any_member(
    world: World,
) -> None:
    embed = _report(await world.admin.slash(world.channel, "usage show", period="30d"))
    fields = _fields(embed)
    assert fields["Total"] == "3 requests · 4,000 tokens · 2 images · $1,235.83"
    assert fields["By feature"].splitlines() == [
        "Image generation · 1 requests · 0 tokens · 2 images · $0.08",
        "Text writing · 2 requests · 4,000 tokens · $1,235.75",
    ]
    assert fields["Top members"].splitlines() == [
        f"<@{world.bob.id}> · 1 requests · 1,000 tokens · $1,234.50",
        f"<@{world.alice.id}> · 2 requests · 3,000 tokens · 2 images · $1.33",
    ]
    one = _report(await world.admin.slash(world.channel, "usage show", period="30d", member=world.bob))
    assert _fields(one)["Total"] == "1 requests · 1,000 tokens · $1,234.50"
    today = _report(await world.admin.slash(world.channel, "usage show", period="today"))
    assert _fields(today)["Total"] == "1 requests · 3,000 tokens · $1.25"


async def test_members_cannot_read_others_usage_or_export(world: World) -> None:
    other = await world.alice.slash(world.channel, "usage show", member=world.bob)
    assert (
        other.ephemeral and other.response.content == "You need these permissions to do that: Manage Server."
    )
    export = await world.alice.slash(world.channel, "usage export")
    assert (
        export.ephemeral
        and export.response.content == "You need these permissions to do that: Manage Server."
    )
    assert_errors(world.env, "MissingPermissions", "MissingPermissions")


async def test_export_is_a_csv_whose_sums_equal_the_report(world: World) -> None:
    result = await world.admin.slash(world.channel, "usage export", period="all")
    message = result.response
    assert message.content == "3 usage records (costs are estimates in USD)."
    (attachment,) = message.attachments
    rows = list(csv.DictReader(io.StringIO((await attachment.read()).decode("utf-8"))))
    assert len(rows) == 3 and {int(r["user_id"]) for r in rows} == {world.alice.id, world.bob.id}
    total = sum((Decimal(r["cost_usd"]) for r in rows), Decimal(0))
    tokens = sum(int(r["input_tokens"]) + int(r["output_tokens"]) for r in rows)
    report = _fields(_report(await world.admin.slash(world.channel, "usage show", period="all")))
    assert total == Decimal("1235.83")
    assert (
        report["Total"] == f"3 requests · {tokens:,} tokens · 2 images · ${total.quantize(Decimal('0.01')):,}"
    )


async def test_zh_cn_reader_gets_chinese_formatting_and_budgets(
    world: World, user_locale: Callable[[str], None]
) -> None:
    await world.bot.guild_settings.update(
        world.guild.id, monthly_budget_usd=Decimal(5000), member_daily_budget_usd=Decimal(2)
    )
    user_locale("zh-CN")
    embed = _report(await world.alice.slash(world.channel, "usage show", period="30d"))
    assert embed.title == "AI 用量"
    fields = _fields(embed)
    assert fields["合计"] == "2 次请求 · 3,000 个 token · 2 张图片 · US$1.33"
    budgets = fields["预算"].splitlines()
    assert budgets[0].startswith("服务器（本月）：US$5,000.00 中还剩 US$3,764.17 · ")
    assert budgets[1].startswith("你（今天）：US$2.00 中还剩 US$0.75 · ")
    assert "年" in budgets[1] and budgets[1].endswith("UTC 重置")
    assert embed.footer.text is not None and "2025年6月1日" in embed.footer.text
