"""Pytest fixtures that give tests a running fake OpenAI server.

Owns `fake_openai` (in the test's loop), `fake_openai_threaded_session` and `fake_openai_threaded`
(own thread and loop, for simcord bot tests whose loop must not host the fake).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from tests.fakes.openai_server import TEST_API_KEY, FakeOpenAI


@pytest_asyncio.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI(api_key=TEST_API_KEY, stream_delay=0.0)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture(scope="session")
def fake_openai_threaded_session() -> Iterator[FakeOpenAI]:
    with FakeOpenAI.threaded(api_key=TEST_API_KEY, stream_delay=0.0) as fake:
        yield fake


@pytest.fixture
def fake_openai_threaded(fake_openai_threaded_session: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The session's threaded fake, with requests, faults, state and rate limits reset for this test."""
    fake_openai_threaded_session.reset()
    yield fake_openai_threaded_session
    fake_openai_threaded_session.reset()
