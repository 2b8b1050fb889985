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
    # Never the internet: Discord and the API default to a closed loopback port unless a test says.
    clean["DISCORD_API_BASE"] = "http://127.0.0.1:9/api/v10"
    clean["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"
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


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "DATABASE_PATH must not be empty"),
        ("/proc/x/bot.db", "DATABASE_PATH its folder /proc/x cannot be created"),
        ("/proc/bot.db", "DATABASE_PATH its folder /proc is not writable"),
        ("{tmp}", "DATABASE_PATH {tmp} is a folder"),
        ("{tmp}/file.txt/bot.db", "is not a folder, so"),
    ],
)
def test_unusable_database_path_is_rejected_when_settings_load(
    tmp_path: Path, value: str, expected: str
) -> None:
    (tmp_path / "file.txt").write_text("x", "utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(None, discord_token="a", openai_api_key="b", database_path=value.format(tmp=tmp_path))
    assert [p for p in caught.value.problems if expected.format(tmp=tmp_path) in p], caught.value.problems


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_database_in_an_unwritable_folder_is_rejected(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(SettingsError) as caught:
        load_settings(None, discord_token="a", openai_api_key="b", database_path=locked / "bot.db")
    assert (
        "DATABASE_PATH its folder" in caught.value.problems[0] and "not writable" in caught.value.problems[0]
    )


def test_a_new_database_in_new_folders_is_accepted_without_creating_them(tmp_path: Path) -> None:
    settings = load_settings(
        None, discord_token="a", openai_api_key="b", database_path=tmp_path / "a" / "b.db"
    )
    assert settings.database_path == tmp_path / "a" / "b.db"
    assert list(tmp_path.iterdir()) == []


def test_every_start_up_settings_problem_in_one_message_exit_2(tmp_path: Path) -> None:
    result = run_bot(
        tmp_path,
        {
            "DISCORD_TOKEN": "secret-discord-token",
            "OPENAI_API_KEY": "sk-secret-value-123",
            "OPENAI_BASE_URL": "http://someone:hunter2pw@example.test/v1",
            "DATABASE_PATH": str(tmp_path),
            "COMPLETION_MODEL": "",
            "REQUEST_TIMEOUT": "nan",
        },
    )
    assert result.returncode == 2, result.stderr
    err = result.stderr
    assert "OPENAI_BASE_URL must not contain a user name or password" in err
    assert "DATABASE_PATH" in err and "is a folder" in err
    assert "COMPLETION_MODEL must name a model" in err
    assert "REQUEST_TIMEOUT must be a number" in err
    assert "Traceback" not in err + result.stdout
    for secret in ("hunter2pw", "someone", "secret-discord-token", "sk-secret-value-123"):
        assert secret not in err + result.stdout


def test_typo_of_a_required_key_is_named_with_the_missing_setting(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DISCORD_TOKN=abc\nOPENAI_API_KEY=sk-x\n", "utf-8")
    result = run_bot(tmp_path, {"DATABASE_PATH": str(tmp_path / "bot.db")})
    assert result.returncode == 2
    problem = next(line for line in result.stderr.splitlines() if "DISCORD_TOKEN" in line)
    assert "DISCORD_TOKEN is not set" in problem
    assert "DISCORD_TOKN in .env looks like a typo of DISCORD_TOKEN" in problem
    assert "abc" not in result.stderr


def test_env_file_that_is_not_utf8_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"DISCORD_TOKEN=abc\n# caf\xe9 in Latin-1\nOPENAI_API_KEY=sk-x\n")
    result = run_bot(tmp_path, {})
    assert result.returncode == 2
    assert ".env line 2 is not UTF-8 text" in result.stderr
    assert "Traceback" not in result.stderr


def test_utf8_bom_in_env_file_is_accepted_silently(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_bytes("DISCORD_TOKEN=abc\nOPENAI_API_KEY=sk-x\n".encode("utf-8-sig"))
    assert load_settings(env_file).discord_token.get_secret_value() == "abc"
    assert unknown_env_file_keys(env_file) == []


def test_missing_env_file_option_says_so_exit_2(tmp_path: Path) -> None:
    result = run_bot(
        tmp_path, {"DISCORD_TOKEN": "a", "OPENAI_API_KEY": "b"}, "check", "--env-file", "prod.env"
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "--env-file prod.env: no such file"


def test_discord_api_base_default_and_override() -> None:
    assert load_settings(None, discord_token="a", openai_api_key="b").discord_api_url == (
        "https://discord.com/api/v10"
    )
    settings = load_settings(
        None, discord_token="a", openai_api_key="b", discord_api_base="http://127.0.0.1:9/api/v10/"
    )
    assert settings.discord_api_url == "http://127.0.0.1:9/api/v10"
