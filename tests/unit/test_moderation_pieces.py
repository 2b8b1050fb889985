"""Moderation's pieces without Discord: text splitting, the policy, pacing, and the pipeline against
the fake OpenAI server (batching, fairness across servers, refused batches, 429s, limits, shutdown)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.openai_api import OpenAIClient, RateLimits
from cogs.moderation.feature import ActionRule, ModerationSettings
from cogs.moderation.pacing import Pacer, estimate_tokens
from cogs.moderation.pipeline import Job, ModerationPipeline, split_text
from cogs.moderation.policy import decide
from tests.fakes.openai_server import FakeOpenAI, Fault

MODEL = "omni-moderation-latest"


def test_split_text_cuts_long_texts_at_spaces_and_keeps_everything() -> None:
    text = " ".join(f"word{n}" for n in range(1000))
    parts = split_text(text, limit=100)
    assert all(len(p) <= 100 for p in parts)
    assert " ".join(parts) == text
    assert split_text("  short  ") == ["short"]
    assert split_text("   ") == []
    assert split_text("x" * 250, limit=100) == ["x" * 100, "x" * 100, "x" * 50]


def test_policy_defaults_log_then_delete_warn_then_timeout_for_harassment() -> None:
    settings = ModerationSettings(enabled=True)
    assert decide({"hate": 0.1}, settings).actions() == []
    assert decide({"hate": 0.6}, settings).actions() == ["log"]
    assert decide({"hate": 0.95}, settings).actions() == ["log", "delete", "warn"]
    verdict = decide({"harassment": 0.95, "hate": 0.2}, settings)
    assert verdict.actions() == ["log", "delete", "warn", "timeout"]
    assert verdict.timeout_minutes == 10
    assert verdict.flagged == {"harassment": 0.95}


def test_self_harm_notifies_only_unless_the_server_says_otherwise() -> None:
    settings = ModerationSettings(enabled=True)
    assert decide({"self-harm/intent": 0.99}, settings).actions() == ["log"]
    strict = ModerationSettings(enabled=True, self_harm_notify_only=False)
    assert decide({"self-harm/intent": 0.99}, strict).actions() == ["log", "delete", "warn"]


def test_thresholds_and_rules_per_category() -> None:
    settings = ModerationSettings(
        enabled=True,
        thresholds={"violence": 0.95},
        rules=(ActionRule(categories=("sexual",), min_score=0.7, timeout_minutes=60),),
    )
    assert decide({"violence": 0.9}, settings).actions() == []  # raised threshold: not flagged
    assert decide({"sexual": 0.75}, settings).timeout_minutes == 60
    assert decide({"hate": 0.99}, settings).actions() == ["log"]  # no rule for it any more
    with pytest.raises(ValueError):
        ActionRule(categories=("spam",), min_score=0.5)


def test_channel_inclusion_follows_the_parent_of_threads() -> None:
    settings = ModerationSettings(include_channel_ids=(1,), exclude_channel_ids=(2,))
    assert settings.checks_channel(1)
    assert settings.checks_channel(10, parent_id=1)
    assert not settings.checks_channel(3)
    assert not settings.checks_channel(2)
    assert ModerationSettings().checks_channel(99)


def test_pacer_waits_for_the_budget_the_headers_describe() -> None:
    now = [100.0]
    pacer = Pacer(lambda: now[0])
    assert pacer.wait(10_000) == 0.0  # nothing known yet
    pacer.observe(RateLimits(limit_requests=60, limit_tokens=600, remaining_requests=0, remaining_tokens=50))
    assert pacer.wait(10) == pytest.approx(1.0)  # one request per second refills
    now[0] += 1.0
    assert pacer.wait(10) == 0.0
    assert pacer.token_room() == pytest.approx(60.0)
    assert pacer.wait(100) == pytest.approx(4.0)  # 40 tokens missing at 10 per second
    pacer.spend(60)
    assert pacer.wait(10) == pytest.approx(1.0)
    # A 429: as told, else the reset, else backing off.
    assert pacer.refused({"retry-after-ms": "1500"}) == 1.5
    assert pacer.wait(1) >= 1.5
    assert pacer.refused({"x-ratelimit-reset-tokens": "6s", "x-ratelimit-reset-requests": "1s"}) == 6.0
    assert pacer.refused(None) == 1.0
    assert pacer.refused(None) == 2.0


@dataclass
class Recorder:
    checked: list[Job] = field(default_factory=list)
    unchecked: list[tuple[Job, str]] = field(default_factory=list)
    calls: list[tuple[float, int, int]] = field(default_factory=list)  # (time, inputs' servers, status)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 0

    def queued(self, job: Job) -> None:
        pass

    def _settle(self) -> None:
        if len(self.checked) + len(self.unchecked) >= self.expected:
            self.done.set()

    def checked_(self, job: Job) -> None:
        self.checked.append(job)
        self._settle()

    def unchecked_(self, job: Job, reason: str) -> None:
        self.unchecked.append((job, reason))
        self._settle()

    def api_call(self, jobs: list[Job], model: str, tokens: dict[int, int], status: int) -> None:
        self.calls.append((time.monotonic(), len(tokens), status))


class _Sink:
    def __init__(self, recorder: Recorder) -> None:
        self.queued = recorder.queued
        self.checked = recorder.checked_
        self.unchecked = recorder.unchecked_
        self.api_call = recorder.api_call


@pytest.fixture
async def client(fake_openai: FakeOpenAI) -> AsyncIterator[OpenAIClient]:
    async with OpenAIClient(fake_openai.api_key or "", base_url=fake_openai.base_url, max_retries=0) as made:
        yield made


def _pipeline(client: OpenAIClient, recorder: Recorder, **kwargs: Any) -> ModerationPipeline:
    return ModerationPipeline(client.moderations.create, _Sink(recorder), **kwargs)  # type: ignore[arg-type]


async def _run(
    pipeline: ModerationPipeline, recorder: Recorder, jobs: list[Job], limit: float = 20.0
) -> None:
    recorder.expected = len(jobs)
    for job in jobs:
        pipeline.submit(job)
    await asyncio.wait_for(recorder.done.wait(), limit)
    await pipeline.close()


async def test_the_fake_takes_2048_inputs_in_one_call_and_results_keep_their_order(
    client: OpenAIClient, fake_openai: FakeOpenAI
) -> None:
    # The API documents no cap on inputs per request, and the fake enforces none.
    recorder = Recorder()
    pipeline = _pipeline(client, recorder, batch_size=2048, window=1.0)
    jobs = [
        Job(n, 1, MODEL, [f"text {n}" + (f" score:hate=0.{n % 9 + 1}" if n % 5 == 0 else "")])
        for n in range(2048)
    ]
    await _run(pipeline, recorder, jobs)
    assert len(fake_openai.requests_to("/v1/moderations")) == 1
    for job in jobs:
        expected = round((job.message_id % 9 + 1) / 10, 1) if job.message_id % 5 == 0 else None
        assert (job.scores["hate"] if expected else None) == expected


async def test_long_texts_and_images_each_count_and_the_highest_score_wins(
    client: OpenAIClient, fake_openai: FakeOpenAI
) -> None:
    recorder = Recorder()
    pipeline = _pipeline(client, recorder, window=0.05)
    long_text = ("calm words " * 300) + " score:violence=0.8 " + ("calm words " * 300)
    job = Job(1, 1, MODEL, split_text(long_text), ["https://cdn.example/flag-sexual.png"])
    await _run(pipeline, recorder, [job])
    assert len(job.texts) >= 3
    assert job.scores["violence"] == 0.8
    assert job.scores["sexual"] == 0.97
    assert recorder.checked == [job]


async def test_one_flooding_server_does_not_hold_up_another(client: OpenAIClient) -> None:
    recorder = Recorder()
    pipeline = _pipeline(client, recorder, batch_size=8, window=0.01)
    flood = [Job(n, 1, MODEL, [f"spam {n}"]) for n in range(200)]
    quiet = Job(999, 2, MODEL, ["hello from a quiet server"])
    await _run(pipeline, recorder, [*flood, quiet])
    # The quiet server's message went in the first batch, not after the flood.
    assert recorder.checked.index(quiet) < 8


async def test_a_refused_batch_is_split_and_everything_is_still_checked(
    client: OpenAIClient, fake_openai: FakeOpenAI
) -> None:
    fake_openai.add_fault(Fault(path="/v1/moderations", status=400, times=1))
    recorder = Recorder()
    pipeline = _pipeline(client, recorder, batch_size=16, window=0.01)
    jobs = [Job(n, 1, MODEL, [f"text {n}"]) for n in range(16)]
    await _run(pipeline, recorder, jobs)
    sizes = [len(r.json["input"]) for r in fake_openai.requests_to("/v1/moderations")]
    assert sizes == [16, 8, 8]
    assert len(recorder.checked) == 16 and recorder.unchecked == []


async def test_a_single_refused_input_is_recorded_unchecked(
    client: OpenAIClient, fake_openai: FakeOpenAI
) -> None:
    fake_openai.add_fault(Fault(path="/v1/moderations", status=400, times=1))
    recorder = Recorder()
    pipeline = _pipeline(client, recorder, window=0.01)
    job = Job(1, 1, MODEL, ["one message"])
    await _run(pipeline, recorder, [job])
    assert recorder.unchecked == [(job, "refused")]


async def test_a_429_is_waited_out_as_told_and_the_queue_kept(
    client: OpenAIClient, fake_openai: FakeOpenAI
) -> None:
    fake_openai.add_fault(
        Fault(path="/v1/moderations", status=429, headers={"retry-after-ms": "300"}, times=1)
    )
    recorder = Recorder()
    pipeline = _pipeline(client, recorder, window=0.01)
    jobs = [Job(n, 1, MODEL, [f"text {n}"]) for n in range(5)]
    await _run(pipeline, recorder, jobs)
    (refused_at, _, first), (retried_at, _, second) = recorder.calls
    assert (first, second) == (429, 200)
    assert retried_at - refused_at >= 0.29
    assert len(recorder.checked) == 5


async def test_under_a_token_limit_it_paces_itself_without_a_429(
    client: OpenAIClient, fake_openai: FakeOpenAI
) -> None:
    # 6,000 tokens a minute is 100 a second; the pipeline learns it from the first response's headers.
    recorder = Recorder()
    pipeline = _pipeline(client, recorder, window=0.01)
    text = "x" * 40
    assert estimate_tokens(text) == 10
    fake_openai.set_rate_limits(tokens_per_minute=6000)
    # Spend most of the bucket first so pacing must wait.
    await client.moderations.create(input=["y" * 4 * 5000], model=MODEL)
    started = time.monotonic()
    jobs = [Job(n, 1, MODEL, [text]) for n in range(150)]
    await _run(pipeline, recorder, jobs)
    # The bucket is not empty at first, so even the blind first request fits: no 429 at all.
    assert [status for _, _, status in recorder.calls].count(429) == 0
    assert len(recorder.checked) == 150
    assert time.monotonic() - started >= 4.0  # 1,500 tokens at 100 a second, less what was left


async def test_past_the_deadline_and_at_shutdown_nothing_is_dropped_silently(
    client: OpenAIClient, fake_openai: FakeOpenAI
) -> None:
    fake_openai.add_fault(Fault(path="/v1/moderations", status=503, times=None))
    recorder = Recorder()
    pipeline = _pipeline(client, recorder, window=0.01, deadline=0.3)
    jobs = [Job(n, 1, MODEL, [f"text {n}"]) for n in range(3)]
    await _run(pipeline, recorder, jobs, limit=10)
    assert sorted(reason for _, reason in recorder.unchecked) == ["deadline"] * 3

    fake_openai.clear_faults()
    recorder = Recorder()
    pipeline = _pipeline(client, recorder, window=60.0)
    waiting = [Job(n, 1, MODEL, [f"text {n}"]) for n in range(3)]
    for job in waiting:
        pipeline.submit(job)
    await asyncio.sleep(0.01)
    left = await pipeline.close()
    assert left == waiting
    assert [(job, reason) for job, reason in recorder.unchecked] == [(j, "shutdown") for j in waiting]
    late = Job(9, 1, MODEL, ["after close"])
    pipeline.submit(late)
    assert recorder.unchecked[-1] == (late, "closed")


async def test_a_bounded_queue_reports_overflow_as_unchecked(client: OpenAIClient) -> None:
    recorder = Recorder()
    pipeline = _pipeline(client, recorder, window=60.0, max_queued_per_guild=2)
    jobs = [Job(n, 1, MODEL, [f"text {n}"]) for n in range(3)]
    for job in jobs:
        pipeline.submit(job)
    assert recorder.unchecked == [(jobs[2], "queue_full")]
    await pipeline.close()


@pytest.mark.parametrize(
    "fault",
    [Fault(path="/v1/moderations", status=401), Fault(path="/v1/moderations", malformed=True)],
)
async def test_errors_that_asking_again_cannot_fix_make_messages_unchecked_at_once(
    client: OpenAIClient, fake_openai: FakeOpenAI, fault: Fault
) -> None:
    fake_openai.add_fault(fault)
    recorder = Recorder()
    pipeline = _pipeline(client, recorder, window=0.01)
    jobs = [Job(n, 1, MODEL, [f"text {n}"]) for n in range(3)]
    await _run(pipeline, recorder, jobs, limit=2.0)  # long before the 60 s deadline
    assert sorted(reason for _, reason in recorder.unchecked) == ["api_error"] * 3
    assert len(fake_openai.requests_to("/v1/moderations")) == 1


async def test_text_moderation_models_null_categories_are_read(client: OpenAIClient) -> None:
    response = await client.moderations.create(input=["score:hate=0.7"], model="text-moderation-latest")
    [result] = response.results
    assert result.categories["illicit"] is None
    assert result.flagged_categories() == ["hate"]
