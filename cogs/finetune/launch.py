"""Starting a fine-tuning job once the member pressed Start: hold its estimated cost against the
budgets, upload the files, wait until they are processed, create the job, store it and post its status."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import discord

from bot.db import GuildSettings
from bot.discord_io.mentions import NO_PINGS
from bot.usage.budgets import Reservation
from cogs.finetune.feature import FEATURE
from cogs.finetune.follower import Follower
from cogs.finetune.render import job_line
from cogs.finetune.store import FineTuningStore, JobRow, OwnedFile, utc_now

if TYPE_CHECKING:
    from bot.app import OpenAIBot

log = logging.getLogger(__name__)

#: Uploaded files are "processed" within seconds; the bot waits this long, then creates the job anyway.
PROCESSING_WAIT_SECONDS = 30.0
#: How long a job's budget reservation lasts if nobody releases it. The follower releases it when
#: the job ends, even across restarts; this only bounds what a crash between reserving and storing
#: the job leaves behind. Jobs take minutes to hours, queues sometimes a day: a week outlasts them
#: (a job still running after that is recorded at its real cost when it ends, unheld meanwhile).
JOB_RESERVATION_TTL = timedelta(days=7)


class FineTuningRefused(Exception):
    """A request the feature will not make; the text says why, in the member's language."""


@dataclass(frozen=True, slots=True)
class Upload:
    """A checked JSONL attachment's bytes, to upload with `purpose=fine-tune`."""

    data: bytes
    filename: str


@dataclass(frozen=True, slots=True)
class LaunchPlan:
    """Everything /finetune create settled before Start: what to train, for whom, where to report."""

    guild_id: int
    user_id: int
    channel: discord.abc.Messageable | None
    channel_id: int
    locale: str
    model: str
    #: Either a file this server uploaded before, or the attachment to upload now.
    training_file_id: str | None
    training: Upload | None
    validation: Upload | None
    suffix: str | None
    epochs: int
    #: Estimated tokens of one pass over the training examples (kept with the uploaded file).
    tokens: int


class JobLauncher:
    def __init__(self, bot: OpenAIBot, store: FineTuningStore, follower: Follower) -> None:
        self.bot = bot
        self.store = store
        self.follower = follower

    async def upload(
        self, guild_id: int, user_id: int, data: bytes, filename: str, purpose: str, tokens: int | None
    ) -> OwnedFile:
        """Upload a file and remember that this server owns it (no other server may see it)."""
        created = await self.bot.api.files.create(file=data, filename=filename, purpose=purpose)
        owned = OwnedFile(
            created.id, guild_id, user_id, created.filename or filename, len(data), purpose, utc_now(), tokens
        )
        await self.store.add_file(owned)
        return owned

    async def reserve(
        self, plan: LaunchPlan, settings: GuildSettings, role_ids: list[int], cost: Decimal
    ) -> Reservation:
        """Hold the estimated training cost for as long as a job can run (raises BudgetExceeded)."""
        return await self.bot.budgets.reserve(
            guild_id=plan.guild_id,
            user_id=plan.user_id,
            feature=FEATURE.name,
            amount=cost,
            settings=settings,
            role_ids=role_ids,
            ttl=JOB_RESERVATION_TTL,
        )

    async def release(self, reservation: Reservation) -> None:
        try:
            await self.bot.budgets.release(reservation)
        except Exception:
            log.exception("Could not release budget reservation %s (it expires)", reservation.id)

    async def start(self, plan: LaunchPlan, reservation: Reservation) -> JobRow:
        """Upload, create the job and store it with its reservation; the follower takes it from here.
        Raises the API's errors (and FineTuningRefused); the caller releases the reservation then."""
        training_id = plan.training_file_id
        if training_id is None:
            assert plan.training is not None
            training = plan.training
            owned = await self.upload(
                plan.guild_id, plan.user_id, training.data, training.filename, "fine-tune", plan.tokens
            )
            training_id = owned.file_id
        validation_id = None
        if plan.validation is not None:
            validation = plan.validation
            owned = await self.upload(
                plan.guild_id, plan.user_id, validation.data, validation.filename, "fine-tune", None
            )
            validation_id = owned.file_id
        for file_id in (training_id, validation_id):
            if file_id is not None:
                await self._wait_processed(file_id)
        job = await self.bot.api.fine_tuning.create(
            model=plan.model,
            training_file=training_id,
            validation_file=validation_id,
            suffix=plan.suffix,
            method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": plan.epochs}}},
            metadata={"guild_id": str(plan.guild_id), "user_id": str(plan.user_id)},
        )
        now = self.follower.clock()
        row = JobRow(
            job.id,
            plan.guild_id,
            plan.channel_id,
            None,
            plan.user_id,
            plan.model,
            job.status or "validating_files",
            None,
            None,
            None,
            plan.locale,
            False,
            False,
            self.follower.first_interval,
            now + timedelta(seconds=self.follower.first_interval),
            now,
            reservation.id,
        )
        await self.store.add_job(row)
        await self._post_status(plan, row)
        return row

    async def _post_status(self, plan: LaunchPlan, row: JobRow) -> None:
        """The channel message the follower edits as the job moves (none where the bot may not post)."""
        channel: Any = plan.channel
        if channel is None or not self.bot.discord_limits.may(channel, "send"):
            return
        try:
            message = await channel.send(job_line(row, plan.locale), allowed_mentions=NO_PINGS)
            await self.store.set_message(plan.guild_id, row.job_id, message.id)
        except discord.HTTPException as exc:
            log.info("Could not post the status of job %s: %s", row.job_id, exc.status)

    async def _wait_processed(self, file_id: str) -> None:
        """Jobs refuse files still being processed; wait (briefly) until the file says processed."""
        delay, waited = 0.5, 0.0
        while waited < PROCESSING_WAIT_SECONDS:
            info = await self.bot.api.files.retrieve(file_id)
            if info.status in (None, "processed"):
                return
            if info.status == "error":
                raise FineTuningRefused(info.status_details or "file processing failed")
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 5.0)
