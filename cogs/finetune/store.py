"""The fine-tuning feature's tables: which server owns which file, and the jobs it started.
Every query is keyed by guild id, so no server can reach another's files or jobs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bot.db import Database
from bot.usage.events import from_epoch_us, to_epoch_us

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(frozen=True, slots=True)
class OwnedFile:
    file_id: str
    guild_id: int
    user_id: int
    filename: str
    bytes: int
    purpose: str
    created_at: datetime
    #: Estimated tokens of one pass over the examples, from the check at upload (None: not checked).
    tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """Where training stood at the last milestone the status message shows."""

    step: int
    total_steps: int
    train_loss: float | None

    @property
    def percent(self) -> int:
        return min(100, self.step * 100 // max(1, self.total_steps))


@dataclass(frozen=True, slots=True)
class JobRow:
    job_id: str
    guild_id: int
    channel_id: int
    message_id: int | None
    user_id: int
    model: str
    status: str
    fine_tuned_model: str | None
    trained_tokens: int | None
    error: str | None
    locale: str
    accounted: bool
    notified: bool
    poll_interval: float
    next_poll_at: datetime
    created_at: datetime
    #: The budget reservation holding the estimated cost until the real cost is in the ledger.
    reservation_id: int | None = None
    progress: Progress | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


_FILE_COLUMNS = "file_id, guild_id, user_id, filename, bytes, purpose, created_at_us, tokens"


def _file(r: tuple[object, ...]) -> OwnedFile:
    return OwnedFile(
        str(r[0]),
        int(r[1]),  # type: ignore[call-overload]
        int(r[2]),  # type: ignore[call-overload]
        str(r[3]),
        int(r[4]),  # type: ignore[call-overload]
        str(r[5]),
        from_epoch_us(int(r[6])),  # type: ignore[call-overload]
        None if r[7] is None else int(r[7]),  # type: ignore[call-overload]
    )


_JOB_COLUMNS = (
    "job_id, guild_id, channel_id, message_id, user_id, model, status, fine_tuned_model, trained_tokens,"
    " error, locale, accounted, notified, poll_interval, next_poll_us, created_at_us, reservation_id,"
    " progress_step, progress_total, train_loss"
)


def _job(r: tuple[object, ...]) -> JobRow:
    return JobRow(
        str(r[0]),
        int(r[1]),  # type: ignore[call-overload]
        int(r[2]),  # type: ignore[call-overload]
        None if r[3] is None else int(r[3]),  # type: ignore[call-overload]
        int(r[4]),  # type: ignore[call-overload]
        str(r[5]),
        str(r[6]),
        None if r[7] is None else str(r[7]),
        None if r[8] is None else int(r[8]),  # type: ignore[call-overload]
        None if r[9] is None else str(r[9]),
        str(r[10]),
        bool(r[11]),
        bool(r[12]),
        float(r[13]),  # type: ignore[arg-type]
        from_epoch_us(int(r[14])),  # type: ignore[call-overload]
        from_epoch_us(int(r[15])),  # type: ignore[call-overload]
        None if r[16] is None else int(r[16]),  # type: ignore[call-overload]
        None
        if r[17] is None or r[18] is None
        else Progress(
            int(r[17]),  # type: ignore[call-overload]
            int(r[18]),  # type: ignore[call-overload]
            None if r[19] is None else float(r[19]),  # type: ignore[arg-type]
        ),
    )


class FineTuningStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # files ------------------------------------------------------------------------------------
    async def add_file(self, file: OwnedFile) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO finetune_files (file_id, guild_id, user_id, filename, bytes, purpose,"
                " created_at_us, tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    file.file_id,
                    file.guild_id,
                    file.user_id,
                    file.filename,
                    file.bytes,
                    file.purpose,
                    to_epoch_us(file.created_at),
                    file.tokens,
                ),
            )

    async def files(self, guild_id: int, *, purpose: str | None = None, limit: int = 100) -> list[OwnedFile]:
        where, params = "guild_id = ?", [guild_id]
        if purpose is not None:
            where += " AND purpose = ?"
            params.append(purpose)  # type: ignore[arg-type]
        rows = await self._db.fetchall(
            f"SELECT {_FILE_COLUMNS} FROM finetune_files WHERE {where} ORDER BY created_at_us DESC LIMIT ?",
            [*params, limit],
        )
        return [_file(tuple(r)) for r in rows]

    async def file(self, guild_id: int, file_id: str) -> OwnedFile | None:
        row = await self._db.fetchone(
            f"SELECT {_FILE_COLUMNS} FROM finetune_files WHERE guild_id = ? AND file_id = ?",
            (guild_id, file_id),
        )
        return None if row is None else _file(tuple(row))

    async def forget_file(self, guild_id: int, file_id: str) -> bool:
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM finetune_files WHERE guild_id = ? AND file_id = ?", (guild_id, file_id)
            )
            return cursor.rowcount > 0

    # jobs -------------------------------------------------------------------------------------
    async def add_job(self, job: JobRow) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                f"INSERT INTO finetune_jobs ({_JOB_COLUMNS}) VALUES ({', '.join('?' * 20)})",
                (
                    job.job_id,
                    job.guild_id,
                    job.channel_id,
                    job.message_id,
                    job.user_id,
                    job.model,
                    job.status,
                    job.fine_tuned_model,
                    job.trained_tokens,
                    job.error,
                    job.locale,
                    int(job.accounted),
                    int(job.notified),
                    job.poll_interval,
                    to_epoch_us(job.next_poll_at),
                    to_epoch_us(job.created_at),
                    job.reservation_id,
                    job.progress.step if job.progress else None,
                    job.progress.total_steps if job.progress else None,
                    job.progress.train_loss if job.progress else None,
                ),
            )

    async def jobs(self, guild_id: int, limit: int = 25) -> list[JobRow]:
        rows = await self._db.fetchall(
            f"SELECT {_JOB_COLUMNS} FROM finetune_jobs WHERE guild_id = ?"
            " ORDER BY created_at_us DESC LIMIT ?",
            (guild_id, limit),
        )
        return [_job(tuple(r)) for r in rows]

    async def job(self, guild_id: int, job_id: str) -> JobRow | None:
        row = await self._db.fetchone(
            f"SELECT {_JOB_COLUMNS} FROM finetune_jobs WHERE guild_id = ? AND job_id = ?", (guild_id, job_id)
        )
        return None if row is None else _job(tuple(row))

    async def due_jobs(self, now: datetime, limit: int) -> list[JobRow]:
        """Jobs still to be followed whose next poll is due, the most overdue first."""
        rows = await self._db.fetchall(
            f"SELECT {_JOB_COLUMNS} FROM finetune_jobs WHERE notified = 0 AND next_poll_us <= ?"
            " ORDER BY next_poll_us LIMIT ?",
            (to_epoch_us(now), limit),
        )
        return [_job(tuple(r)) for r in rows]

    async def next_due(self) -> datetime | None:
        row = await self._db.fetchone("SELECT MIN(next_poll_us) FROM finetune_jobs WHERE notified = 0")
        return None if row is None or row[0] is None else from_epoch_us(int(row[0]))

    async def update_job(
        self,
        guild_id: int,
        job_id: str,
        *,
        status: str,
        fine_tuned_model: str | None,
        trained_tokens: int | None,
        error: str | None,
        poll_interval: float,
        next_poll_at: datetime,
    ) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE finetune_jobs SET status = ?, fine_tuned_model = ?, trained_tokens = ?, error = ?,"
                " poll_interval = ?, next_poll_us = ? WHERE guild_id = ? AND job_id = ?",
                (
                    status,
                    fine_tuned_model,
                    trained_tokens,
                    error,
                    poll_interval,
                    to_epoch_us(next_poll_at),
                    guild_id,
                    job_id,
                ),
            )

    async def set_progress(self, guild_id: int, job_id: str, progress: Progress) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE finetune_jobs SET progress_step = ?, progress_total = ?, train_loss = ?"
                " WHERE guild_id = ? AND job_id = ?",
                (progress.step, progress.total_steps, progress.train_loss, guild_id, job_id),
            )

    async def forget_reservation(self, guild_id: int, job_id: str) -> None:
        """The reservation was released: nothing is held for this job any more."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE finetune_jobs SET reservation_id = NULL WHERE guild_id = ? AND job_id = ?",
                (guild_id, job_id),
            )

    async def set_message(self, guild_id: int, job_id: str, message_id: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE finetune_jobs SET message_id = ? WHERE guild_id = ? AND job_id = ?",
                (message_id, guild_id, job_id),
            )

    async def claim_accounting(self, guild_id: int, job_id: str) -> bool:
        """True exactly once per job: the caller writes the training cost to the ledger."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE finetune_jobs SET accounted = 1 WHERE guild_id = ? AND job_id = ? AND accounted = 0",
                (guild_id, job_id),
            )
            return cursor.rowcount == 1

    async def mark_notified(self, guild_id: int, job_id: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE finetune_jobs SET notified = 1 WHERE guild_id = ? AND job_id = ?", (guild_id, job_id)
            )

    # exports -----------------------------------------------------------------------------------
    async def add_export(self, guild_id: int, user_id: int, line: str) -> int:
        """Store one example line; returns how many this server has collected."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO finetune_exports (guild_id, user_id, line, created_at_us) VALUES (?, ?, ?, ?)",
                (guild_id, user_id, line, to_epoch_us(utc_now())),
            )
            rows = await conn.execute_fetchall(
                "SELECT COUNT(*) FROM finetune_exports WHERE guild_id = ?", (guild_id,)
            )
            return int(next(iter(rows))[0])

    async def exports(self, guild_id: int) -> list[str]:
        rows = await self._db.fetchall(
            "SELECT line FROM finetune_exports WHERE guild_id = ? ORDER BY id", (guild_id,)
        )
        return [str(r[0]) for r in rows]

    async def clear_exports(self, guild_id: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM finetune_exports WHERE guild_id = ?", (guild_id,))


def utc_now() -> datetime:
    return datetime.now(UTC)
