"""The model catalog against the fake OpenAI server: background refresh, short timeout, backoff.

Reads never touch the network; a slow or failing `/models` only delays the next refresh.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from bot.model_catalog import ModelCatalog
from bot.openai_api import OpenAIClient
from tests.fakes.openai_server import TEST_API_KEY, FakeOpenAI, Fault


class Pacer:
    """Stands in for asyncio.sleep in the refresh loop: records each wait and lets the test release it."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._released = asyncio.Event()
        self.waiting = asyncio.Event()

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        self.waiting.set()
        await self._released.wait()
        self._released.clear()

    async def next_wait(self) -> float:
        await asyncio.wait_for(self.waiting.wait(), timeout=10)
        self.waiting.clear()
        return self.delays[-1]

    def release(self) -> None:
        self._released.set()


@pytest.fixture
async def client(fake_openai: FakeOpenAI) -> AsyncIterator[OpenAIClient]:
    # Generous client-wide timeout and retries: the catalog must override both for its listing.
    url = fake_openai.base_url
    async with OpenAIClient(api_key=TEST_API_KEY, base_url=url, timeout=30, max_retries=2) as c:
        yield c


def listed(fake: FakeOpenAI) -> int:
    return len(fake.requests_to("/v1/models", "GET"))


async def test_reads_are_empty_until_the_first_refresh_and_filter_completion_models(
    fake_openai: FakeOpenAI, client: OpenAIClient
) -> None:
    catalog = ModelCatalog(client, openai_hosted=True)
    assert catalog.ids() is None and catalog.completion_models() is None
    assert listed(fake_openai) == 0  # reading never asks the server

    assert await catalog.refresh() is True
    ids = catalog.ids()
    assert ids is not None and ids == sorted(ids) and "gpt-3.5-turbo-instruct" in ids
    completion = catalog.completion_models()
    assert completion is not None and "gpt-3.5-turbo-instruct" in completion
    assert not any("embedding" in m or "whisper" in m for m in completion)
    assert listed(fake_openai) == 1


async def test_a_slow_listing_times_out_quickly_without_retries_and_keeps_the_old_list(
    fake_openai: FakeOpenAI, client: OpenAIClient
) -> None:
    catalog = ModelCatalog(client, openai_hosted=True, request_timeout=0.3)
    assert await catalog.refresh() is True
    before = catalog.ids()
    fake_openai.retire_model("gpt-3.5-turbo-instruct")
    fake_openai.add_fault(Fault(method="GET", path="/v1/models", delay=5.0, times=None))

    started = time.perf_counter()
    assert await catalog.refresh() is False
    assert time.perf_counter() - started < 2.0
    assert listed(fake_openai) == 2  # one attempt, although the client itself would retry twice
    assert catalog.ids() == before  # a stale list beats none


async def test_the_background_loop_refreshes_every_period_and_backs_off_after_failures(
    fake_openai: FakeOpenAI, client: OpenAIClient
) -> None:
    pacer = Pacer()
    catalog = ModelCatalog(client, openai_hosted=True, refresh_every=600, failure_backoff=15, sleep=pacer)
    catalog.start()
    try:
        assert await pacer.next_wait() == 600  # first listing at start, then the regular period
        assert catalog.ids() is not None and listed(fake_openai) == 1

        fake_openai.add_fault(Fault(method="GET", path="/v1/models", status=500, times=None))
        waits = []
        for _ in range(7):
            pacer.release()
            waits.append(await pacer.next_wait())
        assert waits == [15, 30, 60, 120, 240, 480, 600]  # doubling, capped by the period
        assert catalog.ids() is not None  # failures keep the last good list

        fake_openai.clear_faults()
        pacer.release()
        assert await pacer.next_wait() == 600  # a success resets the backoff
        assert listed(fake_openai) == 9
    finally:
        await catalog.close()


async def test_close_stops_a_refresh_in_flight(fake_openai: FakeOpenAI, client: OpenAIClient) -> None:
    fake_openai.add_fault(Fault(method="GET", path="/v1/models", delay=5.0, times=None))
    catalog = ModelCatalog(client, openai_hosted=True)
    catalog.start()
    while listed(fake_openai) == 0:
        await asyncio.sleep(0.01)
    started = time.perf_counter()
    await catalog.close()
    assert time.perf_counter() - started < 1.0
    assert catalog.ids() is None
