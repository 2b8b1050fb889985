"""Follows fine-tuning jobs to the end in the background: polls with backoff, edits the status
message at milestones (each new status, then 25/50/75 % of the training steps with the loss),
records the training cost once, releases the job's budget reservation, and notifies the member."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import discord

from bot.model_catalog import Endpoint
from bot.openai_api import OpenAIError
from bot.openai_api.fine_tuning import FineTuningEvent, FineTuningJob
from bot.usage import UsageEvent
from bot.usage.budgets import Reservation
from cogs.finetune.feature import FEATURE
from cogs.finetune.render import job_line, result_text
from cogs.finetune.store import FineTuningStore, JobRow, Progress
from cogs.finetune.validate import is_legacy_model
from cogs.finetune.views import use_model_view

if TYPE_CHECKING:
    from bot.app import OpenAIBot

log = logging.getLogger(__name__)


#: Milestones per job while it trains: the status message is edited at 25, 50 and 75 %.
MILESTONES = 4
#: How many of a job's newest events are read to find its latest metrics (one request).
EVENTS_PER_LOOK = 10


def _milestone(progress: Progress | None) -> int:
    return 0 if progress is None else progress.step * MILESTONES // max(1, progress.total_steps)


def _latest_progress(events: list[FineTuningEvent]) -> Progress | None:
    """The newest metrics event's step, total steps and training loss (events come newest first)."""
    for event in events:
        data = event.data or {}
        step, total = data.get("step"), data.get("total_steps")
        if event.type == "metrics" and isinstance(step, int) and isinstance(total, int) and total > 0:
            loss = data.get("train_loss")
            return Progress(step, total, float(loss) if isinstance(loss, int | float) else None)
    return None


class Follower:
    """One background task for every job of every server (jobs are in the database, so a restart
    resumes them). Each tick spends at most `requests_per_tick` API requests on the jobs that are
    due, so the follower makes a few requests a minute in all however many jobs run.

    A job's interval starts at `first_interval`, doubles while its status stays the same up to
    `max_interval`, and starts over after each change (jobs speed up and slow down between phases).
    A training job costs two requests a look (the job, then its latest metrics events).
    `clock` is discord.py's clock, which simcord moves in tests together with the ticks' sleeps.
    """

    def __init__(
        self,
        bot: OpenAIBot,
        store: FineTuningStore,
        *,
        tick: float = 20.0,
        requests_per_tick: int = 2,
        first_interval: float = 30.0,
        max_interval: float = 600.0,
        clock: Callable[[], datetime] = discord.utils.utcnow,
    ) -> None:
        self._bot = bot
        self._store = store
        self.tick = tick
        self.requests_per_tick = requests_per_tick
        self.first_interval = first_interval
        self.max_interval = max_interval
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="finetune-follower")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.poll_due()
            except Exception:  # the follower must outlive any one bad poll
                log.exception("Fine-tuning follower tick failed; trying again next tick")
            await asyncio.sleep(self.tick)

    async def poll_due(self) -> None:
        """Look at the jobs whose turn has come, within this tick's request budget."""
        budget = self.requests_per_tick
        for row in await self._store.due_jobs(self.clock(), budget):
            if budget <= 0:
                break  # the rest are still due and go first next tick (most overdue first)
            budget -= await self.poll(row, spare=budget - 1)

    async def poll(self, row: JobRow, spare: int = 1) -> int:
        """Look at one job: save its status, edit its status message at a new status or milestone,
        and finish it once it ended. `spare` requests may go to its metrics; returns requests made."""
        now = self.clock()
        try:
            job = await self._bot.api.fine_tuning.retrieve(row.job_id)
        except OpenAIError as exc:
            interval = min(row.poll_interval * 2, self.max_interval)
            log.info("Could not poll fine-tuning job %s (%s); next try in %.0f s", row.job_id, exc, interval)
            await self._save(
                row, row.status, row.fine_tuned_model, row.trained_tokens, row.error, interval, now
            )
            return 1
        requests = 1
        progress = None
        if job.status == "running" and spare > 0:
            requests += 1
            try:
                events = await self._bot.api.fine_tuning.list_events(row.job_id, limit=EVENTS_PER_LOOK)
                progress = _latest_progress(events.data)
            except OpenAIError as exc:
                log.info("Could not read the metrics of fine-tuning job %s (%s)", row.job_id, exc)
        changed = job.status != row.status
        interval = self.first_interval if changed else min(row.poll_interval * 2, self.max_interval)
        await self._save(
            row, job.status, job.fine_tuned_model, job.trained_tokens, _error_text(job), interval, now
        )
        # A new milestone: training just started (show where it is), or a quarter more is done.
        milestone = progress is not None and (changed or _milestone(progress) > _milestone(row.progress))
        if milestone:
            assert progress is not None
            await self._store.set_progress(row.guild_id, row.job_id, progress)
        updated = await self._store.job(row.guild_id, row.job_id)
        if updated is None:
            return requests
        if changed or milestone:
            await self._edit_status(updated)
        if updated.finished:
            await self._finish(updated)
        return requests

    async def _save(
        self,
        row: JobRow,
        status: str,
        model: str | None,
        tokens: int | None,
        error: str | None,
        interval: float,
        now: datetime,
    ) -> None:
        await self._store.update_job(
            row.guild_id,
            row.job_id,
            status=status,
            fine_tuned_model=model,
            trained_tokens=tokens,
            error=error,
            poll_interval=interval,
            next_poll_at=now + timedelta(seconds=interval),
        )

    async def _finish(self, row: JobRow) -> None:
        if row.trained_tokens and await self._store.claim_accounting(row.guild_id, row.job_id):
            pricing = self._bot.pricing
            await self._bot.ledger.record(
                UsageEvent(
                    guild_id=row.guild_id,
                    channel_id=row.channel_id,
                    user_id=row.user_id,
                    feature=FEATURE.name,
                    model=row.model,
                    request_id=row.job_id,
                    input_tokens=row.trained_tokens,
                    cost_usd=pricing.training_cost(row.model, row.trained_tokens),
                )
            )
        if row.reservation_id is not None:
            # The real cost is in the ledger now (or nothing was trained): stop holding the estimate.
            try:
                await self._bot.budgets.release(Reservation(row.reservation_id, row.guild_id, Decimal(0)))
                await self._store.forget_reservation(row.guild_id, row.job_id)
            except Exception:
                log.exception("Could not release the budget held for job %s (it expires)", row.job_id)
        if row.status == "succeeded" and row.fine_tuned_model:
            # A tuned model is served where its base model is, whatever its name suggests.
            endpoint: Endpoint = "completions" if is_legacy_model(row.model) else "chat_completions"
            self._bot.model_catalog.remember_endpoint(row.fine_tuned_model, endpoint)
            # The tuned model is usable at once: /write and /chat check names against the catalog.
            try:
                await self._bot.model_catalog.refresh()
            except Exception:
                log.exception("Could not refresh the model catalog after job %s", row.job_id)
        if await self._notify(row):
            await self._store.mark_notified(row.guild_id, row.job_id)

    async def _channel(self, row: JobRow) -> Any:
        channel = self._bot.get_channel(row.channel_id)
        if channel is None:
            try:
                channel = await self._bot.fetch_channel(row.channel_id)
            except discord.HTTPException:
                return None
        return channel

    async def _edit_status(self, row: JobRow) -> None:
        if row.message_id is None:
            return
        channel = await self._channel(row)
        if channel is None or not self._bot.discord_limits.may(channel, "edit"):
            return
        try:
            await channel.get_partial_message(row.message_id).edit(content=job_line(row, row.locale))
        except discord.HTTPException as exc:
            log.info("Could not edit the status of job %s: %s", row.job_id, exc.status)

    async def _notify(self, row: JobRow) -> bool:
        """Post the result, mentioning only the member who started the job; False to retry later."""
        channel = await self._channel(row)
        if channel is None:
            return True  # the channel is gone: nobody left to tell
        if not self._bot.discord_limits.may(channel, "send"):
            return True  # the bot may not speak there any more; retrying would only be refused
        view = use_model_view(row, row.locale) if row.status == "succeeded" else None
        try:
            await channel.send(
                result_text(row, row.locale),
                allowed_mentions=discord.AllowedMentions(
                    everyone=False, roles=False, users=[discord.Object(row.user_id)]
                ),
                **({"view": view} if view is not None else {}),
            )
        except discord.HTTPException as exc:
            log.info("Could not post the result of job %s: %s", row.job_id, exc.status)
            return exc.status == 403 or exc.status == 404
        return True


def _error_text(job: FineTuningJob) -> str | None:
    if not job.error:
        return None
    message = job.error.get("message")
    return str(message) if message else str(job.error.get("code") or "error")
