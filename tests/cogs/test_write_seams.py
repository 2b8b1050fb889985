"""/write on the feature seams: zh-CN end to end, servers isolated from each other's settings and
sessions, sessions kept only for the server's retention, bounded Continue, refusals cost no turn."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cogs.write import FEATURE as WRITE
from cogs.write.cog import WriteCog, continuation_prompt
from cogs.write.feature import CONTINUE_CONTEXT_CHARS
from cogs.write.sessions import WriteSession
from cogs.write.views import finished_view
from tests.cogs.conftest import assert_errors
from tests.cogs.test_write import MODEL, World, buttons, footer_of
from tests.cogs.test_write import world as world


def _cog(world: World) -> WriteCog:
    # The loaded extension is a fresh copy of the module (discord.py loads extensions anew), so
    # its class is not this module's WriteCog: checked by name.
    cog: Any = world.bot.get_cog("Write")
    assert type(cog).__name__ == "WriteCog"
    return cog  # type: ignore[no-any-return]


async def test_a_zh_cn_member_reads_the_whole_answer_in_chinese(
    world: World, user_locale: Callable[[str], None]
) -> None:
    user_locale("zh-CN")
    await world.alice.slash(world.channel, "write", prompt="灯笼 [[words:40]]", max_tokens=6)
    (message,) = world.answers()
    assert set(buttons(message)) == {"重新生成", "继续"}
    assert footer_of(message)[0] == "-# ✂️ 已达到长度上限（6 个令牌）。按“继续”获取更多。"
    assert re.fullmatch(rf"-# {MODEL} · \d+ 个令牌 · \$[0-9.]+", footer_of(message)[1])

    result = await world.bob.click(message, label="继续")
    assert result.ephemeral
    assert result.response.content == f"只有提问的 <@{world.alice.id}> 才能使用这些按钮。"


async def test_another_servers_settings_and_sessions_are_never_seen(world: World) -> None:
    other = world.env.create_guild(name="Other")
    other_channel = other.create_text_channel("general")
    carol = other.add_member(world.env.create_user("carol"))
    await world.bot.feature_settings.update(other.id, WRITE, enabled=False, max_tokens=5)

    # Our server is unaffected by the other's settings...
    await world.alice.slash(world.channel, "write", prompt="ours [[words:8]]", max_tokens=8)
    assert world.completion_requests()[0].json["max_tokens"] == 8
    (message,) = world.answers()
    session_id = int(buttons(message)["Regenerate"].rsplit(":", 1)[-1])
    assert await _cog(world).sessions.get(world.guild.id, session_id) is not None
    # ...and the other server cannot reach our session, even with its id.
    assert await _cog(world).sessions.get(other.id, session_id) is None
    await world.bot.feature_settings.update(other.id, WRITE, enabled=None)
    channel = world.bot.get_channel(other_channel.id)
    assert channel is not None
    forged = await channel.send("forged", view=finished_view(session_id, "en-US", can_continue=True))  # type: ignore[union-attr]
    shown = next(m for m in other_channel.history() if m.id == forged.id)
    result = await carol.click(shown, label="Continue")
    assert result.ephemeral
    assert result.response.content == "This answer's buttons have expired. Run /write again."
    assert len(world.completion_requests()) == 1


async def test_sessions_are_purged_after_each_servers_retention(world: World) -> None:
    cog = _cog(world)
    other = world.env.create_guild(name="Keeps less")
    await world.bot.feature_settings.update(other.id, WRITE, keep_sessions_days=2)
    now = datetime.now(UTC)
    ids = {}
    for guild_id in (world.guild.id, other.id):
        for age_days in (1, 3, 31):
            session = await cog.sessions.create(
                guild_id=guild_id,
                channel_id=1,
                user_id=2,
                model=MODEL,
                prompt="p",
                temperature=None,
                max_tokens=5,
            )
            async with world.bot.db.transaction() as conn:
                created = int((now - timedelta(days=age_days)).timestamp())
                await conn.execute_fetchall(
                    "UPDATE write_sessions SET created_at = ? WHERE id = ?", (created, session.id)
                )
            ids[guild_id, age_days] = session.id

    assert await cog.purge_old_sessions(now) == 3
    kept = {key for key, sid in ids.items() if await cog.sessions.get(key[0], sid) is not None}
    # Default retention (30 days) here; two days in the server that chose so.
    assert kept == {(world.guild.id, 1), (world.guild.id, 3), (other.id, 1)}


def test_continue_sends_a_bounded_tail_of_the_conversation() -> None:
    def session(prompt: str, output: str) -> WriteSession:
        return WriteSession(
            id=1, guild_id=1, channel_id=1, user_id=1, model=MODEL, prompt=prompt,
            temperature=None, max_tokens=10, output=output, finish_reason="length",
        )  # fmt: skip

    assert continuation_prompt(session("Once", " upon a time")) == "Once upon a time"
    long = continuation_prompt(session("word " * 5000, "more " * 5000))
    assert len(long) <= CONTINUE_CONTEXT_CHARS
    assert long.endswith("more ") and long.startswith("more")  # cut at a word boundary


async def test_a_refused_request_does_not_cost_the_members_turn(world: World) -> None:
    await world.bot.feature_settings.update(world.guild.id, WRITE, cooldown_seconds=60)
    refused = await world.alice.slash(world.channel, "write", prompt="hi", model="gpt-99-instruct")
    assert refused.response.content.startswith("The model `gpt-99-instruct` is not available.")
    # Straight away, no "slow down": the refusal spent nothing.
    await world.alice.slash(world.channel, "write", prompt="again [[words:3]]", max_tokens=5)
    assert len(world.completion_requests()) == 1
    # A request that did start does cost the turn.
    third = await world.alice.slash(world.channel, "write", prompt="third", max_tokens=5)
    assert third.response.content.startswith("Slow down a little: try again in")
    assert_errors(world.env, "Cooldown")
