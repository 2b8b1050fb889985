"""`python -m bot check` against the fake server: all ok with the right key, a clear failure without."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.unit.test_settings import run_bot


def _env(fake: Any, tmp_path: Path, key: str) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": "not-used-by-check",
        "OPENAI_API_KEY": key,
        "OPENAI_BASE_URL": fake.base_url,
        "DATABASE_PATH": str(tmp_path / "nested" / "bot.db"),
    }


def test_check_passes_against_the_fake_server(fake_openai_threaded: Any, tmp_path: Path) -> None:
    result = run_bot(tmp_path, _env(fake_openai_threaded, tmp_path, fake_openai_threaded.api_key), "check")
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(line.startswith("ok") for line in lines), lines
    names = [line.split(":")[0].split(None, 1)[1] for line in lines]
    assert names[:4] == ["settings", "database", "pricing", "api"]
    assert "model for write" in names and "model for moderation" in names
    assert (tmp_path / "nested" / "bot.db").is_file()
    assert any(r.path == "/v1/models" for r in fake_openai_threaded.requests)


def test_check_with_a_bad_key_fails_and_says_why(fake_openai_threaded: Any, tmp_path: Path) -> None:
    result = run_bot(tmp_path, _env(fake_openai_threaded, tmp_path, "sk-wrong-key-123456"), "check")
    assert result.returncode == 1
    api_line = next(line for line in result.stdout.splitlines() if " api:" in line)
    assert api_line.startswith("FAILED")
    assert "AuthenticationError" in api_line
    assert "sk-wrong-key-123456" not in result.stdout + result.stderr
    assert "database" in result.stdout and "ok     database:" in result.stdout


def test_check_reports_a_missing_model(fake_openai_threaded: Any, tmp_path: Path) -> None:
    env = _env(fake_openai_threaded, tmp_path, fake_openai_threaded.api_key)
    env["COMPLETION_MODEL"] = "no-such-model"
    result = run_bot(tmp_path, env, "check")
    assert result.returncode == 1
    assert "FAILED model for write: no-such-model is not offered by" in result.stdout
