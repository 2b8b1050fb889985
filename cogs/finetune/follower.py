"""Follows fine-tuning jobs to the end in the background: polls with backoff, edits the status
message at milestones, records the training cost once, and notifies the member who started it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord

from bot.model_catalog import Endpoint
from bot.openai_api import OpenAIError
from bot.openai_api.fine_tuning import FineTuningJob
from bot.usage import UsageEvent
from cogs.finetune.feature import FEATURE
from cogs.finetune.render import job_line, result_text
from cogs.finetune.store import FineTuningStore, JobRow, utc_now
from cogs.finetune.validate import is_legacy_model
from cogs.finetune.views import use_model_view

if TYPE_CHECKING:
    from bot.app import OpenAIBot

log = logging.getLogger(__name__)


class Follower:
    """One background task for every job of every server (jobs are in the database, so a restart
    resumes them). Each tick polls at most `per_tick` due jobs, so requests stay at a few a minute.

    A job's interval starts at `first_interval`, doubles while nothing changes up to `max_interval`,
    and starts over after each change (jobs speed up and slow down between phases).
    """

    def __init__(
        self,
        bot: OpenAIBot,
        store: FineTuningStore,
        *,
        tick: float = 20.0,
        per_tick: int = 2,
        first_interval: float = 30.0,
        max_interval: float = 600.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._bot = bot
        self._store = store
        self.tick = tick
        self.per_tick = per_tick
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

    async def poll_due(self) -> int:
        """Poll the jobs whose turn has come (at most `per_tick`); returns how many were polled."""
        due = await self._store.due_jobs(self.clock(), self.per_tick)
        for row in due:
            await self.poll(row)
        return len(due)

    async def poll(self, row: JobRow) -> None:
        now = self.clock()
        try:
            job = await self._bot.api.fine_tuning.retrieve(row.job_id)
        except OpenAIError as exc:
            interval = min(row.poll_interval * 2, self.max_interval)
            log.info("Could not poll fine-tuning job %s (%s); next try in %.0f s", row.job_id, exc, interval)
            await self._save(
                row, row.status, row.fine_tuned_model, row.trained_tokens, row.error, interval, now
            )
            return
        changed = job.status != row.status
        interval = self.first_interval if changed else min(row.poll_interval * 2, self.max_interval)
        error = _error_text(job)
        await self._save(row, job.status, job.fine_tuned_model, job.trained_tokens, error, interval, now)
        updated = await self._store.job(row.guild_id, row.job_id)
        if updated is None:
            return
        if changed:
            await self._edit_status(updated)
        if updated.finished:
            await self._finish(updated, job)

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

    async def _finish(self, row: JobRow, job: FineTuningJob) -> None:
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
        if row.status == "succeeded" and row.fine_tuned_model:
            # A tuned model is served where its base model is, whatever its name suggests.
            endpoint: Endpoint = "completions" if is_legacy_model(row.model) else "chat"
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
