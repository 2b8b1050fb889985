"""/fine_tuning/jobs endpoints: create, list, retrieve, cancel and list events (after/limit pagination).
Job fields are lenient because compatible servers fill only some of them."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import Field

from bot.openai_api._base import APIModel, RequestModel
from bot.openai_api.transport import Transport


class FineTuningJobRequest(RequestModel):
    model: str
    training_file: str
    validation_file: str | None = None
    hyperparameters: dict[str, Any] | None = None
    suffix: str | None = None
    seed: int | None = None
    method: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    integrations: list[dict[str, Any]] | None = None


class FineTuningJob(APIModel):
    id: str
    object: str = "fine_tuning.job"
    model: str = ""
    status: str = ""
    created_at: int = 0
    finished_at: int | None = None
    fine_tuned_model: str | None = None
    organization_id: str | None = None
    training_file: str | None = None
    validation_file: str | None = None
    result_files: list[str] = Field(default_factory=list)
    trained_tokens: int | None = None
    hyperparameters: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    seed: int | None = None
    estimated_finish: int | None = None
    metadata: dict[str, str] | None = None


class FineTuningJobList(APIModel):
    object: str = "list"
    data: list[FineTuningJob] = Field(default_factory=list)
    has_more: bool = False


class FineTuningEvent(APIModel):
    id: str
    object: str = "fine_tuning.job.event"
    created_at: int = 0
    level: str = "info"
    message: str = ""
    type: str | None = None
    data: dict[str, Any] | None = None


class FineTuningEventList(APIModel):
    object: str = "list"
    data: list[FineTuningEvent] = Field(default_factory=list)
    has_more: bool = False


def _job_path(job_id: str, suffix: str = "") -> str:
    return f"/fine_tuning/jobs/{quote(job_id, safe='')}{suffix}"


class FineTuning:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def create(
        self,
        *,
        model: str,
        training_file: str,
        validation_file: str | None = None,
        hyperparameters: dict[str, Any] | None = None,
        suffix: str | None = None,
        seed: int | None = None,
        request_timeout: float | None = None,
        **extra: Any,
    ) -> FineTuningJob:
        body = FineTuningJobRequest(
            model=model,
            training_file=training_file,
            validation_file=validation_file,
            hyperparameters=hyperparameters,
            suffix=suffix,
            seed=seed,
            **extra,
        ).to_json()
        raw = await self._t.post_json("/fine_tuning/jobs", body, request_timeout=request_timeout)
        return self._t.parse(FineTuningJob, raw)

    async def list(
        self, *, after: str | None = None, limit: int | None = None, request_timeout: float | None = None
    ) -> FineTuningJobList:
        raw = await self._t.get(
            "/fine_tuning/jobs", params={"after": after, "limit": limit}, request_timeout=request_timeout
        )
        return self._t.parse(FineTuningJobList, raw)

    async def retrieve(self, job_id: str, *, request_timeout: float | None = None) -> FineTuningJob:
        raw = await self._t.get(_job_path(job_id), request_timeout=request_timeout)
        return self._t.parse(FineTuningJob, raw)

    async def cancel(self, job_id: str, *, request_timeout: float | None = None) -> FineTuningJob:
        raw = await self._t.post_json(_job_path(job_id, "/cancel"), b"{}", request_timeout=request_timeout)
        return self._t.parse(FineTuningJob, raw)

    async def list_events(
        self,
        job_id: str,
        *,
        after: str | None = None,
        limit: int | None = None,
        request_timeout: float | None = None,
    ) -> FineTuningEventList:
        raw = await self._t.get(
            _job_path(job_id, "/events"),
            params={"after": after, "limit": limit},
            request_timeout=request_timeout,
        )
        return self._t.parse(FineTuningEventList, raw)
