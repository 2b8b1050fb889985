"""Files and fine-tuning endpoints of the fake OpenAI server.

Owns /v1/files (upload, list, retrieve, delete, content) and /v1/fine_tuning/jobs (create, list,
retrieve, cancel, events) with cursor pagination like the real API.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from tests.fakes.catalog import ModelInfo
from tests.fakes.common import fake_of, json_body, record_of
from tests.fakes.errors import ApiError, invalid
from tests.fakes.store import TERMINAL, Job
from tests.fakes.validate import in_range, one_of, reject_unknown, require_object, required, typed

if TYPE_CHECKING:
    from tests.fakes.openai_server import FakeOpenAI

UPLOAD_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
# The API refuses to hand back the content of these purposes ("Not allowed to download files of purpose").
NOT_DOWNLOADABLE = ("assistants", "fine-tune")
T = TypeVar("T")
# Dated snapshots the fine-tuning API takes, and the alias whose catalog entry describes them
# (the real API lists some snapshots in /v1/models and not others; fine-tuning takes them all).
FINE_TUNABLE_SNAPSHOTS = {
    "gpt-4o-mini-2024-07-18": "gpt-4o-mini",
    "gpt-4o-2024-08-06": "gpt-4o",
    "gpt-4.1-2025-04-14": "gpt-4.1",
    "gpt-4.1-mini-2025-04-14": "gpt-4.1-mini",
    "gpt-4.1-nano-2025-04-14": "gpt-4.1-nano",
    "gpt-3.5-turbo-0125": "gpt-3.5-turbo",
    "gpt-3.5-turbo-1106": "gpt-3.5-turbo",
}


def register(app: web.Application) -> None:
    from tests.fakes.openai_server import FAKE_KEY

    fake = app[FAKE_KEY]
    # A tuned model is listed from the moment its job succeeds, whoever looks first.
    fake.store.on_model_created = lambda job: _list_tuned_model(fake, job)
    r = app.router
    r.add_post("/v1/files", upload)
    r.add_get("/v1/files", list_files)
    r.add_get("/v1/files/{file_id}", retrieve_file)
    r.add_delete("/v1/files/{file_id}", delete_file)
    r.add_get("/v1/files/{file_id}/content", file_content)
    r.add_post("/v1/fine_tuning/jobs", create_job)
    r.add_get("/v1/fine_tuning/jobs", list_jobs)
    r.add_get("/v1/fine_tuning/jobs/{job_id}", retrieve_job)
    r.add_post("/v1/fine_tuning/jobs/{job_id}/cancel", cancel_job)
    r.add_get("/v1/fine_tuning/jobs/{job_id}/events", list_events)


def _limit(request: web.Request, default: int, high: int) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(
            "Invalid type for 'limit': expected an integer, but got a string instead.",
            "limit",
            "invalid_type",
        ) from None
    in_range("limit", value, 1, high)
    return value


def _page(items: Sequence[T], ids: Sequence[str], after: str | None, limit: int) -> tuple[list[T], bool]:
    """Items after the cursor `after` (an id in `ids`), at most `limit`, and whether more remain."""
    start = 0
    if after is not None:
        start = ids.index(after) + 1 if after in ids else len(ids)
    page = list(items[start : start + limit])
    return page, start + limit < len(items)


# files ------------------------------------------------------------------------------------------------


async def upload(request: web.Request) -> web.Response:
    rec = record_of(request)
    if request.content_type != "multipart/form-data":
        raise invalid("Invalid request: expected multipart/form-data.", None, None)
    for key in rec.form:
        if key not in ("purpose", "expires_after[anchor]", "expires_after[seconds]"):
            raise invalid(f"Unrecognized request argument supplied: {key}", key, "unknown_parameter")
    upload_file = rec.files.get("file")
    if upload_file is None:
        raise invalid("Missing required parameter: 'file'.", "file", "missing_required_parameter")
    purpose = rec.form.get("purpose")
    if not purpose:
        raise invalid("Missing required parameter: 'purpose'.", "purpose", "missing_required_parameter")
    one_of("purpose", purpose, UPLOAD_PURPOSES)
    filename = upload_file.filename or "upload"
    if purpose == "fine-tune":
        if not filename.endswith(".jsonl"):
            raise invalid("Invalid file format for Fine-Tuning API. Must be .jsonl", "file", None)
        for number, line in enumerate(upload_file.data.decode("utf-8", "replace").splitlines(), 1):
            if line.strip():
                try:
                    json.loads(line)
                except ValueError:
                    raise invalid(
                        f"Invalid file format: line {number} is not valid JSON.", "file", None
                    ) from None
    expires = rec.form.get("expires_after[seconds]")
    stored = fake_of(request).store.add_file(
        filename, purpose, upload_file.data, int(expires) if expires and expires.isdigit() else None
    )
    return web.json_response(stored.to_json())


def _file_or_404(request: web.Request) -> Any:
    file_id = request.match_info["file_id"]
    stored = fake_of(request).store.get_file(file_id)
    if stored is None:
        raise ApiError(404, f"No such File object: {file_id}", param="id")
    return stored


async def list_files(request: web.Request) -> web.Response:
    files = fake_of(request).store.list_files()
    purpose = request.query.get("purpose")
    if purpose:
        files = [f for f in files if f.purpose == purpose]
    order = request.query.get("order", "desc")
    one_of("order", order, ("asc", "desc"))
    if order == "asc":
        files.reverse()
    page, more = _page(
        files, [f.id for f in files], request.query.get("after"), _limit(request, 10000, 10000)
    )
    # The spec makes first_id/last_id required strings; an empty page has none, so they are "".
    return web.json_response(
        {
            "object": "list",
            "data": [f.to_json() for f in page],
            "first_id": page[0].id if page else "",
            "last_id": page[-1].id if page else "",
            "has_more": more,
        }
    )


async def retrieve_file(request: web.Request) -> web.Response:
    return web.json_response(_file_or_404(request).to_json())


async def delete_file(request: web.Request) -> web.Response:
    stored = _file_or_404(request)
    fake_of(request).store.delete_file(stored.id)
    return web.json_response({"id": stored.id, "object": "file", "deleted": True})


async def file_content(request: web.Request) -> web.Response:
    stored = _file_or_404(request)
    if stored.purpose in NOT_DOWNLOADABLE:
        raise invalid(f"Not allowed to download files of purpose: {stored.purpose}", None, None)
    return web.Response(body=stored.data, content_type="application/octet-stream")


# fine-tuning --------------------------------------------------------------------------------------------

_JOB_FIELDS = (
    "model",
    "training_file",
    "hyperparameters",
    "suffix",
    "validation_file",
    "integrations",
    "seed",
    "method",
    "metadata",
)


def _job_or_404(request: web.Request) -> Job:
    job_id = request.match_info["job_id"]
    job = fake_of(request).store.get_job(job_id)
    if job is None:
        raise ApiError(
            404,
            f"Could not find fine-tune job: {job_id}",
            param="fine_tuning_job_id",
            code="fine_tune_job_not_found",
        )
    return job


def _training_file(request: web.Request, file_id: str, param: str) -> None:
    stored = fake_of(request).store.get_file(file_id)
    if stored is None:
        raise invalid(f"invalid {param}: {file_id}", param, f"invalid_{param}")
    if stored.purpose != "fine-tune":
        raise invalid(
            f"File {file_id} has purpose '{stored.purpose}', expected 'fine-tune'.", param, f"invalid_{param}"
        )


async def create_job(request: web.Request) -> web.Response:
    fake = fake_of(request)
    body = require_object(json_body(request))
    reject_unknown(body, _JOB_FIELDS)
    model = typed(body, "model", str)
    if model is None:
        raise invalid("Missing required parameter: 'model'.", "model", "missing_required_parameter")
    training_file = required(body, "training_file")
    typed(body, "training_file", str)
    suffix = typed(body, "suffix", str)
    if suffix is not None and not 1 <= len(suffix) <= 64:
        raise invalid("Invalid 'suffix': must be between 1 and 64 characters.", "suffix", "invalid_value")
    seed = typed(body, "seed", int)
    in_range("seed", seed, 0, 2147483647)
    info = fake.catalog.get(model)
    snapshot_of = FINE_TUNABLE_SNAPSHOTS.get(model)
    if snapshot_of is not None:
        info = fake.catalog.get(snapshot_of) or ModelInfo(snapshot_of, "chat", context=128_000)
        info = ModelInfo(model, info.kind, info.created, context=info.context, fine_tunable=True)
    if info is None or not info.fine_tunable:
        raise invalid(
            f"Model {model} is not available for fine-tuning or does not exist.",
            "model",
            "model_not_available",
        )
    _training_file(request, training_file, "training_file")
    validation_file = typed(body, "validation_file", str)
    if validation_file is not None:
        _training_file(request, validation_file, "validation_file")
    metadata = typed(body, "metadata", dict)
    if metadata is not None and (
        len(metadata) > 16
        or any(not isinstance(v, str) or len(k) > 64 or len(v) > 512 for k, v in metadata.items())
    ):
        raise invalid("Invalid 'metadata': at most 16 string pairs.", "metadata", "invalid_value")
    method = typed(body, "method", dict)
    if method is not None:
        one_of("method.type", method.get("type"), ("supervised", "dpo", "reinforcement"))
    job = fake.store.add_job(
        model, training_file, validation_file, suffix, seed, metadata, method, _epochs(body, method)
    )
    return web.json_response(job.to_json())


def _epochs(body: dict[str, Any], method: dict[str, Any] | None) -> int | None:
    """n_epochs from method.<type>.hyperparameters or the legacy top-level hyperparameters; None
    for "auto" (the store picks)."""
    places = [body.get("hyperparameters")]
    if method is not None:
        kind = method.get(str(method.get("type")))
        if isinstance(kind, dict):
            places.append(kind.get("hyperparameters"))
    for hyperparameters in places:
        if isinstance(hyperparameters, dict):
            epochs = hyperparameters.get("n_epochs")
            if isinstance(epochs, int) and not isinstance(epochs, bool):
                in_range("n_epochs", epochs, 1, 50)
                return epochs
    return None


async def list_jobs(request: web.Request) -> web.Response:
    jobs = fake_of(request).store.list_jobs()
    page, more = _page(jobs, [j.id for j in jobs], request.query.get("after"), _limit(request, 20, 100))
    return web.json_response({"object": "list", "data": [j.to_json() for j in page], "has_more": more})


def _list_tuned_model(fake: FakeOpenAI, job: Job) -> None:
    if job.fine_tuned_model is None or fake.catalog.get(job.fine_tuned_model) is not None:
        return
    base = fake.catalog.get(FINE_TUNABLE_SNAPSHOTS.get(job.model, job.model))
    kind = base.kind if base is not None else "completion"
    fake.catalog.add(
        ModelInfo(
            job.fine_tuned_model,
            kind,
            job.created_at,
            "org-fake",
            context=base.context if base is not None else None,
        )
    )


async def retrieve_job(request: web.Request) -> web.Response:
    # Reading a job never moves it: where it is depends on the store's clock alone.
    return web.json_response(_job_or_404(request).to_json())


async def cancel_job(request: web.Request) -> web.Response:
    job = _job_or_404(request)
    if job.status in TERMINAL:
        raise invalid(
            f"Job {job.id} has already {'been cancelled' if job.status == 'cancelled' else 'completed'}.",
            None,
            None,
        )
    return web.json_response(fake_of(request).store.cancel(job).to_json())


async def list_events(request: web.Request) -> web.Response:
    job = _job_or_404(request)
    events = list(reversed(job.events))  # newest first, like the API
    page, more = _page(
        events, [e["id"] for e in events], request.query.get("after"), _limit(request, 20, 100)
    )
    return web.json_response({"object": "list", "data": page, "has_more": more})
