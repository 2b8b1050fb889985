"""Helpers for cog tests: a guild with a member, and a switch for the interaction's locale.

simcord sends every interaction with locale en-US; `user_locale` rewrites the payload.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import simcord.interactions as sim_interactions


@pytest.fixture
def user_locale(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Call with e.g. "zh-CN" to make the following interactions come from that client language."""
    original = sim_interactions.base_payload
    chosen: dict[str, str] = {}

    def patched(*args: Any, **kwargs: Any) -> Any:
        record, payload = original(*args, **kwargs)
        if "locale" in chosen:
            payload["locale"] = chosen["locale"]
        return record, payload

    monkeypatch.setattr(sim_interactions, "base_payload", patched)
    yield lambda locale: chosen.__setitem__("locale", locale)


def assert_errors(env: Any, *expected: str) -> None:
    """Assert the errors simcord recorded since the last check, by class name (commands' errors
    unwrapped from CommandInvokeError), and acknowledge them so the test's teardown does not fail."""
    names = [type(getattr(error, "original", error)).__name__ for error in env.errors]
    assert names == list(expected)
