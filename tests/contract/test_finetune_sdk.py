"""The official `openai` package driven against the fake for every files and fine-tuning call:
upload, list, retrieve, delete, jobs on dated snapshots following the fake's clock, metrics events,
cancel, failure reasons."""

from __future__ import annotations

import json

import pytest

from tests.fakes.openai_server import TEST_API_KEY, FakeOpenAI

TRAINING = b"".join(
    json.dumps(
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]}
    ).encode()
    + b"\n"
    for i in range(10)
)


@pytest.mark.parametrize("model", ["gpt-4o-mini-2024-07-18", "gpt-4.1-mini-2025-04-14", "gpt-4o-mini"])
async def test_official_sdk_files_and_fine_tuning(fake_openai: FakeOpenAI, model: str) -> None:
    openai = pytest.importorskip("openai")
    sdk = openai.AsyncOpenAI(api_key=TEST_API_KEY, base_url=fake_openai.base_url, max_retries=0)
    try:
        uploaded = await sdk.files.create(file=("train.jsonl", TRAINING), purpose="fine-tune")
        assert uploaded.purpose == "fine-tune" and uploaded.bytes == len(TRAINING)
        assert (await sdk.files.retrieve(uploaded.id)).status == "processed"
        listed = [f.id async for f in sdk.files.list(purpose="fine-tune")]
        assert uploaded.id in listed

        job = await sdk.fine_tuning.jobs.create(
            model=model,
            training_file=uploaded.id,
            suffix="guild",
            method={"type": "supervised"},
            metadata={"guild_id": "42"},
        )
        assert job.status == "validating_files" and job.metadata == {"guild_id": "42"}
        store = fake_openai.store
        # Reading never moves a job: only the clock does.
        seen = [(await sdk.fine_tuning.jobs.retrieve(job.id)).status for _ in range(3)]
        assert seen == ["validating_files"] * 3
        store.advance_time(store.validating_seconds)
        assert (await sdk.fine_tuning.jobs.retrieve(job.id)).status == "queued"
        store.advance_time(store.queued_seconds + 5 * store.step_seconds)
        running = await sdk.fine_tuning.jobs.retrieve(job.id)
        assert running.status == "running" and running.trained_tokens is None
        assert running.hyperparameters.n_epochs == 3 and running.estimated_finish is not None
        latest = (await sdk.fine_tuning.jobs.list_events(job.id, limit=1)).data[0]
        assert latest.type == "metrics" and latest.data["step"] == 5 and latest.data["total_steps"] == 30
        assert latest.message == f"Step 5/30: training loss={latest.data['train_loss']}"
        store.advance_time(25 * store.step_seconds)
        done = await sdk.fine_tuning.jobs.retrieve(job.id)
        assert done.status == "succeeded" and done.finished_at == int(
            job.created_at + store.validating_seconds + store.queued_seconds + 30 * store.step_seconds
        )
        assert done.fine_tuned_model is not None and done.fine_tuned_model.startswith(f"ft:{model}:")
        assert done.trained_tokens == fake_openai.store.trained_tokens
        events = [e.message async for e in sdk.fine_tuning.jobs.list_events(job.id, limit=50)]
        assert events[0] == "The job has successfully completed"
        assert job.id in [j.id async for j in sdk.fine_tuning.jobs.list(limit=10)]
        models = [m.id async for m in sdk.models.list()]
        assert done.fine_tuned_model in models

        # Cancelled while training: the steps trained so far are billed.
        second = await sdk.fine_tuning.jobs.create(
            model=model,
            training_file=uploaded.id,
            method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}},
        )
        store.advance_time(store.validating_seconds + store.queued_seconds + 10 * store.step_seconds)
        assert (await sdk.fine_tuning.jobs.retrieve(second.id)).status == "running"
        cancelled = await sdk.fine_tuning.jobs.cancel(second.id)
        assert cancelled.status == "cancelled" and cancelled.hyperparameters.n_epochs == 2
        assert cancelled.trained_tokens == store.trained_tokens * 10 // 20
        store.advance_time(3600)
        assert (await sdk.fine_tuning.jobs.retrieve(second.id)).status == "cancelled"
        with pytest.raises(openai.BadRequestError):
            await sdk.fine_tuning.jobs.cancel(second.id)

        deleted = await sdk.files.delete(uploaded.id)
        assert deleted.deleted
        with pytest.raises(openai.NotFoundError):
            await sdk.files.retrieve(uploaded.id)
    finally:
        await sdk.close()


async def test_official_sdk_sees_refusals_and_failures(fake_openai: FakeOpenAI) -> None:
    openai = pytest.importorskip("openai")
    sdk = openai.AsyncOpenAI(api_key=TEST_API_KEY, base_url=fake_openai.base_url, max_retries=0)
    try:
        few = await sdk.files.create(
            file=("few.jsonl", TRAINING.splitlines(True)[0] * 3), purpose="fine-tune"
        )
        with pytest.raises(openai.BadRequestError) as refused:
            await sdk.fine_tuning.jobs.create(model="gpt-5.5", training_file=few.id)
        assert "not available for fine-tuning" in refused.value.message
        with pytest.raises(openai.BadRequestError):
            await sdk.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=few.id, suffix="x" * 65)
        # Too few examples: accepted, then failed while validating, with the API's reason.
        job = await sdk.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=few.id)
        fake_openai.store.advance_time(fake_openai.store.validating_seconds)
        failed = await sdk.fine_tuning.jobs.retrieve(job.id)
        assert failed.status == "failed" and failed.error is not None
        assert failed.error.code == "invalid_training_file" and "at least 10" in failed.error.message
        # A job the test makes fail after training, with the reason it chose.
        fake_openai.store.fail_jobs_with = {"code": "server_error", "message": "Out of GPUs.", "param": None}
        enough = await sdk.files.create(file=("train.jsonl", TRAINING), purpose="fine-tune")
        doomed = await sdk.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=enough.id)
        fake_openai.store.advance_time(3600)
        late = await sdk.fine_tuning.jobs.retrieve(doomed.id)
        assert late.status == "failed" and late.error is not None and late.error.message == "Out of GPUs."
        assert late.fine_tuned_model is None
        messages = [e.message async for e in sdk.fine_tuning.jobs.list_events(doomed.id, limit=100)]
        assert messages[0] == "Fine-tuning job failed: Out of GPUs." and "Step 30/30" in messages[1]
    finally:
        await sdk.close()
