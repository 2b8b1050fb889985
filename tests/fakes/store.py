"""State of the fake OpenAI server: uploaded files, fine-tuning jobs and their events, served images.

Owns the objects that persist across requests and the fine-tuning timeline: a job's status follows
the store's clock (validating_files -> queued -> running step by step -> succeeded or failed), never
how often it is read. The clock stands still until a test moves it (`advance_time`, or `clock` set
to the test's own clock); the standalone server follows the wall clock (`follow_wall_clock`).
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# A job's phases last this long on the store's clock unless a test changes them (store attributes).
VALIDATING_SECONDS = 30.0
QUEUED_SECONDS = 60.0
STEP_SECONDS = 10.0
# The real API fails a job whose training file has fewer examples, while validating it.
MIN_TRAINING_EXAMPLES = 10
# Epochs the API picks for "auto" on a small file.
DEFAULT_EPOCHS = 3
TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass
class StoredFile:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int
    expires_at: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
        }
        if self.expires_at is not None:
            out["expires_at"] = self.expires_at
        else:
            out.pop("status_details")
        return out


@dataclass
class Job:
    id: str
    model: str
    training_file: str
    validation_file: str | None
    suffix: str | None
    seed: int
    created_at: int
    #: When the job was created on the store's clock (seconds); its phases are timed from here.
    started: float = 0.0
    epochs: int = DEFAULT_EPOCHS
    examples: int = 0
    #: The error the job fails with at the end of training (None: it succeeds).
    planned_error: dict[str, Any] | None = None
    status: str = "validating_files"
    fine_tuned_model: str | None = None
    finished_at: int | None = None
    estimated_finish: int | None = None
    trained_tokens: int | None = None
    #: Training steps whose metrics event has been logged.
    steps_done: int = 0
    result_files: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    metadata: dict[str, str] | None = None
    method: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @property
    def total_steps(self) -> int:
        # Batch size 1, as the API picks for small files: one step per example and epoch.
        return max(1, self.examples * self.epochs)

    def to_json(self) -> dict[str, Any]:
        return {
            "object": "fine_tuning.job",
            "id": self.id,
            "model": self.model,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "fine_tuned_model": self.fine_tuned_model,
            "organization_id": "org-fake",
            "result_files": list(self.result_files),
            "status": self.status,
            "validation_file": self.validation_file,
            "training_file": self.training_file,
            "hyperparameters": {"n_epochs": self.epochs, "batch_size": 1, "learning_rate_multiplier": 2.0},
            "trained_tokens": self.trained_tokens,
            "error": self.error,
            "seed": self.seed,
            "metadata": self.metadata,
            "method": self.method or {"type": "supervised"},
            "estimated_finish": self.estimated_finish,
            "integrations": None,
            "user_provided_suffix": self.suffix,
        }


class Store:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        #: Called (under the store's lock) when a job succeeds: the server lists its model.
        self.on_model_created: Callable[[Job], None] | None = None
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.files: dict[str, StoredFile] = {}
            self.jobs: dict[str, Job] = {}
            self.images: dict[str, bytes] = {}
            #: When set, the next job created fails at the end of training with this error
            #: (code, message, param) instead of succeeding.
            self.fail_jobs_with: dict[str, Any] | None = None
            #: trained_tokens of a succeeded job (a cancelled one reports its share of them).
            self.trained_tokens = 12_345
            self.validating_seconds = VALIDATING_SECONDS
            self.queued_seconds = QUEUED_SECONDS
            self.step_seconds = STEP_SECONDS
            self._now = time.time()
            #: The store's clock, in Unix seconds: by default it stands still until `advance_time`.
            self.clock: Callable[[], float] = lambda: self._now

    def advance_time(self, seconds: float) -> None:
        """Move the store's own clock forward; jobs catch up with it at once."""
        with self._lock:
            self._now += seconds
            for job in self.jobs.values():
                self._catch_up(job)

    def follow_wall_clock(self) -> None:
        """Time jobs by the real clock (the standalone server: jobs finish in minutes)."""
        with self._lock:
            self.clock = time.time

    def _tick(self) -> int:
        return int(self.clock())

    # files ----------------------------------------------------------------------------------------
    def add_file(self, filename: str, purpose: str, data: bytes, expires_in: int | None = None) -> StoredFile:
        with self._lock:
            created = self._tick()
            stored = StoredFile(
                "file-" + secrets.token_hex(12),
                filename,
                purpose,
                data,
                created,
                created + expires_in if expires_in else None,
            )
            self.files[stored.id] = stored
            return stored

    def get_file(self, file_id: str) -> StoredFile | None:
        with self._lock:
            return self.files.get(file_id)

    def delete_file(self, file_id: str) -> bool:
        with self._lock:
            return self.files.pop(file_id, None) is not None

    def list_files(self) -> list[StoredFile]:
        with self._lock:
            return list(reversed(self.files.values()))  # insertion order is creation order

    # images ---------------------------------------------------------------------------------------
    def add_image(self, data: bytes) -> str:
        with self._lock:
            image_id = "img-" + secrets.token_hex(12)
            self.images[image_id] = data
            return image_id

    def get_image(self, image_id: str) -> bytes | None:
        with self._lock:
            return self.images.get(image_id)

    # fine-tuning ----------------------------------------------------------------------------------
    def _event(
        self,
        job: Job,
        message: str,
        kind: str = "message",
        data: dict[str, Any] | None = None,
        at: float | None = None,
    ) -> None:
        job.events.append(
            {
                "object": "fine_tuning.job.event",
                "id": "ftevent-" + secrets.token_hex(12),
                "created_at": int(at if at is not None else self.clock()),
                "level": "error" if kind == "error" else "info",
                "message": message,
                "type": "message" if kind == "error" else kind,
                "data": data or {},
            }
        )

    def add_job(
        self,
        model: str,
        training_file: str,
        validation_file: str | None,
        suffix: str | None,
        seed: int | None,
        metadata: dict[str, str] | None = None,
        method: dict[str, Any] | None = None,
        epochs: int | None = None,
    ) -> Job:
        with self._lock:
            now = self.clock()
            training = self.files.get(training_file)
            examples = sum(1 for line in training.data.splitlines() if line.strip()) if training else 0
            job = Job(
                "ftjob-" + secrets.token_hex(12),
                model,
                training_file,
                validation_file,
                suffix,
                seed if seed is not None else secrets.randbelow(2**31),
                int(now),
                started=now,
                epochs=epochs or DEFAULT_EPOCHS,
                examples=examples,
                planned_error=self.fail_jobs_with,
                metadata=metadata,
                method=method,
            )
            self.fail_jobs_with = None
            self._event(job, f"Created fine-tuning job: {job.id}", at=now)
            self._event(job, f"Validating training file: {training_file}", at=now)
            self.jobs[job.id] = job
            return job

    def get_job(self, job_id: str) -> Job | None:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is not None:
                self._catch_up(job)
            return job

    def list_jobs(self) -> list[Job]:
        with self._lock:
            for job in self.jobs.values():
                self._catch_up(job)
            return list(reversed(self.jobs.values()))

    def _catch_up(self, job: Job) -> None:
        """Bring `job` to where its timeline is at the store's clock, logging each event at the
        moment it happened. Idempotent: without the clock moving, nothing changes."""
        now = self.clock()
        validated = job.started + self.validating_seconds
        training_starts = validated + self.queued_seconds
        if job.status == "validating_files" and now >= validated:
            if job.examples < MIN_TRAINING_EXAMPLES:
                self._fail(
                    job,
                    {
                        "code": "invalid_training_file",
                        "message": f"Training file {job.training_file} has {job.examples} example(s), "
                        f"but must have at least {MIN_TRAINING_EXAMPLES} examples",
                        "param": "training_file",
                    },
                    validated,
                )
                return
            job.status = "queued"
            self._event(job, "Files validated, moving job to queued state", at=validated)
        if job.status == "queued" and now >= training_starts:
            job.status = "running"
            job.estimated_finish = int(training_starts + job.total_steps * self.step_seconds)
            self._event(job, "Fine-tuning job started", at=training_starts)
        if job.status != "running":
            return
        reached = min(job.total_steps, math.floor((now - training_starts) / self.step_seconds))
        for step in range(job.steps_done + 1, reached + 1):
            # A loss that falls as training goes on, like a real curve.
            loss = round(2.0 / (1 + step * 4 / job.total_steps), 4)
            self._event(
                job,
                f"Step {step}/{job.total_steps}: training loss={loss}",
                "metrics",
                {
                    "step": step,
                    "train_loss": loss,
                    "total_steps": job.total_steps,
                    "train_mean_token_accuracy": round(1 - loss / 4, 4),
                },
                at=training_starts + step * self.step_seconds,
            )
        job.steps_done = max(job.steps_done, reached)
        if reached < job.total_steps:
            return
        ended = training_starts + job.total_steps * self.step_seconds
        if job.planned_error is not None:
            self._fail(job, job.planned_error, ended)
            return
        job.status = "succeeded"
        job.finished_at = int(ended)
        job.estimated_finish = None
        job.trained_tokens = self.trained_tokens
        job.fine_tuned_model = f"ft:{job.model}:org-fake:{job.suffix or ''}:{job.id[-8:]}"
        results = self.add_file("step_metrics.csv", "fine-tune-results", b"step,train_loss\n1,2.0\n")
        job.result_files = [results.id]
        self._event(job, f"New fine-tuned model created: {job.fine_tuned_model}", at=ended)
        self._event(job, "The job has successfully completed", at=ended)
        if self.on_model_created is not None:
            self.on_model_created(job)

    def _fail(self, job: Job, error: dict[str, Any], at: float) -> None:
        job.status = "failed"
        job.finished_at = int(at)
        job.estimated_finish = None
        job.error = error
        self._event(job, f"Fine-tuning job failed: {error.get('message', '')}", "error", at=at)

    def cancel(self, job: Job) -> Job:
        """Cancel `job` where its timeline is now; training done so far is billed (trained_tokens)."""
        with self._lock:
            self._catch_up(job)
            if job.status in TERMINAL:
                return job
            if job.status == "running":
                job.trained_tokens = self.trained_tokens * job.steps_done // job.total_steps
            job.status = "cancelled"
            job.finished_at = self._tick()
            job.estimated_finish = None
            self._event(job, "Fine-tuning job cancelled")
            return job
