"""Fixtures for system tests: the real `python -m bot` process against stubs on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.discord_stub import DiscordStub

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def discord_stub() -> Iterator[DiscordStub]:
    with DiscordStub.threaded() as stub:
        yield stub


def bot_env(env: dict[str, str]) -> dict[str, str]:
    """A clean environment for `python -m bot`: nothing from the developer's shell leaks in."""
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    clean["PYTHONPATH"] = str(REPO)
    # Never the internet: Discord and the API default to a closed loopback port unless a test says.
    clean["DISCORD_API_BASE"] = "http://127.0.0.1:9/api/v10"
    clean["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"
    clean.update(env)
    return clean


def start_bot(cwd: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=bot_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
