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


def test_unreachable_discord_is_one_message_exit_1(tmp_path: Path) -> None:
    from tests.unit.test_settings import run_bot

    env = {
        "DISCORD_TOKEN": "some-discord-token-value",
        "OPENAI_API_KEY": "sk-test-key",
        "DATABASE_PATH": str(tmp_path / "bot.db"),
        "DISCORD_API_BASE": "http://127.0.0.1:9/api/v10",  # nothing listens on port 9
    }
    result = run_bot(tmp_path, env)
    assert result.returncode == 1, result.stderr
    assert (
        "Discord could not be reached at http://127.0.0.1:9/api/v10: Cannot connect to host" in result.stderr
    )
    assert "Traceback" not in result.stderr + result.stdout
    assert "some-discord-token-value" not in result.stderr
    # Voice is never used: discord.py's warnings about its libraries are silenced.
    assert "PyNaCl" not in result.stderr and "davey" not in result.stderr


def test_unreachable_discord_during_discord_py_login_is_one_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The path the default DISCORD_API_BASE takes: discord.py's own login fails to connect.
    _env(monkeypatch, tmp_path)
    monkeypatch.setenv("DISCORD_API_BASE", "http://127.0.0.1:9/api/v10")
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)

    async def no_gateway_lookup(base_url: str, token: str) -> None:
        return None

    monkeypatch.setattr(entry, "use_gateway_of", no_gateway_lookup)
    monkeypatch.setattr("bot.logging_setup.configure_logging", lambda *a, **k: None)
    with caplog.at_level(logging.INFO):
        assert entry.main([]) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith(
        "Discord could not be reached at http://127.0.0.1:9/api/v10"
    )
    assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.ERROR)


def test_token_refused_by_the_stub_discord_says_reset_token(tmp_path: Path) -> None:
    from tests.fakes.discord_stub import DiscordStub
    from tests.unit.test_settings import run_bot

    with DiscordStub.threaded() as stub:
        env = {
            "DISCORD_TOKEN": "wrong-discord-token-value",
            "OPENAI_API_KEY": "sk-test-key",
            "DATABASE_PATH": str(tmp_path / "bot.db"),
            "DISCORD_API_BASE": stub.base_url,
        }
        result = run_bot(tmp_path, env)
    assert result.returncode == 1
    assert "press 'Reset Token'" in result.stderr
    assert "Traceback" not in result.stderr
    assert "wrong-discord-token-value" not in result.stderr
