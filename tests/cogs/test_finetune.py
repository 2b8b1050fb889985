"""/files and /finetune through the real bot in simcord against the fake server: a job validated,
estimated, started, followed to the end and its model used in /write; validation reports by line
with nothing uploaded; failure, cancel, restart, another server's isolation and zh-CN."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import discord
import pytest

from bot.app import OpenAIBot
from cogs.finetune.cog import FineTuningCog
from cogs.finetune.store import utc_now
from cogs.write import FEATURE as WRITE
from tests.cogs.ack import acknowledgement_delay
from tests.cogs.conftest import assert_errors

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
        # Poll every job on each tick: the tests drive the follower's ticks themselves.
        cog.follower.first_interval = 0.0
        return cog

    def posts(self) -> list[discord.Message]:
        """The bot's public messages in the channel, oldest first."""
        return [m for m in self.channel.history() if m.author.bot and not m.flags.ephemeral]

    def uploads(self) -> list[Any]:
        return self.fake.requests_to("/v1/files", "POST")

    async def create(self, data: bytes = b"", member: Any = None, **options: Any) -> Any:
        self.cog  # noqa: B018 - sets the test pacing before the job is stored
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

    async def follow(self, ticks: int = 5) -> None:
        for _ in range(ticks):
            await self.cog.follower.poll_due()


@pytest.fixture
async def world(simcord_env: Any, fake_openai_threaded: Any) -> World:
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
    await world.follow(1)
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


async def test_the_follower_resumes_after_a_restart(world: World, new_bot: Callable[..., OpenAIBot]) -> None:
    job_id = await world.start()
    await world.follow(1)  # queued
    await world.env.restart_bot(new_bot())
    # The new bot looked at the job as it started and set its next look in 30 s; let an hour pass.
    world.cog.follower.clock = lambda: utc_now() + timedelta(hours=1)
    await world.follow()
    assert world.posts()[-1].content.startswith(
        f"<@{world.admin.id}> your fine-tuning job `{job_id}` succeeded"
    )
    events = [e for e in await world.bot.ledger.events(world.guild.id) if e.feature == "fine_tuning"]
    assert len(events) == 1


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
