"""State of the fake OpenAI server: uploaded files, fine-tuning jobs and their events, served images.

Owns the objects that persist across requests and how a fine-tuning job advances when polled.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

# A job moves one step each time it is retrieved, so tests and the standalone bot can watch it progress.
JOB_STEPS = ("validating_files", "queued", "running", "succeeded")
# The real API fails a job whose training file has fewer examples, while validating it.
MIN_TRAINING_EXAMPLES = 10
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
    status: str = "validating_files"
    fine_tuned_model: str | None = None
    finished_at: int | None = None
    trained_tokens: int | None = None
    result_files: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    metadata: dict[str, str] | None = None
    method: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

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
            "hyperparameters": {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 2.0},
            "trained_tokens": self.trained_tokens,
            "error": self.error,
            "seed": self.seed,
            "metadata": self.metadata,
            "method": self.method or {"type": "supervised"},
            "estimated_finish": None,
            "integrations": None,
            "user_provided_suffix": self.suffix,
        }


class Store:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.files: dict[str, StoredFile] = {}
            self.jobs: dict[str, Job] = {}
            self.images: dict[str, bytes] = {}
            #: When set, the next job to finish training fails with this error (code, message, param).
            self.fail_jobs_with: dict[str, Any] | None = None
            #: trained_tokens of a succeeded job.
            self.trained_tokens = 12_345

    def _tick(self) -> int:
        return int(time.time())

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
        self, job: Job, message: str, kind: str = "message", data: dict[str, Any] | None = None
    ) -> None:
        job.events.append(
            {
                "object": "fine_tuning.job.event",
                "id": "ftevent-" + secrets.token_hex(12),
                "created_at": self._tick(),
                "level": "info",
                "message": message,
                "type": kind,
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
    ) -> Job:
        with self._lock:
            job = Job(
                "ftjob-" + secrets.token_hex(12),
                model,
                training_file,
                validation_file,
                suffix,
                seed if seed is not None else secrets.randbelow(2**31),
                self._tick(),
                metadata=metadata,
                method=method,
            )
            self._event(job, f"Created fine-tuning job: {job.id}")
            self._event(job, f"Validating training file: {training_file}")
            self.jobs[job.id] = job
            return job

    def get_job(self, job_id: str) -> Job | None:
        with self._lock:
            return self.jobs.get(job_id)

    def list_jobs(self) -> list[Job]:
        with self._lock:
            return list(reversed(self.jobs.values()))

    def advance(self, job: Job, base_model: str | None = None) -> Job:
        """Move `job` one step along validating_files -> queued -> running -> succeeded (or failed),
        logging events; `base_model` names the fine-tuned model (a snapshot's alias is not used)."""
        with self._lock:
            if job.status in TERMINAL:
                return job
            job.status = JOB_STEPS[JOB_STEPS.index(job.status) + 1]
            if job.status == "queued":
                training = self.files.get(job.training_file)
                examples = sum(1 for line in training.data.splitlines() if line.strip()) if training else 0
                if examples < MIN_TRAINING_EXAMPLES:
                    return self._fail(
                        job,
                        {
                            "code": "invalid_training_file",
                            "message": f"Training file {job.training_file} has {examples} example(s), "
                            f"but must have at least {MIN_TRAINING_EXAMPLES} examples",
                            "param": "training_file",
                        },
                    )
                self._event(job, "Files validated, moving job to queued state")
            elif job.status == "running":
                self._event(job, "Fine-tuning job started")
                for step in (1, 2, 3):
                    loss = round(2.0 / step, 4)
                    self._event(
                        job,
                        f"Step {step}/3: training loss={loss}",
                        "metrics",
                        {"step": step, "train_loss": loss, "total_steps": 3},
                    )
            elif self.fail_jobs_with is not None:
                error, self.fail_jobs_with = self.fail_jobs_with, None
                return self._fail(job, error)
            else:
                job.finished_at = self._tick()
                job.trained_tokens = self.trained_tokens
                job.fine_tuned_model = f"ft:{job.model}:org-fake:{job.suffix or ''}:{job.id[-8:]}"
                results = self.add_file("step_metrics.csv", "fine-tune-results", b"step,train_loss\n1,2.0\n")
                job.result_files = [results.id]
                self._event(job, f"New fine-tuned model created: {job.fine_tuned_model}")
                self._event(job, "The job has successfully completed")
            return job

    def _fail(self, job: Job, error: dict[str, Any]) -> Job:
        job.status = "failed"
        job.finished_at = self._tick()
        job.error = error
        self._event(job, f"Fine-tuning job failed: {error.get('message', '')}", data={})
        return job

    def cancel(self, job: Job) -> Job:
        with self._lock:
            job.status = "cancelled"
            job.finished_at = self._tick()
            self._event(job, "Fine-tuning job cancelled")
            return job
