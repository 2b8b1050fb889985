"""Settings: readable errors with exit code 2, unknown .env keys warned, README table kept true."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings, settings_table, unknown_env_file_keys

REPO = Path(__file__).resolve().parents[2]


def run_bot(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot` in a clean environment, from an empty folder (so no stray .env is read)."""
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    clean["PYTHONPATH"] = str(REPO)
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_token_names_the_variable_and_exits_2(tmp_path: Path) -> None:
    result = run_bot(tmp_path, {"OPENAI_API_KEY": "sk-test"})
    assert result.returncode == 2
    assert "DISCORD_TOKEN is not set" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_bad_url_and_bad_number_are_both_reported(tmp_path: Path) -> None:
    result = run_bot(
        tmp_path,
        {
            "DISCORD_TOKEN": "secret-discord-token",
            "OPENAI_API_KEY": "sk-secret-value-123",
            "OPENAI_BASE_URL": "not a url",
            "MAX_RETRIES": "many",
        },
        "check",
    )
    assert result.returncode == 2
    assert "OPENAI_BASE_URL is not a valid URL" in result.stderr
    assert "MAX_RETRIES must be a whole number" in result.stderr
    assert "Traceback" not in result.stderr
    # The message names variables, never their values.
    assert "sk-secret-value-123" not in result.stderr
    assert "secret-discord-token" not in result.stderr


def test_settings_error_lists_each_problem() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(None, discord_token="", openai_api_key="k", request_timeout=0)
    assert [p.split()[0] for p in caught.value.problems] == ["DISCORD_TOKEN", "REQUEST_TIMEOUT"]
    assert "must not be empty" in caught.value.problems[0]
    assert "greater than 0" in caught.value.problems[1]


def test_env_file_values_and_blank_optionals(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "DISCORD_TOKEN=abc\nOPENAI_API_KEY=def\nDEV_GUILD_ID=\nLOG_LEVEL=debug\n"
        "DATABASE_PATH=x/y.db\nOPENAI_BASE_URL=http://localhost:11434/v1/\n",
        encoding="utf-8",
    )
    settings = load_settings(env_file)
    assert settings.dev_guild_id is None
    assert settings.log_level == "DEBUG"
    assert settings.database_path == Path("x/y.db")
    assert settings.base_url == "http://localhost:11434/v1"


def test_unknown_env_keys_are_found(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nDISCORD_TOKEN=a\nOPENAI_APIKEY=typo\nexport LOG_LEVLE=INFO\n", "utf-8")
    assert unknown_env_file_keys(env_file) == ["OPENAI_APIKEY", "LOG_LEVLE"]


def test_unknown_env_key_is_warned_at_start(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "DISCORD_TOKEN=a\nOPENAI_API_KEY=sk-x\nOPENAI_BASE_URL=http://127.0.0.1:9/v1\nOPENAI_APIKEY=typo\n",
        "utf-8",
    )
    result = run_bot(tmp_path, {"DATABASE_PATH": str(tmp_path / "bot.db")}, "check")
    assert "OPENAI_APIKEY in .env is not a setting of this bot (a typo?); it is ignored" in result.stderr
    assert result.returncode == 1  # nothing listens on port 9: the API check fails, the rest runs


@pytest.mark.parametrize("readme", ["README.md", "README.zh-CN.md"])
def test_readme_configuration_table_lists_every_setting(readme: str) -> None:
    text = (REPO / readme).read_text(encoding="utf-8")
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    for name, default, _meaning in settings_table():
        assert f"| `{name}` |" in text, f"{name} missing from {readme}"
        assert f"\n{name}=" in example, f"{name} missing from .env.example"
        if default and default != "required":
            assert f"`{default}`" in text, f"default of {name} in {readme}"
