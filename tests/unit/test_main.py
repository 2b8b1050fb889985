"""`python -m bot` start-up failures: a refused token or a missing intent says what to do, exit 1."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import discord
import pytest

from bot import __main__ as entry
from bot.app import OpenAIBot


def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISCORD_TOKEN", "bad-discord-token-value")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "bot.db"))


@pytest.mark.parametrize(
    ("error", "advice"),
    [
        (discord.LoginFailure("Improper token has been passed."), "press 'Reset Token'"),
        (discord.PrivilegedIntentsRequired(shard_id=None), "turn on 'Message Content Intent'"),
    ],
)
def test_start_failures_explain_the_developer_portal_step(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    error: Exception,
    advice: str,
) -> None:
    _env(monkeypatch, tmp_path)

    async def refuse(self: OpenAIBot, token: str, *, reconnect: bool = True) -> None:
        raise error

    monkeypatch.setattr(OpenAIBot, "start", refuse)
    # configure_logging replaces the root handlers; keep pytest's capture handler in place.
    monkeypatch.setattr("bot.logging_setup.configure_logging", lambda *a, **k: None)
    with caplog.at_level(logging.INFO):
        assert entry.main([]) == 1
    text = caplog.text
    assert advice in text
    assert "bad-discord-token-value" not in text


def test_check_is_routed_to_the_doctor(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _env(monkeypatch, tmp_path)
    seen: list[Any] = []

    async def fake_checks(settings: Any, *, strict: bool) -> int:
        seen.append((settings, strict))
        return 7

    monkeypatch.setattr("bot.doctor.run_checks", fake_checks)
    monkeypatch.setattr("bot.logging_setup.configure_logging", lambda *a, **k: None)
    assert entry.main(["check"]) == 7
    assert entry.main(["check", "--strict"]) == 7
    assert [(s.database_path, strict) for s, strict in seen] == [
        (tmp_path / "bot.db", False),
        (tmp_path / "bot.db", True),
    ]
