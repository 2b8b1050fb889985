"""Automatic moderation through the real bot in simcord, against the fake OpenAI server on loopback.

Markers in message text decide the fake's scores (`flag:<category>` scores 0.97, `score:<c>=x`).
Each test asserts what members and moderators see and what was stored (audit rows, counters).
"""

from __future__ import annotations

import json
from typing import Any

import discord
import pytest
from simcord.backend.errors import SetupError

from bot.app import OpenAIBot
from bot.discord_io.rest_budget import Priority, current_priority
from cogs.moderation import FEATURE as MODERATION
from cogs.moderation.cog import ModerationCog
from tests.cogs.simcord_hooks import without_settling
from tests.fakes.openai_server import Fault


class World:
    def __init__(self, env: Any, fake: Any) -> None:
        self.env = env
        self.fake = fake
        self.guild = env.create_guild()
        self.general = self.guild.create_text_channel("general")
        self.logs = self.guild.create_text_channel("mod-log")
        self.alice_user = env.create_user("alice")
        self.alice = self.guild.add_member(self.alice_user)
        mods = self.guild.create_role("mods", permissions=discord.Permissions(manage_messages=True))
        self.mod = self.guild.add_member(env.create_user("mod"), roles=[mods])

    @property
    def bot(self) -> OpenAIBot:
        bot: OpenAIBot = self.env.bot
        return bot

    @property
    def cog(self) -> ModerationCog:
        # Each bot loads the extension afresh (its own module objects), so no isinstance check.
        cog: ModerationCog | None = self.bot.get_cog("Moderation")  # type: ignore[assignment]
        assert cog is not None
        return cog

    async def configure(self, **changes: Any) -> None:
        await self.bot.feature_settings.update(self.guild.id, MODERATION, **changes)

    def moderation_calls(self) -> list[Any]:
        return self.fake.requests_to("/v1/moderations", "POST")

    def log_entries(self) -> list[discord.Message]:
        return [m for m in self.logs.history() if m.author.bot]

    async def audit(self) -> list[Any]:
        return await self.cog.records.entries(self.guild.id)

    async def status(self) -> dict[str, int]:
        return await self.cog.records.status(self.guild.id)


@pytest.fixture
async def world(simcord_env: Any, fake_openai_threaded: Any) -> World:
    made = World(simcord_env, fake_openai_threaded)
    await made.bot.guild_settings.update(made.guild.id, log_channel_id=made.logs.id)
    await made.configure(enabled=True)
    return made


def labels(message: discord.Message) -> list[str]:
    return [
        child.label
        for row in message.components
        for child in getattr(row, "children", [])
        if isinstance(child, discord.Button) and child.label
    ]


def field(embed: discord.Embed, name: str) -> str:
    return next(f.value for f in embed.fields if f.name == name)


async def test_a_clean_message_is_checked_and_left_alone(world: World) -> None:
    sent = await world.alice.send(world.general, "good morning everyone, who is up for a game tonight?")

    assert [m.id for m in world.general.history()] == [sent.id]
    assert world.log_entries() == []
    [call] = world.moderation_calls()
    assert call.json["input"] == ["good morning everyone, who is up for a game tonight?"]
    assert call.json["model"] == "omni-moderation-latest"
    assert await world.audit() == []
    status = await world.status()
    assert (status["checked"], status["flagged"], status["unchecked"], status["api_calls"]) == (1, 0, 0, 1)
    # Free, but on the ledger so /usage shows the calls.
    [event] = await world.bot.ledger.events(world.guild.id)
    assert (event.feature, event.cost_usd, event.input_tokens) == ("moderation", 0, 13)


async def test_moderation_is_off_by_default(world: World) -> None:
    await world.bot.feature_settings.reset(world.guild.id, MODERATION)
    await world.alice.send(world.general, "flag:harassment off by default")
    assert world.moderation_calls() == []
    assert len(world.general.history()) == 1


async def test_a_moderately_flagged_message_is_logged_with_buttons_and_kept(world: World) -> None:
    sent = await world.alice.send(world.general, "you are all clowns score:harassment=0.6")

    assert [m.id for m in world.general.history()] == [sent.id]  # logged only, not deleted
    [entry] = world.log_entries()
    embed = entry.embeds[0]
    assert embed.title == "Message flagged"
    assert field(embed, "Author") == world.alice.mention
    assert field(embed, "Channel") == f"<#{world.general.id}>"
    assert field(embed, "Message") == sent.jump_url
    assert field(embed, "Categories") == "harassment (0.60)"
    assert field(embed, "Excerpt") == "||you are all clowns score:harassment=0.6||"
    assert field(embed, "Action taken") == "logged"
    assert labels(entry) == ["Dismiss", "Timeout 1 h", "Remove timeout"]
    assert entry.mentions == [] or entry.content == ""  # the log pings nobody
    [row] = await world.audit()
    assert (row.status, row.message_id, row.author_id, row.actions) == (
        "flagged",
        sent.id,
        world.alice.id,
        ("log",),
    )
    assert row.scores == {"harassment": 0.6}
    assert row.excerpt == "you are all clowns score:harassment=0.6"
    assert row.log_message_id == entry.id
    # Nothing was punished, so no appeal is offered.
    assert [m for m in world.alice_user.dm_channel.history() if m.author.bot] == []


async def test_a_clearly_flagged_message_is_deleted_and_the_author_warned_then_the_warning_goes(
    world: World,
) -> None:
    await world.alice.send(world.general, "graphic stuff flag:violence")

    [warning] = world.general.history()
    assert warning.author.bot
    assert warning.content.startswith(f"{world.alice.mention}, your message was flagged")
    assert "violence (0.97)" in warning.content
    warn_post = next(
        r
        for r in world.env.http_requests
        if r.method == "POST"
        and r.json
        and "content" in r.json
        and r.json["content"].startswith(world.alice.mention)
    )
    # The warning pings the author and nobody else.
    assert warn_post.json["allowed_mentions"] == {"parse": [], "users": [world.alice.id]}
    [entry] = world.log_entries()
    assert field(entry.embeds[0], "Action taken") == "logged, deleted, warned"
    [row] = await world.audit()
    assert row.actions == ("log", "delete", "warn")
    # The author is told privately, with a way to appeal.
    [dm] = [m for m in world.alice_user.dm_channel.history() if m.author.bot]
    assert "acted on your message: logged, deleted, warned" in dm.content
    assert labels(dm) == ["Appeal"]

    await world.env.advance_time(61)
    assert world.general.history() == []  # the warning removed itself after a minute


async def test_harassment_at_0_9_deletes_and_times_out_for_ten_minutes(world: World) -> None:
    await world.alice.send(world.general, "flag:harassment get lost")

    [warning] = world.general.history()  # the message is gone; the warning stays for a minute
    assert warning.author.bot
    member = await world.bot.get_guild(world.guild.id).fetch_member(world.alice.id)
    assert member.is_timed_out()
    until = member.timed_out_until
    assert until is not None
    minutes = (until - discord.utils.utcnow()).total_seconds() / 60
    assert 9 < minutes <= 10
    [row] = await world.audit()
    assert row.actions == ("log", "delete", "timeout", "warn")


async def test_self_harm_only_notifies_moderators(world: World) -> None:
    sent = await world.alice.send(world.general, "i feel terrible flag:self-harm/intent")
    assert [m.id for m in world.general.history()] == [sent.id]
    [entry] = world.log_entries()
    assert field(entry.embeds[0], "Action taken") == "logged"
    member = await world.bot.get_guild(world.guild.id).fetch_member(world.alice.id)
    assert not member.is_timed_out()


async def test_exempt_roles_and_channels_are_not_checked(world: World) -> None:
    trusted = world.guild.create_role("trusted")
    bob = world.guild.add_member(world.env.create_user("bob"), roles=[trusted])
    offtopic = world.guild.create_text_channel("offtopic")
    await world.configure(exempt_role_ids=[trusted.id], exclude_channel_ids=[offtopic.id])

    await bob.send(world.general, "flag:harassment from a trusted member")
    await world.alice.send(offtopic, "flag:harassment in an excluded channel")
    assert world.moderation_calls() == []
    assert world.log_entries() == []

    # Only included channels, when a list is set.
    await world.configure(exclude_channel_ids=[], include_channel_ids=[offtopic.id])
    await world.alice.send(world.general, "flag:harassment outside the included channel")
    assert world.moderation_calls() == []
    await world.alice.send(offtopic, "score:hate=0.55 inside it")
    assert len(world.moderation_calls()) == 1
    assert len(world.log_entries()) == 1


async def test_bots_and_empty_messages_are_skipped(world: World) -> None:
    await world.bot.get_channel(world.general.id).send("flag:harassment from the bot itself")
    await world.alice.send(world.general, "", attachments=[("notes.txt", b"plain text file")])
    assert world.moderation_calls() == []


async def test_an_edit_is_checked_again(world: World) -> None:
    sent = await world.alice.send(world.general, "a perfectly fine sentence")
    await world.alice.edit(sent, "a perfectly fine sentence score:hate=0.7")

    assert [c.json["input"] for c in world.moderation_calls()] == [
        ["a perfectly fine sentence"],
        ["a perfectly fine sentence score:hate=0.7"],
    ]
    [row] = await world.audit()
    assert row.scores == {"hate": 0.7}


async def test_a_burst_of_100_messages_takes_a_handful_of_calls_each_result_on_its_message(
    world: World,
) -> None:
    others = [world.env.create_guild(name=f"g{n}") for n in range(3)]
    channels = [world.general] + [g.create_text_channel("general") for g in others]
    members = [world.alice] + [g.add_member(world.env.create_user(f"m{n}")) for n, g in enumerate(others)]
    for g in others:
        await world.bot.feature_settings.update(g.id, MODERATION, enabled=True)
    cog = world.cog
    submitted = []
    # Queue 100 messages without waiting for the bot between them (they arrive within 250 ms).
    async with without_settling(world.env, pause=0):
        for n in range(100):
            marker = f" score:hate=0.{50 + n % 50}" if n % 7 == 0 else ""
            text = f"message number {n}{marker}"
            submitted.append(await members[n % 4].send(channels[n % 4], text))
    await world.env.settle()

    calls = world.moderation_calls()
    assert 4 <= len(calls) <= 6
    assert sum(len(c.json["input"]) for c in calls) == 100
    assert all(len(c.json["input"]) <= 32 for c in calls)
    audits = []
    for g in [world.guild, *others]:
        audits += await cog.records.entries(g.id)
    flagged = {row.message_id: row.scores for row in audits}
    expected = {m.id: {"hate": round(0.5 + (n % 50) / 100, 2)} for n, m in enumerate(submitted) if n % 7 == 0}
    assert flagged == expected  # each score came back to the message that carried it
    total = [await cog.records.status(g.id) for g in [world.guild, *others]]
    assert sum(s["checked"] for s in total) == 100


async def test_a_429_storm_keeps_the_queue_and_checks_everything_after(world: World) -> None:
    world.fake.add_fault(
        Fault(path="/v1/moderations", status=429, headers={"retry-after-ms": "200"}, times=3)
    )
    sent = await world.alice.send(world.general, "flag:hate during the storm")
    await world.alice.send(world.general, "an ordinary message")

    assert sent.id not in [m.id for m in world.general.history()]  # checked and deleted in the end
    status = await world.status()
    assert status["http_429"] == 3
    assert (status["checked"], status["unchecked"]) == (2, 0)
    assert len(world.moderation_calls()) == 3 + 1 + 1  # three refusals, then one call per message


async def test_past_the_deadline_messages_are_recorded_unchecked_with_one_notice(world: World) -> None:
    # The API is slow to answer; the queue waits (a long window) past a short deadline.
    world.cog.pipeline.deadline = 30.0
    world.cog.pipeline.window = 3600.0
    for n in range(3):
        await world.alice.send(world.general, f"message {n} while the API is down")
    assert world.log_entries() == []  # not yet
    await world.env.advance_time(31)

    rows = await world.audit()
    assert [(r.status, r.reason) for r in rows] == [("unchecked", "deadline")] * 3
    assert all(r.excerpt is None for r in rows)  # no text is kept for unchecked messages
    notices = world.log_entries()
    assert len(notices) == 1
    assert notices[0].content.startswith("⚠️ Automatic moderation could not check some messages in time")
    assert (await world.status())["unchecked"] == 3
    assert len(world.general.history()) == 3  # nothing was deleted on a guess
    assert world.moderation_calls() == []


async def test_a_missing_permission_is_reported_once_and_not_retried(world: World) -> None:
    me = world.bot.get_guild(world.guild.id).me
    locked = world.guild.create_text_channel(
        "locked", overwrites={me: discord.PermissionOverwrite(manage_messages=False)}
    )
    await world.alice.send(locked, "flag:violence first")
    await world.alice.send(locked, "flag:violence second")

    assert len(locked.history()) == 2 + 2  # both kept, each with its warning
    deletes = [r for r in world.env.http_requests if r.method == "DELETE" and str(locked.id) in r.path]
    assert deletes == []  # never asked Discord for what it would refuse
    notices = [m for m in world.log_entries() if not m.embeds]
    assert [m.content for m in notices] == [
        "⚠️ Automatic moderation could not delete a flagged message: I need Manage Messages in that channel."
    ]
    rows = await world.audit()
    assert [r.actions for r in rows] == [("log", "warn"), ("log", "warn")]


async def test_log_buttons_are_for_moderators_only(world: World) -> None:
    await world.alice.send(world.general, "score:harassment=0.6 rude")
    [entry] = world.log_entries()

    refused = await world.alice.click(entry, label="Dismiss")
    assert refused.ephemeral
    assert refused.response.content.startswith("Only moderators")
    [row] = await world.audit()
    assert row.review is None

    done = await world.mod.click(entry, label="Timeout 1 h")
    assert done.ephemeral
    member = await world.bot.get_guild(world.guild.id).fetch_member(world.alice.id)
    assert member.is_timed_out()
    done = await world.mod.click(entry, label="Remove timeout")
    member = await world.bot.get_guild(world.guild.id).fetch_member(world.alice.id)
    assert not member.is_timed_out()
    await world.mod.click(entry, label="Dismiss")
    [row] = await world.audit()
    assert (row.review, row.reviewed_by) == ("dismissed", world.mod.id)
    [entry] = world.log_entries()
    assert entry.content == f"✅ Dismissed by {world.mod.mention}."
    assert labels(entry) == []


async def test_log_buttons_work_after_a_restart(world: World, new_bot: Any) -> None:
    await world.alice.send(world.general, "score:harassment=0.6 rude")
    [entry] = world.log_entries()
    await world.env.restart_bot(new_bot())
    await world.mod.click(entry, label="Dismiss")
    [row] = await world.cog.records.entries(world.guild.id)
    assert row.review == "dismissed"


async def test_an_appeal_reaches_moderators_and_acceptance_restores_the_text(world: World) -> None:
    await world.alice.send(world.general, "flag:harassment misunderstood joke")
    [dm] = [m for m in world.alice_user.dm_channel.history() if m.author.bot]
    sent = await world.alice_user.click(dm, label="Appeal")
    assert sent.ephemeral
    assert (sent.followups[0] if sent.followups else sent.response).content == (
        "Your appeal was sent to the server's moderators."
    )
    appeal = next(m for m in world.log_entries() if m.content.startswith("📨"))
    assert labels(appeal) == ["Accept appeal", "Reject appeal"]
    again = await world.alice_user.click(dm, label="Appeal")
    assert again.response.content == "You have already appealed this decision."

    await world.mod.click(appeal, label="Accept appeal")
    # The warning is still up (it goes after a minute); the text comes back as a quote.
    warning, restored = world.general.history()
    assert warning.content.startswith(world.alice.mention)
    assert restored.content.startswith(f"Restored after an appeal, message by {world.alice.mention}")
    assert "> flag:harassment misunderstood joke" in restored.content
    member = await world.bot.get_guild(world.guild.id).fetch_member(world.alice.id)
    assert not member.is_timed_out()
    [row] = await world.audit()
    assert (row.appeal, row.review, row.reviewed_by) == ("accepted", "appeal_accepted", world.mod.id)


async def test_images_are_moderated_beside_the_text(world: World) -> None:
    await world.alice.send(
        world.general, "look at this", attachments=[("flag-violence.png", b"\x89PNG fake image bytes")]
    )
    calls = world.moderation_calls()
    inputs = [c.json["input"] for c in calls]
    assert ["look at this"] in inputs
    [image_input] = [i for i in inputs if isinstance(i[0], dict)]
    assert image_input[0]["type"] == "image_url"
    assert "flag-violence.png" in image_input[0]["image_url"]["url"]
    [row] = await world.audit()
    assert "violence" in row.scores


async def test_a_restart_with_messages_queued_records_them_unchecked(world: World, new_bot: Any) -> None:
    cog = world.cog
    # The messages are still waiting for their batch when the bot goes down.
    cog.pipeline.window = 3600.0
    for n in range(2):
        await world.alice.send(world.general, f"queued message {n}")
    await cog.records.flush()
    pending = await world.bot.db.fetchall("SELECT message_id FROM moderation_pending")
    assert len(pending) == 2

    await world.env.restart_bot(new_bot())
    rows = await world.cog.records.entries(world.guild.id)
    assert [(r.status, r.reason) for r in rows] == [("unchecked", "restart")] * 2
    notices = [m for m in world.log_entries() if "restarted" in m.content]
    assert [m.content for m in notices] == [
        "⚠️ The bot restarted while 2 messages waited for moderation; they are recorded as unchecked."
    ]
    assert await world.bot.db.fetchall("SELECT * FROM moderation_pending") == []


async def test_moderate_shows_scores_privately_and_stores_nothing(world: World) -> None:
    result = await world.alice.slash(world.general, "moderate", text="you idiot score:harassment=0.8")
    assert result.ephemeral
    text = (result.followups[0] if result.followups else result.response).content
    assert text.splitlines()[0] == "⚠️ This text would be flagged here. Highest scores:"
    assert text.splitlines()[1] == "⚠️ `harassment` 0.800"
    assert await world.audit() == []
    assert world.log_entries() == []


async def test_status_shows_the_last_day(world: World) -> None:
    await world.alice.send(world.general, "score:hate=0.6 one")
    await world.alice.send(world.general, "fine")
    # Admins only: members do not even see the command.
    with pytest.raises(SetupError):
        await world.alice.slash(world.general, "moderation status")
    admin_role = world.guild.create_role("admins", permissions=discord.Permissions(manage_guild=True))
    admin = world.guild.add_member(world.env.create_user("admin"), roles=[admin_role])
    shown = await admin.slash(world.general, "moderation status")
    assert shown.response.content == (
        "Automatic moderation is on. Last 24 hours: 2 checked, 1 flagged, 1 actions, 0 unchecked,"
        " 2 API calls, 0 rate-limited (429)."
    )


def test_settings_reject_unknown_categories() -> None:
    with pytest.raises(ValueError):
        MODERATION.settings.model_validate({"thresholds": {"spam": 0.5}})
    assert json.dumps(MODERATION.settings().model_dump(mode="json"))


async def test_excerpts_are_dropped_after_the_servers_retention(world: World) -> None:
    await world.alice.send(world.general, "score:hate=0.6 kept for a while")
    [row] = await world.audit()
    assert row.excerpt == "score:hate=0.6 kept for a while"
    # Forty days pass for this row.
    async with world.bot.db.transaction() as conn:
        await conn.execute("UPDATE moderation_audit SET created_at = created_at - 40 * 86400")
    await world.configure(keep_excerpt_days=60)
    assert await world.cog.purge_old_excerpts() == 0
    await world.configure(keep_excerpt_days=30)
    assert await world.cog.purge_old_excerpts() == 1
    [row] = await world.audit()
    assert row.excerpt is None
    assert (row.status, row.scores) == ("flagged", {"hate": 0.6})  # the record itself stays


async def test_the_bots_own_output_is_checked_before_it_is_posted(world: World) -> None:
    cog = world.cog
    verdict = await cog.check_output(world.guild.id, "a story full of flag:violence")
    assert verdict is not None
    assert verdict.flagged == {"violence": 0.97} and verdict.delete
    clean = await cog.check_output(world.guild.id, "a quiet story about lanterns")
    assert clean is not None and not clean.is_flagged
    assert [c.json["input"] for c in world.moderation_calls()] == [
        ["a story full of flag:violence"],
        ["a quiet story about lanterns"],
    ]
    assert await world.audit() == []  # the bot's own text is not a member's message: no audit row

    await world.configure(check_bot_output=False)
    assert await cog.check_output(world.guild.id, "flag:violence") is None
    await world.configure(check_bot_output=True, enabled=False)
    assert await cog.check_output(world.guild.id, "flag:violence") is None
    assert len(world.moderation_calls()) == 2


async def test_deletes_and_timeouts_go_through_the_budget_ahead_of_cosmetic_edits(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str, Any, Priority]] = []
    request = world.bot.http.request  # the budget's and gate's wrapper, installed in setup_hook

    async def recording(route: Any, **kwargs: Any) -> Any:
        seen.append((route.method, route.path, route.channel_id, current_priority()))
        return await request(route, **kwargs)

    monkeypatch.setattr(world.bot.http, "request", recording)
    await world.alice.send(world.general, "flag:harassment once more")

    def priority(method: str, path: str, channel: Any = None) -> list[Priority]:
        return [p for m, r, c, p in seen if (m, r) == (method, path) and channel in (None, c)]

    assert priority("DELETE", "/channels/{channel_id}/messages/{message_id}") == [Priority.MODERATION]
    assert priority("PATCH", "/guilds/{guild_id}/members/{user_id}") == [Priority.MODERATION]
    posts = "/channels/{channel_id}/messages"
    assert priority("POST", posts, world.general.id) == [Priority.MODERATION]  # the warning
    assert priority("POST", posts, world.logs.id) == [Priority.MODERATION]  # the log entry


async def test_an_author_ranking_with_the_bot_is_not_timed_out_and_it_is_said_once(world: World) -> None:
    # Same top role as the bot: Discord would refuse the timeout, so it is never asked.
    carol = world.guild.add_member(world.env.create_user("carol"), roles=[world.guild.roles["TestBot"]])
    await carol.send(world.general, "flag:harassment one")
    await carol.send(world.general, "flag:harassment two")

    patches = [r for r in world.env.http_requests if r.method == "PATCH" and "members" in r.path]
    assert patches == []
    notices = [m.content for m in world.log_entries() if not m.embeds]
    assert notices == [
        "⚠️ Automatic moderation could not time out a member: I need Moderate Members, and my role must"
        " rank above theirs."
    ]
    assert [r.actions for r in await world.audit()] == [("log", "delete", "warn")] * 2


async def test_a_log_channel_the_bot_cannot_post_in_is_reported_to_the_owner_once(world: World) -> None:
    me = world.bot.get_guild(world.guild.id).me
    closed = world.guild.create_text_channel(
        "closed-log", overwrites={me: discord.PermissionOverwrite(send_messages=False)}
    )
    await world.bot.guild_settings.update(world.guild.id, log_channel_id=closed.id)
    await world.alice.send(world.general, "score:hate=0.6 one")
    await world.alice.send(world.general, "score:hate=0.6 two")

    assert [m for m in closed.history() if m.author.bot] == []
    owner_dms = [m.content for m in world.guild.owner.dm_channel.history() if m.author.bot]
    assert owner_dms == [
        f"About your server {world.guild.name}: ⚠️ Automatic moderation cannot post in the moderation log"
        " channel: check my permissions there."
    ]
    assert len(await world.audit()) == 2  # still recorded


async def test_a_rejected_appeal_changes_nothing_but_the_record(world: World) -> None:
    await world.alice.send(world.general, "flag:violence for real")
    [dm] = [m for m in world.alice_user.dm_channel.history() if m.author.bot]
    await world.alice_user.click(dm, label="Appeal")
    appeal = next(m for m in world.log_entries() if m.content.startswith("📨"))
    refused = await world.alice.click(appeal, label="Accept appeal")  # not a moderator
    assert refused.response.content.startswith("Only moderators")

    await world.mod.click(appeal, label="Reject appeal")
    assert [m for m in world.general.history() if "Restored" in m.content] == []
    [row] = await world.audit()
    assert (row.appeal, row.review, row.reviewed_by) == ("rejected", "appeal_rejected", world.mod.id)
    appeal = next(m for m in world.log_entries() if m.id == appeal.id)
    assert appeal.content == f"❌ Appeal rejected by {world.mod.mention}."
    assert labels(appeal) == []


async def test_text_only_models_are_not_sent_images(world: World) -> None:
    await world.configure(model="text-moderation-latest")
    await world.alice.send(
        world.general, "look at this", attachments=[("flag-violence.png", b"\x89PNG fake image bytes")]
    )
    assert [c.json for c in world.moderation_calls()] == [
        {"input": ["look at this"], "model": "text-moderation-latest"}
    ]
    assert await world.audit() == []


async def test_a_model_the_api_refuses_is_reported_once_and_nothing_waits_for_the_deadline(
    world: World,
) -> None:
    await world.configure(model="gpt-4o-mini")  # not a moderation model: the API answers 400
    await world.alice.send(world.general, "first")
    await world.alice.send(world.general, "second")

    rows = await world.audit()
    assert [(r.status, r.reason) for r in rows] == [("unchecked", "refused")] * 2
    notices = [m.content for m in world.log_entries()]
    assert notices == [
        "⚠️ Automatic moderation could not check some messages: the moderation API refused the requests"
        " (check the API key and the moderation model). They are recorded as unchecked."
    ]
