"""/usage show: a member's own usage, or (Manage Server) the server's totals by feature and model, the
top members and any member's usage, with budgets and a daily-cost chart. /usage export (Manage
Server): the server's ledger rows as CSV. Numbers, money and dates in the reader's locale."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.discord_io.mentions import NO_PINGS
from bot.i18n import t, t_or
from bot.i18n.formatting import format_date, format_datetime_utc, format_money, format_number
from bot.usage.budgets import day_start, month_start
from bot.usage.events import UsageSums
from bot.usage.reports import Scope, UsageReports
from cogs.usage.chart import day_range, render_daily_cost

if TYPE_CHECKING:
    from bot.app import OpenAIBot

log = logging.getLogger(__name__)

Period = Literal["today", "7d", "30d", "month", "all"]
PERIODS: tuple[Period, ...] = ("today", "7d", "30d", "month", "all")
EXPORT_COLUMNS = (
    "id",
    "created_at",
    "user_id",
    "channel_id",
    "feature",
    "model",
    "request_id",
    "input_tokens",
    "output_tokens",
    "images",
    "image_size",
    "image_quality",
    "audio_seconds",
    "cost_usd",
    "estimated",
)
# Discord's embed field limit is 1,024 characters; these lists stay far below it.
TOP_MEMBERS = 5
TOP_MODELS = 8


def period_start(period: Period, now: datetime) -> datetime | None:
    if period == "today":
        return day_start(now)
    if period == "month":
        return month_start(now)
    if period == "7d":
        return day_start(now) - timedelta(days=6)
    if period == "30d":
        return day_start(now) - timedelta(days=29)
    return None


def _period_choices() -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=locale_str(p, key=f"usage.period.{p}"), value=p) for p in PERIODS]


class UsageCog(commands.Cog, name="Usage"):
    usage = app_commands.Group(
        name=locale_str("usage", key="cmd.usage.name"),
        description=locale_str("AI usage and cost in this server", key="cmd.usage.description"),
        guild_only=True,
    )

    def __init__(self, bot: OpenAIBot, *, clock: Callable[[], datetime] | None = None) -> None:
        self.bot = bot
        self.reports = UsageReports(bot.db)
        self._clock = clock or (lambda: datetime.now(UTC))

    # -- show -----------------------------------------------------------------------------------

    @usage.command(
        name=locale_str("show", key="cmd.usage.show.name"),
        description=locale_str(
            "Your usage, or the server's (Manage Server)", key="cmd.usage.show.description"
        ),
    )
    @app_commands.rename(
        period=locale_str("period", key="cmd.usage.opt.period.name"),
        member=locale_str("member", key="cmd.usage.opt.member.name"),
    )
    @app_commands.describe(
        period=locale_str("Which days (default: this month)", key="cmd.usage.opt.period.description"),
        member=locale_str("Another member's usage (Manage Server)", key="cmd.usage.opt.member.description"),
    )
    @app_commands.choices(period=_period_choices())
    async def show(
        self,
        interaction: discord.Interaction[Any],
        period: str = "month",
        member: discord.Member | None = None,
    ) -> None:
        ctx = await self.bot.contexts.get(interaction)
        admin = interaction.permissions.manage_guild
        if member is not None and member.id != interaction.user.id and not admin:
            raise app_commands.MissingPermissions(["manage_guild"])
        # Reading the ledger and drawing the chart take a moment: acknowledge first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert ctx.guild_id is not None and ctx.guild is not None
        chosen: Period = period if period in PERIODS else "month"
        now = self._clock()
        user_id = None if admin and member is None else (member or interaction.user).id
        scope = Scope(ctx.guild_id, user_id, period_start(chosen, now), None)
        embed, chart = await self._report(ctx.locale, chosen, scope, now, interaction.user.id)
        files = [discord.File(io.BytesIO(chart), filename="usage.png")] if chart else []
        if chart:
            embed.set_image(url="attachment://usage.png")
        await interaction.followup.send(embed=embed, files=files, ephemeral=True, allowed_mentions=NO_PINGS)

    async def _report(
        self, locale: str, period: Period, scope: Scope, now: datetime, reader_id: int
    ) -> tuple[discord.Embed, bytes | None]:
        totals = await self.bot.ledger.totals(scope.guild_id, user_id=scope.user_id, since=scope.since)
        who = (
            t("usage.scope.server", locale)
            if scope.user_id is None
            else t("usage.scope.member", locale, member=f"<@{scope.user_id}>")
        )
        since = scope.since.date() if scope.since else None
        embed = discord.Embed(title=t("usage.title", locale), colour=discord.Colour.blurple())
        embed.description = t(
            "usage.description",
            locale,
            who=who,
            period=t(f"usage.period.{period}", locale),
            since=format_date(since, locale) if since else "—",
            until=format_date(now.date(), locale),
        )
        embed.add_field(name=t("usage.totals", locale), value=self._sums_line(totals, locale), inline=False)
        if totals.by_feature:
            embed.add_field(
                name=t("usage.by_feature", locale),
                value="\n".join(
                    f"{t_or(f'feature.{name}', locale, name)} · {self._sums_line(sums, locale)}"
                    for name, sums in totals.by_feature.items()
                ),
                inline=False,
            )
            by_model = await self.reports.by_model(scope)
            embed.add_field(
                name=t("usage.by_model", locale),
                value="\n".join(
                    f"`{name}` · {self._sums_line(sums, locale)}"
                    for name, sums in list(by_model.items())[:TOP_MODELS]
                ),
                inline=False,
            )
        if scope.user_id is None and totals.count:
            top = await self.reports.top_members(scope, TOP_MEMBERS)
            embed.add_field(
                name=t("usage.top_members", locale),
                value="\n".join(f"<@{uid}> · {self._sums_line(sums, locale)}" for uid, sums in top),
                inline=False,
            )
        budget_lines = await self._budget_lines(scope.guild_id, scope.user_id or reader_id, locale)
        if budget_lines:
            embed.add_field(name=t("usage.budgets", locale), value="\n".join(budget_lines), inline=False)
        pricing = self.bot.pricing
        embed.set_footer(
            text=t("usage.estimate_note", locale, date=format_date(pricing.prices_read_on, locale))
        )
        chart = await self._chart(scope, now) if totals.count else None
        return embed, chart

    def _sums_line(self, sums: UsageSums, locale: str) -> str:
        parts = [
            t("usage.requests", locale, n=format_number(sums.count, locale)),
            t("usage.tokens", locale, n=format_number(sums.total_tokens, locale)),
        ]
        if sums.images:
            parts.append(t("usage.images", locale, n=format_number(sums.images, locale)))
        if sums.audio_seconds:
            minutes = round(sums.audio_seconds / 60, 1)
            parts.append(t("usage.audio_minutes", locale, n=format_number(minutes, locale)))
        cost = format_money(sums.cost_usd, locale)
        parts.append(f"~{cost}" if sums.estimated_count else cost)
        return " · ".join(parts)

    async def _budget_lines(self, guild_id: int, user_id: int, locale: str) -> list[str]:
        settings = await self.bot.guild_settings.get(guild_id)
        lines = []
        for status in await self.bot.budgets.status(guild_id, user_id, settings):
            lines.append(
                t(
                    "usage.budget_line",
                    locale,
                    name=t(f"budget.name.{status.scope}", locale),
                    left=format_money(status.left, locale),
                    limit=format_money(status.limit, locale),
                    resets=format_datetime_utc(status.resets_at, locale),
                )
            )
        return lines

    async def _chart(self, scope: Scope, now: datetime) -> bytes | None:
        daily = await self.reports.daily_cost_by_feature(scope)
        if not daily:
            return None
        first = scope.since.date() if scope.since else min(daily)
        days = day_range(first, max(now.date(), max(daily)))
        features = sorted({feature for costs in daily.values() for feature in costs})
        # Drawing takes tens of milliseconds of CPU: off the event loop, so Discord keeps being served.
        return await asyncio.to_thread(render_daily_cost, days, daily, features)

    # -- export ---------------------------------------------------------------------------------

    @usage.command(
        name=locale_str("export", key="cmd.usage.export.name"),
        description=locale_str(
            "This server's usage records as a CSV file (Manage Server)", key="cmd.usage.export.description"
        ),
    )
    @app_commands.rename(period=locale_str("period", key="cmd.usage.opt.period.name"))
    @app_commands.describe(
        period=locale_str("Which days (default: this month)", key="cmd.usage.opt.period.description")
    )
    @app_commands.choices(period=_period_choices())
    async def export(self, interaction: discord.Interaction[Any], period: str = "month") -> None:
        ctx = await self.bot.contexts.get(interaction)
        if not interaction.permissions.manage_guild:
            raise app_commands.MissingPermissions(["manage_guild"])
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert ctx.guild_id is not None
        chosen: Period = period if period in PERIODS else "month"
        scope = Scope(ctx.guild_id, None, period_start(chosen, self._clock()), None)
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        count = 0
        async for row in self.reports.rows(scope):
            writer.writerow(row)
            count += 1
        data = io.BytesIO(text.getvalue().encode("utf-8"))
        name = f"usage-{ctx.guild_id}-{chosen}.csv"
        await interaction.followup.send(
            t("usage.export.done", ctx.locale, n=format_number(count, ctx.locale)),
            file=discord.File(data, filename=name),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )
