"""The small pure pieces behind /write: cost format, token estimate, model filter, cooldowns."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from bot.cooldowns import Cooldowns
from bot.model_catalog import is_completion_model
from bot.usage.estimate import estimate_tokens
from cogs.write.answer import format_usd
from cogs.write.sink import token_expired


@pytest.mark.parametrize(
    ("cost", "shown"),
    [
        ("0", "$0"),
        ("0.0000005", "<$0.000001"),
        ("0.000123", "$0.000123"),
        ("0.0123", "$0.01"),
        ("2.5", "$2.50"),
    ],
)
def test_format_usd(cost: str, shown: str) -> None:
    assert format_usd(Decimal(cost)) == shown


def test_estimate_tokens_counts_cjk_per_character() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd" * 10) == 10
    assert estimate_tokens("你好世界") == 4
    assert estimate_tokens("hi 你好") == 2 + 1


@pytest.mark.parametrize(
    ("model", "openai", "expected"),
    [
        ("gpt-3.5-turbo-instruct", True, True),
        ("davinci-002", True, True),
        ("gpt-4o", True, False),
        ("text-embedding-3-small", True, False),
        ("llama3.2", False, True),
        ("nomic-embed-text", False, False),
        ("whisper-1", False, False),
    ],
)
def test_completion_model_filter(model: str, openai: bool, expected: bool) -> None:
    assert is_completion_model(model, openai_hosted=openai) is expected


def test_cooldowns_are_per_guild_and_member(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("bot.cooldowns.time.monotonic", lambda: now[0])
    cooldowns = Cooldowns()
    cooldowns.start(1, 10, 5.0)
    assert cooldowns.remaining(1, 10) == 5.0
    assert cooldowns.remaining(1, 11) == 0.0
    assert cooldowns.remaining(2, 10) == 0.0
    now[0] = 103.0
    assert cooldowns.remaining(1, 10) == 2.0
    now[0] = 106.0
    assert cooldowns.remaining(1, 10) == 0.0


@pytest.mark.parametrize(
    ("status", "code", "expired"),
    [(401, 50027, True), (404, 10015, True), (404, 10008, False), (500, 0, False)],
)
def test_expired_interaction_tokens_are_recognized(status: int, code: int, expired: bool) -> None:
    exc = SimpleNamespace(status=status, code=code)
    assert token_expired(exc) is expired  # type: ignore[arg-type]
