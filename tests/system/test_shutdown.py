"""SIGTERM (as `docker stop` sends it) or Ctrl-C to a running `python -m bot` ends it cleanly within 10 s.

The bot runs as a real process against a stub Discord and the fake OpenAI server, both on
loopback; a member's /write answer is still streaming when the signal arrives.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.discord_stub import MEMBER_ID, STUB_TOKEN, DiscordStub
from tests.system.conftest import start_bot

pytestmark = pytest.mark.slow


def _wait_for(condition: Any, timeout: float, what: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"the bot exited ({proc.returncode}) while waiting for {what}:\n{out}")
        time.sleep(0.05)
    proc.kill()
    out = proc.communicate(timeout=10)[0]
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; the bot said:\n{out}")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_stop_signal_finishes_the_running_answer_records_usage_and_exits_0(
    tmp_path: Path, discord_stub: DiscordStub, fake_openai_threaded: Any, stop_signal: signal.Signals
) -> None:
    fake_openai_threaded.stream_delay = 0.2  # 200 words take 40 s: still streaming at SIGTERM
    db_path = tmp_path / "bot.db"
    env = {
        "DISCORD_TOKEN": STUB_TOKEN,
        "DISCORD_API_BASE": discord_stub.base_url,
        "OPENAI_API_KEY": fake_openai_threaded.api_key,
        "OPENAI_BASE_URL": fake_openai_threaded.base_url,
        "DATABASE_PATH": str(db_path),
        "LOG_LEVEL": "INFO",
    }
    proc = start_bot(tmp_path, env)
    try:
        _wait_for(discord_stub.ready.is_set, 30, "the bot to identify on the gateway", proc)
        # The command tree is synced in setup_hook, before the gateway connects.
        assert any(r.method == "PUT" and r.path.endswith("/commands") for r in discord_stub.requests)
        interaction = discord_stub.slash_command("write", {"prompt": "[[words:200]] tell a story"})
        discord_stub.dispatch_threaded("INTERACTION_CREATE", interaction)

        def streaming() -> bool:
            return any(r.path == "/v1/completions" for r in fake_openai_threaded.requests) and any(
                r.method == "PATCH" and r.path.startswith("/webhooks/") for r in discord_stub.requests
            )

        _wait_for(streaming, 20, "the answer to start streaming into Discord", proc)
        started = time.monotonic()
        proc.send_signal(stop_signal)
        try:
            out, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the bot was still running 15 s after {stop_signal.name}")
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    assert proc.returncode == 0, out
    assert elapsed < 10, f"shutdown took {elapsed:.1f} s"
    assert "Traceback" not in out, out
    assert f"{stop_signal.name} received" in out
    # Voice is never used: discord.py's warnings about its libraries are silenced.
    assert "PyNaCl" not in out and "davey" not in out
    # The answer's last edit says it ended early, and what it used is in the ledger.
    edits = [r for r in discord_stub.requests if r.method == "PATCH" and r.path.startswith("/webhooks/")]
    assert edits, "no edit of the answer"
    final = edits[-1].body["content"]
    # The write feature ends answers on shutdown the way its Stop button does (cogs/write cog_unload).
    assert "Interrupted: the bot was shutting down" in final, final
    assert "gpt-3.5-turbo-instruct" in final and "tokens" in final, final
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT feature, model, user_id, output_tokens FROM usage_events").fetchall()
        # The database was closed cleanly: WAL checkpointed and removed on the last close.
        assert not Path(f"{db_path}-wal").exists() or Path(f"{db_path}-wal").stat().st_size == 0
    assert len(rows) == 1, rows
    feature, model, user_id, output_tokens = rows[0]
    assert feature == "write" and model == "gpt-3.5-turbo-instruct"
    assert user_id == MEMBER_ID
    assert 0 < output_tokens < 200
