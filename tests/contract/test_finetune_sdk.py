"""The official `openai` package driven against the fake for every files and fine-tuning call:
upload, list, retrieve, delete, jobs on dated snapshots, events, cancel, failure reasons."""

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
        seen = [(await sdk.fine_tuning.jobs.retrieve(job.id)).status for _ in range(3)]
        assert seen == ["queued", "running", "succeeded"]
        done = await sdk.fine_tuning.jobs.retrieve(job.id)
        assert done.fine_tuned_model is not None and done.fine_tuned_model.startswith(f"ft:{model}:")
        assert done.trained_tokens == fake_openai.store.trained_tokens
        events = [e.message async for e in sdk.fine_tuning.jobs.list_events(job.id, limit=50)]
        assert events[0] == "The job has successfully completed"
        assert job.id in [j.id async for j in sdk.fine_tuning.jobs.list(limit=10)]
        models = [m.id async for m in sdk.models.list()]
        assert done.fine_tuned_model in models

        second = await sdk.fine_tuning.jobs.create(model=model, training_file=uploaded.id)
        cancelled = await sdk.fine_tuning.jobs.cancel(second.id)
        assert cancelled.status == "cancelled"
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
        failed = await sdk.fine_tuning.jobs.retrieve(job.id)
        assert failed.status == "failed" and failed.error is not None
        assert failed.error.code == "invalid_training_file" and "at least 10" in failed.error.message
    finally:
        await sdk.close()
