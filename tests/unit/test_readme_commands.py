"""README's two commands: one line each, a virtual environment in the checkout, and CI runs the test one.

On stock Debian/Ubuntu there is no `python` and the system pip refuses to install, so the commands
use `python3 -m venv .venv` and the environment's own interpreter.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN_COMMAND = "python3 -m venv .venv && .venv/bin/python -m pip install -e . && .venv/bin/python -m bot"
TEST_COMMAND = (
    "python3 -m venv .venv && .venv/bin/python -m pip install -e '.[test]' && .venv/bin/python -m pytest"
)


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)


@pytest.mark.parametrize("readme", ["README.md", "README.zh-CN.md"])
def test_readme_gives_the_two_commands_as_single_lines(readme: str) -> None:
    blocks = [block.strip() for block in _bash_blocks((REPO / readme).read_text(encoding="utf-8"))]
    assert blocks[:2] == [RUN_COMMAND, TEST_COMMAND]


@pytest.mark.parametrize("command", [RUN_COMMAND, TEST_COMMAND])
def test_commands_use_no_bare_python_and_no_system_pip(command: str) -> None:
    steps = [step.split() for step in command.split(" && ")]
    assert steps[0] == ["python3", "-m", "venv", ".venv"]
    # Everything after runs the environment's interpreter: never `python`, `pip` or the system pip.
    assert [step[0] for step in steps[1:]] == [".venv/bin/python", ".venv/bin/python"]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line for line in ci.splitlines() if line and not line.lstrip().startswith("#")]
    assert TEST_COMMAND in commands
    assert ci.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in ci


def test_build_and_extra_venvs_are_ignored() -> None:
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "build/" in ignored and ".venv/" in ignored and ".venv-*/" in ignored
