"""/files and /finetune through the real bot in simcord against the fake server: a job validated,
estimated, started, followed to the end and its model used in /write; validation reports by line
with nothing uploaded; failure, cancel, restart, another server's isolation and zh-CN.

One clock drives everything: the fake's jobs follow simcord's virtual time, and so does the bot's
follower, so `env.advance_time` moves jobs along and lets the follower look at them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import discord
import pytest

from bot.app import OpenAIBot
from cogs.finetune.cog import FineTuningCog
from cogs.write import FEATURE as WRITE
from tests.cogs.ack import acknowledgement_delay
from tests.cogs.conftest import assert_errors
from tests.fakes.openai_server import Fault

BASE = "gpt-4o-mini-2024-07-18"


def training(n: int = 12) -> bytes:
    return b"".join(
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "You answer like a pirate."},
                    {"role": "user", "content": f"Question number {i}?"},
                    {"role": "assistant", "content": "Arr, that be a fine question."},
                ]
            }
        ).encode()
        + b"\n"
        for i in range(n)
    )


class World:
    def __init__(self, env: Any, fake: Any) -> None:
        self.env = env
        self.fake = fake
        self.guild = env.create_guild()
        self.channel = self.guild.create_text_channel("general")
        admins = self.guild.create_role("admins", permissions=discord.Permissions(manage_guild=True))
        self.admin = self.guild.add_member(env.create_user("ada"), roles=[admins])
        self.alice = self.guild.add_member(env.create_user("alice"))
        self.other = env.create_guild(name="Other")
        self.other_channel = self.other.create_text_channel("general")
        other_admins = self.other.create_role("admins", permissions=discord.Permissions(manage_guild=True))
        self.other_admin = self.other.add_member(env.create_user("otto"), roles=[other_admins])

    @property
    def bot(self) -> OpenAIBot:
        bot: OpenAIBot = self.env.bot
        return bot

    @property
    def cog(self) -> FineTuningCog:
        # By name: each bot loads the extension afresh, so the class object differs between bots.
        cog: Any = self.bot.get_cog("FineTuning")
        assert type(cog).__name__ == "FineTuningCog"
        return cog

    def posts(self) -> list[discord.Message]:
        """The bot's public messages in the channel, oldest first."""
        return [m for m in self.channel.history() if m.author.bot and not m.flags.ephemeral]

    def uploads(self) -> list[Any]:
        return self.fake.requests_to("/v1/files", "POST")

    async def create(self, data: bytes = b"", member: Any = None, **options: Any) -> Any:
        options.setdefault("model", BASE)
        if data:
            options["training"] = ("train.jsonl", data)
        return await (member or self.admin).slash(self.channel, "finetune create", **options)

    async def start(self, data: bytes | None = None, **options: Any) -> str:
        """Run /finetune create with a valid file, press Start; returns the job id."""
        estimate = await self.create(data or training(), **options)
        started = await self.admin.click(estimate.response, label="Start")
        assert started.acknowledged
        (job,) = self.fake.store.list_jobs()
        return job.id

    async def follow(self, seconds: float = 600) -> None:
        """Let `seconds` pass: jobs move along their timeline and the follower ticks meanwhile."""
        await self.env.advance_time(seconds)

    def status_edits(self, message_id: int) -> list[str]:
        """What the bot edited the status message to, in order."""
        return [
            r.json["content"]
            for r in self.env.http_requests
            if r.method == "PATCH" and r.path.endswith(f"/messages/{message_id}") and r.json
        ]

    async def held(self) -> list[tuple[str, int, int]]:
        """The budget reservations: (feature, user id, cost in 1e-10 USD)."""
        rows = await self.bot.db.fetchall("SELECT feature, user_id, cost_e10 FROM budget_reservations")
        return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]

    async def training_events(self) -> list[Any]:
        return [e for e in await self.bot.ledger.events(self.guild.id) if e.feature == "fine_tuning"]


@pytest.fixture
async def world(simcord_env: Any, fake_openai_threaded: Any) -> World:
    # The fake's jobs run on simcord's clock (read from the fake's thread: a float read).
    fake_openai_threaded.store.clock = lambda: simcord_env.now().timestamp()
    return World(simcord_env, fake_openai_threaded)


async def test_a_valid_file_is_estimated_started_followed_and_usable_in_write(world: World) -> None:
    estimate = await world.create(training(12), suffix="pirate", epochs=2)
    assert estimate.ephemeral
    text = estimate.response.content
    assert f"Fine-tune `{BASE}`?" in text and "Nothing is uploaded until you press Start" in text
    # 12 examples of about 4+7+5+3+8+4... estimated tokens; the cost is tokens x epochs x $3/1M.
    assert "12 examples" in text and "× 2 epochs" in text
    assert "gains usually start at 50–100" in text
    assert world.uploads() == []  # nothing before Start

    job_id = await world.start(training(12), suffix="pirate", epochs=2)
    (upload,) = world.uploads()
    assert upload.form["purpose"] == "fine-tune" and upload.files["file"].data == training(12)
    (create,) = world.fake.requests_to("/v1/fine_tuning/jobs", "POST")
    body = json.loads(create.body)
    assert body["model"] == BASE and body["suffix"] == "pirate"
    assert body["method"] == {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}}
    assert body["metadata"]["guild_id"] == str(world.guild.id)
    (status,) = world.posts()
    assert status.content == f"🛠️ Fine-tuning `{job_id}` on `{BASE}`: 🔎 validating files"

    listed = await world.admin.slash(world.channel, "files list")
    assert "train.jsonl" in listed.response.content

    await world.follow()
    status, result = world.posts()
    assert status.content.endswith("✅ succeeded")
    job = world.fake.store.get_job(job_id)
    assert job is not None and job.fine_tuned_model
    assert result.content == (
        f"<@{world.admin.id}> your fine-tuning job `{job_id}` succeeded: `{job.fine_tuned_model}`"
        " (12,345 trained tokens)."
    )
    assert [u.id for u in result.mentions] == [world.admin.id]

    # The training cost is in the ledger once, priced from the table ($3 per 1M for gpt-4o-mini).
    await world.follow()
    events = [e for e in await world.bot.ledger.events(world.guild.id) if e.feature == "fine_tuning"]
    assert len(events) == 1
    assert events[0].request_id == job_id and events[0].input_tokens == 12_345
    assert events[0].cost_usd == Decimal("0.037035")

    # Use in /write: joins a server's allowed list, then becomes the default of /write and /chat.
    await world.bot.feature_settings.update(world.guild.id, WRITE, allowed_models=["gpt-3.5-turbo-instruct"])
    used = await world.admin.click(result, label="Use in /write")
    assert used.ephemeral and job.fine_tuned_model in used.response.content
    write = await world.bot.feature_settings.get(world.guild.id, WRITE)
    assert job.fine_tuned_model in write.allowed_models
    await world.admin.click(result, label="Make it the default")
    write = await world.bot.feature_settings.get(world.guild.id, WRITE)
    chat = await world.bot.feature_settings.get(world.guild.id, world.bot.features["chat"])
    assert write.model == job.fine_tuned_model and chat.model == job.fine_tuned_model
    # Only the server that trained it.
    other = await world.bot.feature_settings.get(world.other.id, WRITE)
    assert other.model is None and other.allowed_models == ()

    await world.alice.slash(world.channel, "write", prompt="Tell me of the sea")
    # Served where its base model is (chat), from the first request.
    used = [
        (r.path, r.status, json.loads(r.body)["model"])
        for r in world.fake.requests
        if "completions" in r.path
    ]
    assert used == [("/v1/chat/completions", 200, job.fine_tuned_model)]
    # ...and its usage is priced at the tuned model's own rates ($0.30/$1.20 per 1M), not the base's.
    (write_event,) = [e for e in await world.bot.ledger.events(world.guild.id) if e.feature == "write"]
    assert write_event.model == job.fine_tuned_model
    assert write_event.cost_usd == world.bot.pricing.cost(
        job.fine_tuned_model, input_tokens=write_event.input_tokens, output_tokens=write_event.output_tokens
    )
    assert write_event.cost_usd is not None and write_event.cost_usd > world.bot.pricing.cost(
        BASE, input_tokens=write_event.input_tokens, output_tokens=write_event.output_tokens
    )
    assert_errors(world.env)


async def test_each_validation_error_is_named_by_line_and_nothing_is_uploaded(world: World) -> None:
    lines = training(10).splitlines()
    bad = [
        *lines,
        b"{oops",
        b'{"messages": [{"role": "user", "content": "hi"}]}',
        b'{"messages": [{"role": "user", "content": "a <|endoftext|>"},'
        b' {"role": "assistant", "content": "b"}]}',
        b'{"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "b"}]}',
    ]
    result = await world.create(b"\n".join(bad) + b"\n")
    text = result.response.content
    assert result.ephemeral
    assert "**train.jsonl** cannot be used for fine-tuning yet; nothing was uploaded:" in text
    assert "- line 11: not valid JSON" in text
    assert "- line 12: no assistant message to learn from" in text
    assert "- line 13: contains the special token `<|endoftext|>`" in text
    assert "- line 14: message 1 has no content" in text
    few = await world.create(training(3))
    assert "only 3 usable examples; at least 10 are needed" in few.response.content
    assert world.uploads() == [] and world.fake.store.list_jobs() == []
    assert not any(c.components for c in [result.response, few.response])


async def test_an_api_refusal_is_shown_clearly(world: World) -> None:
    estimate = await world.create(training(), model="gpt-5.5")
    await world.admin.click(estimate.response, label="Start")
    assert estimate.response.content == (
        "OpenAI refused: Model gpt-5.5 is not available for fine-tuning or does not exist."
    )
    assert world.fake.store.list_jobs() == [] and world.posts() == []


async def test_a_failed_job_is_reported_with_the_api_reason(world: World) -> None:
    world.fake.store.fail_jobs_with = {
        "code": "server_error",
        "message": "The job ran out of GPUs.",
        "param": None,
    }
    job_id = await world.start()
    await world.follow()
    status, result = world.posts()
    assert status.content.endswith("❌ failed")
    assert (
        result.content
        == f"<@{world.admin.id}> your fine-tuning job `{job_id}` failed: The job ran out of GPUs."
    )
    assert not result.components
    shown = await world.admin.slash(world.channel, "finetune status", job=job_id)
    assert "Reason: The job ran out of GPUs." in shown.response.content


async def test_cancel_asks_first_then_cancels(world: World) -> None:
    job_id = await world.start()
    asked = await world.admin.slash(world.channel, "finetune cancel", job=job_id)
    assert asked.ephemeral and "Cancel fine-tuning job" in asked.response.content
    await world.admin.click(asked.response, label="Keep it running")
    assert world.fake.store.get_job(job_id).status == "validating_files"  # type: ignore[union-attr]
    asked = await world.admin.slash(world.channel, "finetune cancel", job=job_id)
    await world.admin.click(asked.response, label="Cancel the job")
    assert world.fake.store.get_job(job_id).status == "cancelled"  # type: ignore[union-attr]
    await world.follow(30)  # the follower's next tick
    result = world.posts()[-1]
    assert result.content == f"<@{world.admin.id}> your fine-tuning job `{job_id}` was cancelled."
    again = await world.admin.slash(world.channel, "finetune cancel", job=job_id)
    assert "already finished" in again.response.content


async def test_another_server_can_neither_see_nor_use_nor_delete_files_and_jobs(world: World) -> None:
    job_id = await world.start()
    (file_id,) = [f.id for f in world.fake.store.list_files()]
    other = world.other_admin
    assert (await other.slash(world.other_channel, "files list")).response.content == (
        "This server has uploaded no files."
    )
    assert await other.autocomplete(world.other_channel, "files delete", "file", "") == []
    assert await other.autocomplete(world.other_channel, "finetune status", "job", "") == []
    refused = await other.slash(world.other_channel, "files delete", file=file_id)
    assert refused.response.content == f"This server has no file `{file_id}`."
    assert world.fake.store.get_file(file_id) is not None
    status = await other.slash(world.other_channel, "finetune status", job=job_id)
    assert status.response.content == f"This server has no fine-tuning job `{job_id}`."
    used = await other.slash(world.other_channel, "finetune create", training_file=file_id, model=BASE)
    assert used.response.content == f"This server has no file `{file_id}`."
    assert (await other.slash(world.other_channel, "finetune list")).response.content == (
        "This server has started no fine-tuning jobs."
    )
    # Its owner can.
    offered = await world.admin.autocomplete(world.channel, "files delete", "file", "train")
    assert [c["value"] for c in offered] == [file_id]
    deleted = await world.admin.slash(world.channel, "files delete", file=file_id)
    assert deleted.response.content == f"Deleted **train.jsonl** (`{file_id}`)."
    assert world.fake.store.get_file(file_id) is None


async def test_the_follower_resumes_after_a_restart_and_releases_the_budget_held(
    world: World, new_bot: Callable[..., OpenAIBot]
) -> None:
    await world.bot.guild_settings.update(world.guild.id, monthly_budget_usd=Decimal("5"))
    job_id = await world.start()
    await world.follow(45)  # validated after 30 s: queued
    assert world.posts()[-1].content.endswith("⏳ queued")
    ((feature, user_id, held),) = await world.held()
    assert feature == "fine_tuning" and user_id == world.admin.id and held > 0
    await world.env.restart_bot(new_bot())
    # The estimate is still held by the new bot, for the job it resumes following.
    assert await world.held() == [(feature, user_id, held)]
    await world.follow(600)
    assert world.posts()[-1].content.startswith(
        f"<@{world.admin.id}> your fine-tuning job `{job_id}` succeeded"
    )
    (event,) = await world.training_events()
    assert event.request_id == job_id and event.input_tokens == 12_345
    assert await world.held() == []


async def test_members_without_manage_server_are_refused_at_run_time(world: World) -> None:
    commands = await world.bot.tree.fetch_commands()
    # The server gave the commands to everyone in its integration settings: Discord lets alice run them.
    for command in commands:
        if command.name in ("files", "finetune"):
            world.guild.set_command_permissions(command, {world.alice: True})
    for name, options in (("files list", {}), ("finetune list", {}), ("finetune create", {"model": BASE})):
        result = await world.alice.slash(world.channel, name, **options)
        assert result.ephemeral
        assert result.response.content == "You need these permissions to do that: Manage Server."
    assert_errors(world.env, *["MissingPermissions"] * 3)


async def test_zh_cn(world: World, user_locale: Callable[[str], None]) -> None:
    user_locale("zh-CN")
    result = await world.create(training(10) + b"{oops\n")
    assert "第 11 行：不是有效的 JSON" in result.response.content
    estimate = await world.create(training(10))
    assert "按下“开始”前不会上传任何内容" in estimate.response.content


async def test_a_reply_chain_is_exported_and_downloaded_as_jsonl(world: World) -> None:
    channel = world.bot.get_channel(world.channel.id)
    assert isinstance(channel, discord.TextChannel)
    question = await world.alice.send(world.channel, "What is the tide?")
    answer = await channel.send("High at noon.", reference=channel.get_partial_message(question.id))
    follow = await world.alice.send(world.channel, "And tomorrow?", reply_to=answer)
    last = await channel.send("High at one.", reference=channel.get_partial_message(follow.id))
    added = await world.admin.context_menu(world.channel, "Export for fine-tuning", last)
    assert added.ephemeral
    assert added.response.content == (
        "Added an example of 4 messages. This server has collected 1; /finetune export downloads them."
    )
    unusable = await world.admin.context_menu(world.channel, "Export for fine-tuning", question)
    assert unusable.response.content == (
        "This conversation cannot become a training example: no assistant message to learn from"
    )
    other = await world.other_admin.slash(world.other_channel, "finetune export")
    assert other.response.content.startswith("No examples collected yet")

    download = await world.admin.slash(world.channel, "finetune export", clear=True)
    (attachment,) = download.response.attachments
    assert attachment.filename == "examples.jsonl"
    (line,) = (await attachment.read()).decode().splitlines()
    assert json.loads(line)["messages"] == [
        {"role": "user", "content": "What is the tide?"},
        {"role": "assistant", "content": "High at noon."},
        {"role": "user", "content": "And tomorrow?"},
        {"role": "assistant", "content": "High at one."},
    ]
    again = await world.admin.slash(world.channel, "finetune export")
    assert again.response.content.startswith("No examples collected yet")


async def test_uploads_are_acknowledged_before_the_download_and_legacy_files_are_accepted(
    world: World,
) -> None:
    legacy = b"".join(b'{"prompt": "Q%d ->", "completion": " A"}\n' % i for i in range(10))
    delay, result = await acknowledgement_delay(
        world.env, world.admin.slash(world.channel, "files upload", file=("legacy.jsonl", legacy))
    )
    assert delay < 1.0
    (stored,) = world.fake.store.list_files()
    assert result.response.content == f"Uploaded **legacy.jsonl** as `{stored.id}` (purpose fine-tune)."
    delay, estimate = await acknowledgement_delay(world.env, world.create(training()))
    assert delay < 1.0 and "12 examples" in estimate.response.content


# -- progress at milestones ------------------------------------------------------------------------


def loss_at(step: int, total: int) -> str:
    """The training loss the fake reports at `step`, as the status message writes it."""
    return f"{round(2.0 / (1 + step * 4 / total), 4):.3f}"


async def test_progress_is_edited_into_the_status_message_at_each_milestone(world: World) -> None:
    store = world.fake.store
    # Phases longer than the follower's longest wait (600 s + a 20 s tick), so it sees each one.
    store.validating_seconds, store.queued_seconds, store.step_seconds = 300, 900, 150
    job_id = await world.start(training(12), epochs=2)  # 24 steps: a quarter is 6 steps, 900 s
    (status,) = world.posts()
    head = f"🛠️ Fine-tuning `{job_id}` on `{BASE}`: "
    assert status.content == head + "🔎 validating files"

    await world.follow(299)
    assert world.status_edits(status.id) == []  # looked at, unchanged, so not edited
    await world.follow(900)  # queued from 300 s to 1,200 s
    assert world.status_edits(status.id) == [head + "⏳ queued"]
    running = re.compile(
        re.escape(head + "🏋️ training") + r"(?: · (\d+)% \(step (\d+) of 24\) · training loss (\d\.\d{3}))?"
    )

    def milestone(text: str, quarter: int) -> None:
        found = running.fullmatch(text)
        assert found is not None, text
        if found.group(2) is None:
            assert quarter == 0  # training started before its first step was reported
            return
        step = int(found.group(2))
        assert step * 4 // 24 == quarter, text
        assert int(found.group(1)) == step * 100 // 24 and found.group(3) == loss_at(step, 24)

    # Training from 1,200 s: one edit when it starts, then one per quarter of the 24 steps.
    for quarter, until in enumerate((2_099, 2_999, 3_899, 4_799)):
        await world.follow(until - 1_199 if quarter == 0 else 900)
        edits = world.status_edits(status.id)
        assert len(edits) == 2 + quarter, edits
        milestone(edits[-1], quarter)
        assert world.channel.history()[-1].content == edits[-1]  # the message shows the last one
    await world.follow(600)
    edits = world.status_edits(status.id)
    assert len(edits) == 6 and edits[-1] == head + "✅ succeeded"
    assert len(set(edits)) == len(edits)  # never the same text twice
    result = world.posts()[-1]
    assert result.content.startswith(f"<@{world.admin.id}> your fine-tuning job `{job_id}` succeeded")
    assert [u.id for u in result.mentions] == [world.admin.id]
    assert_errors(world.env)


async def test_three_jobs_share_a_few_requests_a_minute(world: World) -> None:
    await world.start()
    second = await world.create(training(15))
    await world.admin.click(second.response, label="Start")
    other = await world.other_admin.slash(
        world.other_channel, "finetune create", model=BASE, training=("t.jsonl", training(20))
    )
    await world.other_admin.click(other.response, label="Start")
    jobs = [j.id for j in world.fake.store.list_jobs()]
    assert len(jobs) == 3

    def looks() -> int:
        return len([r for r in world.fake.requests if r.method == "GET" and "/fine_tuning/jobs/" in r.path])

    per_minute = []
    for _ in range(30):
        before = looks()
        await world.follow(60)
        per_minute.append(looks() - before)
    # At most two requests a tick (every 20 s), whatever the number of jobs: six a minute.
    assert max(per_minute) <= 6 and sum(per_minute) > 0, per_minute
    assert all(world.fake.store.get_job(j).status == "succeeded" for j in jobs)  # type: ignore[union-attr]
    results = [m for m in world.posts() if "your fine-tuning job" in m.content] + [
        m for m in world.other_channel.history() if m.author.bot and "your fine-tuning job" in m.content
    ]
    assert sorted(re.findall(r"ftjob-\w+", " ".join(m.content for m in results))) == sorted(jobs)


async def test_progress_in_zh_cn(world: World, user_locale: Callable[[str], None]) -> None:
    user_locale("zh-CN")
    world.fake.store.step_seconds = 100  # 36 steps: a quarter is 900 s
    estimate = await world.create(training())
    await world.admin.click(estimate.response, label="开始")
    (job,) = world.fake.store.list_jobs()
    job_id = job.id
    (status,) = world.posts()
    assert status.content == f"🛠️ 微调任务 `{job_id}`（`{BASE}`）：🔎 正在验证文件"
    await world.follow(90 + 900 + 700)
    text = world.channel.history()[0].content
    found = re.fullmatch(
        re.escape(f"🛠️ 微调任务 `{job_id}`（`{BASE}`）：🏋️ ")
        + r"训练中 · (\d+)%（第 (\d+)/36 步） · 训练损失 (\d\.\d{3})",
        text,
    )
    assert found is not None, text
    assert 9 <= int(found.group(2)) < 18 and found.group(3) == loss_at(int(found.group(2)), 36)


# -- budgets ---------------------------------------------------------------------------------------


async def test_a_job_over_budget_is_refused_before_anything_is_uploaded(world: World) -> None:
    await world.bot.guild_settings.update(world.guild.id, monthly_budget_usd=Decimal("0.001"))
    estimate = await world.create(training())
    assert "estimated cost $0.00" in estimate.response.content  # about $0.003: over $0.001
    await world.admin.click(estimate.response, label="Start")
    assert estimate.response.content.startswith(
        "This server's monthly AI budget does not cover this request: $0.001 of $0.001 is left"
    )
    assert world.uploads() == [] and world.fake.store.list_jobs() == [] and world.posts() == []
    assert await world.held() == [] and await world.cog.store.jobs(world.guild.id) == []


async def test_the_estimate_is_held_while_the_job_runs_and_released_for_the_real_cost(world: World) -> None:
    await world.bot.guild_settings.update(world.guild.id, monthly_budget_usd=Decimal("5"))
    job_id = await world.start(training(12), epochs=2)
    # 12 examples of about 30 tokens, 2 epochs, at $3 per 1M training tokens.
    expected = world.bot.pricing.training_cost(BASE, 362 * 2)
    assert await world.held() == [("fine_tuning", world.admin.id, int(expected * 10**10))]
    (row,) = await world.cog.store.jobs(world.guild.id)
    assert row.reservation_id is not None
    guild = await world.bot.guild_settings.get(world.guild.id)
    (month,) = await world.bot.budgets.status(world.guild.id, world.admin.id, guild)
    assert month.held == expected and month.spent == 0
    # Longer than a fine-tuning job runs; the default 30 minutes would lapse while it trains.
    (expires,) = await world.bot.db.fetchall(
        "SELECT (expires_at_us - created_at_us) / 1000000 FROM budget_reservations"
    )
    assert expires[0] == 7 * 24 * 3600

    await world.follow(300)  # 90 s to start, 360 s of training
    await world.follow(300)
    assert world.fake.store.get_job(job_id).status == "succeeded"  # type: ignore[union-attr]
    assert await world.held() == []
    (month,) = await world.bot.budgets.status(world.guild.id, world.admin.id, guild)
    (event,) = await world.training_events()
    assert month.held == 0 and month.spent == event.cost_usd == Decimal("0.037035")
    (row,) = await world.cog.store.jobs(world.guild.id)
    assert row.reservation_id is None


async def test_a_cancelled_job_is_billed_for_what_it_trained_and_releases_the_budget(world: World) -> None:
    await world.bot.guild_settings.update(world.guild.id, monthly_budget_usd=Decimal("5"))
    job_id = await world.start()  # 36 steps of 10 s from 90 s
    await world.follow(90 + 180)  # 18 of 36 steps done
    asked = await world.admin.slash(world.channel, "finetune cancel", job=job_id)
    await world.admin.click(asked.response, label="Cancel the job")
    await world.follow(30)
    assert world.posts()[-1].content == f"<@{world.admin.id}> your fine-tuning job `{job_id}` was cancelled."
    (event,) = await world.training_events()
    assert event.input_tokens == 12_345 * 18 // 36
    assert event.cost_usd == world.bot.pricing.training_cost(BASE, 12_345 * 18 // 36)
    assert await world.held() == []


async def test_a_refused_creation_or_upload_releases_the_budget(world: World) -> None:
    await world.bot.guild_settings.update(world.guild.id, monthly_budget_usd=Decimal("5"))
    estimate = await world.create(training(), model="gpt-5.5")
    await world.admin.click(estimate.response, label="Start")
    assert estimate.response.content.startswith("OpenAI refused: Model gpt-5.5 is not available")
    assert len(world.uploads()) == 1 and world.fake.store.list_jobs() == []
    assert await world.held() == []

    world.fake.add_fault(Fault(method="POST", path="/v1/files", status=400, times=1))
    estimate = await world.create(training())
    await world.admin.click(estimate.response, label="Start")
    assert estimate.response.content.startswith("OpenAI refused:")
    assert world.fake.store.list_jobs() == [] and await world.held() == []
    assert await world.cog.store.jobs(world.guild.id) == []


async def test_a_job_on_an_uploaded_file_is_estimated_and_held_too(world: World) -> None:
    await world.bot.guild_settings.update(world.guild.id, monthly_budget_usd=Decimal("5"))
    await world.admin.slash(world.channel, "files upload", file=("train.jsonl", training(12)))
    (stored,) = world.fake.store.list_files()
    estimate = await world.admin.slash(
        world.channel, "finetune create", training_file=stored.id, model=BASE, epochs=2
    )
    cost = world.bot.pricing.training_cost(BASE, 362 * 2)
    assert "**train.jsonl** (checked when it was uploaded): about 724 training tokens" in (
        estimate.response.content
    )
    await world.admin.click(estimate.response, label="Start")
    assert len(world.uploads()) == 1  # the file is not uploaded again
    assert await world.held() == [("fine_tuning", world.admin.id, int(cost * 10**10))]
