"""`python -m bot check`: one line per check whatever the servers answer, each failure saying what to do.

Discord is the stub on loopback (tests/fakes/discord_stub.py), the API the fake OpenAI server or a
small aiohttp app that answers the way misconfigured servers do.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot import doctor
from bot.doctor import run_checks
from bot.features import Feature, FeatureRegistry
from bot.settings import Settings, load_settings
from cogs.write.feature import FEATURE as WRITE_FEATURE
from tests.fakes.catalog import ModelInfo
from tests.fakes.discord_stub import STUB_TOKEN, DiscordStub
from tests.fakes.openai_server import FakeOpenAI
from tests.unit.test_settings import run_bot

HTML_404 = """<!DOCTYPE html>
<html>
<head>
  <title>404 Not Found</title>
</head>
<body>
  <h1>Not Found</h1>
  <p>The requested URL was not found on this server.</p>
  <hr>
  <address>Apache Server</address>
</body>
</html>
"""


@pytest.fixture
def discord_stub() -> Iterator[DiscordStub]:
    with DiscordStub.threaded() as stub:
        yield stub


def _env(fake: Any, stub: DiscordStub, tmp_path: Path, key: str) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": STUB_TOKEN,
        "DISCORD_API_BASE": stub.base_url,
        "OPENAI_API_KEY": key,
        "OPENAI_BASE_URL": fake.base_url,
        "DATABASE_PATH": str(tmp_path / "nested" / "bot.db"),
    }


def _settings(tmp_path: Path, stub: DiscordStub, base_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "discord_token": STUB_TOKEN,
        "discord_api_base": stub.base_url,
        "openai_api_key": "sk-doctor-test-key",
        "openai_base_url": base_url,
        "database_path": tmp_path / "bot.db",
    }
    values.update(overrides)
    return load_settings(None, **values)


async def _check(settings: Settings, registry: FeatureRegistry, strict: bool = False) -> tuple[int, str, str]:
    out, progress = io.StringIO(), io.StringIO()
    code = await run_checks(settings, out, strict=strict, registry=registry, progress=progress)
    return code, out.getvalue(), progress.getvalue()


def _registry(*features: Feature) -> FeatureRegistry:
    registry = FeatureRegistry()
    for feature in features:
        registry.add(feature)
    return registry


def _line(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line.split(":")[0].split(None, 1)[1] == name)


@pytest.fixture
async def odd_api() -> AsyncIterator[str]:
    """A server that is no OpenAI API: HTML 404 for unknown paths, HTML 200 on /html/models."""

    async def html_ok(request: web.Request) -> web.Response:
        return web.Response(text="<html><body>Welcome to my router</body></html>", content_type="text/html")

    async def not_found(request: web.Request) -> web.Response:
        return web.Response(text=HTML_404, status=404, content_type="text/html")

    app = web.Application()
    app.router.add_get("/html/models", html_ok)
    app.router.add_route("*", "/{tail:.*}", not_found)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def test_check_passes_against_the_stubs(
    fake_openai_threaded: Any, discord_stub: DiscordStub, tmp_path: Path
) -> None:
    result = run_bot(
        tmp_path, _env(fake_openai_threaded, discord_stub, tmp_path, fake_openai_threaded.api_key), "check"
    )
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(line.startswith("ok") for line in lines), lines
    names = [line.split(":")[0].split(None, 1)[1] for line in lines]
    assert names[:6] == ["settings", "database", "pricing", "discord", "intents", "api"]
    assert "logged in as stub-bot" in _line(result.stdout, "discord")
    assert (tmp_path / "nested" / "bot.db").is_file()
    assert any(r.path == "/v1/models" for r in fake_openai_threaded.requests)
    # The token was checked over REST only: /users/@me and /applications/@me, no gateway.
    assert [r.path for r in discord_stub.requests] == ["/users/@me", "/applications/@me"]
    assert not discord_stub.ready.is_set()
    # What each network check waits for goes to stderr, so stdout stays one line per check.
    assert f"waiting for GET {discord_stub.base_url}/users/@me (up to 5 s)" in result.stderr
    assert f"waiting for GET {fake_openai_threaded.base_url}/models (up to 5 s)" in result.stderr
    assert STUB_TOKEN not in result.stdout + result.stderr


def test_check_with_a_bad_key_fails_and_says_why(
    fake_openai_threaded: Any, discord_stub: DiscordStub, tmp_path: Path
) -> None:
    env = _env(fake_openai_threaded, discord_stub, tmp_path, "sk-wrong-key-123456")
    result = run_bot(tmp_path, env, "check")
    assert result.returncode == 1
    api_line = _line(result.stdout, "api")
    assert api_line.startswith("FAILED")
    assert "AuthenticationError" in api_line and "OPENAI_API_KEY" in api_line
    assert "sk-wrong-key-123456" not in result.stdout + result.stderr
    assert _line(result.stdout, "database").startswith("ok")


def test_readme_ollama_example_passes_check(discord_stub: DiscordStub, tmp_path: Path) -> None:
    # An Ollama-like server: one chat model, no image, audio, embedding or moderation models, any key.
    with FakeOpenAI.threaded(api_key=None) as ollama:
        for model in ollama.catalog.all():
            ollama.catalog.remove(model.id)
        ollama.catalog.add(ModelInfo("llama3.2", "chat"))
        env = {
            "DISCORD_TOKEN": STUB_TOKEN,
            "DISCORD_API_BASE": discord_stub.base_url,
            "DATABASE_PATH": str(tmp_path / "bot.db"),
            # README's example, with the fake standing in at Ollama's address.
            "OPENAI_BASE_URL": ollama.base_url,
            "OPENAI_API_KEY": "ollama",
            "COMPLETION_MODEL": "llama3.2",
        }
        result = run_bot(tmp_path, env, "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout
    assert "1 models available" in _line(result.stdout, "api")


async def test_missing_model_fails_only_its_feature_and_strict_turns_it_into_failure(
    fake_openai: Any, discord_stub: DiscordStub, tmp_path: Path
) -> None:
    settings = _settings(
        tmp_path,
        discord_stub,
        fake_openai.base_url,
        openai_api_key=fake_openai.api_key,
        completion_model="nope-1",
    )
    code, out, _ = await _check(settings, _registry(WRITE_FEATURE))
    assert code == 0, out
    line = _line(out, "model for write")
    assert line.startswith("WARN")
    assert "nope-1 is not offered by" in line and "the write feature will not work" in line
    assert "COMPLETION_MODEL" in line
    assert all(not other.startswith("FAILED") for other in out.splitlines())
    strict_code, strict_out, _ = await _check(settings, _registry(WRITE_FEATURE), strict=True)
    assert strict_code == 1 and _line(strict_out, "model for write").startswith("WARN")


async def test_models_of_features_off_by_default_are_not_checked(
    fake_openai: Any, discord_stub: DiscordStub, tmp_path: Path
) -> None:
    class OffByDefault(WRITE_FEATURE.settings):  # type: ignore[name-defined,misc]
        enabled: bool = False

    sleepy = Feature("sleepy", settings=OffByDefault, model_setting="image_model")
    settings = _settings(
        tmp_path, discord_stub, fake_openai.base_url, openai_api_key=fake_openai.api_key, image_model="nope"
    )
    code, out, _ = await _check(settings, _registry(WRITE_FEATURE, sleepy))
    assert code == 0, out
    assert "model for sleepy" not in out
    assert _line(out, "model for write").startswith("ok")


async def test_html_404_without_v1_is_one_line_suggesting_v1(
    odd_api: str, discord_stub: DiscordStub, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, discord_stub, odd_api)
    code, out, _ = await _check(settings, _registry(WRITE_FEATURE))
    assert code == 1
    api = _line(out, "api")
    assert api.startswith("FAILED")
    assert "this is not an OpenAI-compatible API" in api
    assert f"try OPENAI_BASE_URL={odd_api}/v1" in api
    assert "<html" not in out.lower()
    assert _line(out, "model for write").startswith("skip")
    # One line per check: settings, database, pricing, discord, intents, api, model for write.
    assert len(out.splitlines()) == 7, out


async def test_html_200_is_not_an_openai_compatible_api(
    odd_api: str, discord_stub: DiscordStub, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, discord_stub, f"{odd_api}/html")
    code, out, _ = await _check(settings, _registry())
    api = _line(out, "api")
    assert code == 1 and api.startswith("FAILED")
    assert "this is not an OpenAI-compatible API" in api and "OPENAI_BASE_URL" in api
    assert "<html" not in out.lower()


async def test_a_server_that_never_answers_times_out_in_5_seconds(
    discord_stub: DiscordStub, tmp_path: Path
) -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # accept, read nothing, answer nothing

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        settings = _settings(tmp_path, discord_stub, f"http://127.0.0.1:{port}/v1")
        started = time.monotonic()
        code, out, progress = await _check(settings, _registry(WRITE_FEATURE))
        elapsed = time.monotonic() - started
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    assert code == 1
    assert 4.5 < elapsed < 9, elapsed
    assert doctor.CHECK_TIMEOUT == 5.0
    api = _line(out, "api")
    assert api.startswith("FAILED") and "no answer from" in api and "within 5 s" in api
    assert f"api: waiting for GET http://127.0.0.1:{port}/v1/models (up to 5 s)" in progress


async def test_refused_discord_token_says_reset_token_and_skips_intents(
    fake_openai: Any, discord_stub: DiscordStub, tmp_path: Path
) -> None:
    settings = _settings(
        tmp_path,
        discord_stub,
        fake_openai.base_url,
        openai_api_key=fake_openai.api_key,
        discord_token="wrong.token",
    )
    code, out, _ = await _check(settings, _registry(WRITE_FEATURE))
    assert code == 1
    discord_line = _line(out, "discord")
    assert (
        discord_line.startswith("FAILED")
        and "Reset Token" in discord_line
        and "DISCORD_TOKEN" in discord_line
    )
    assert _line(out, "intents").startswith("skip")
    assert "wrong.token" not in out


async def test_message_content_intent_is_checked_for_features_that_need_it(
    fake_openai: Any, discord_stub: DiscordStub, tmp_path: Path
) -> None:
    reader = Feature("reader", intents=frozenset({"message_content"}))
    settings = _settings(tmp_path, discord_stub, fake_openai.base_url, openai_api_key=fake_openai.api_key)
    discord_stub.application_flags = 0
    code, out, _ = await _check(settings, _registry(WRITE_FEATURE, reader))
    # The bot starts without it and turns off only that feature: a warning, a failure under --strict.
    assert code == 0
    line = _line(out, "intents")
    assert line.startswith("WARN")
    assert "Message Content Intent is off and reader need it" in line and "Privileged Gateway Intents" in line
    assert "starts with those features off or reduced" in line
    code, _, _ = await _check(settings, _registry(WRITE_FEATURE, reader), strict=True)
    assert code == 1
    # A feature that only works better with it runs in a reduced mode: said, still a warning.
    chatty = Feature("chatty", optional_intents=frozenset({"message_content"}))
    code, out, _ = await _check(settings, _registry(WRITE_FEATURE, chatty))
    assert code == 0
    assert "Message Content Intent is off, so chatty run in a reduced mode" in _line(out, "intents")
    # Without a feature that needs it, the intent being off is fine.
    code, out, _ = await _check(settings, _registry(WRITE_FEATURE))
    assert code == 0, out
    assert "no loaded feature needs a privileged intent" in _line(out, "intents")
    discord_stub.application_flags = 1 << 19  # "limited" message content: unverified bots
    code, out, _ = await _check(settings, _registry(WRITE_FEATURE, reader))
    assert code == 0 and "Message Content Intent is on" in _line(out, "intents")


async def test_unreachable_discord_is_one_line_naming_discord_api_base(
    fake_openai: Any, tmp_path: Path
) -> None:
    stub = DiscordStub(port=9)  # nothing listens on loopback port 9
    settings = _settings(tmp_path, stub, fake_openai.base_url, openai_api_key=fake_openai.api_key)
    code, out, _ = await _check(settings, _registry(WRITE_FEATURE))
    assert code == 1
    line = _line(out, "discord")
    assert line.startswith("FAILED") and "could not be reached" in line and "DISCORD_API_BASE" in line


async def test_database_failure_names_database_path(
    fake_openai: Any, discord_stub: DiscordStub, tmp_path: Path
) -> None:
    not_sqlite = tmp_path / "bot.db"
    not_sqlite.write_bytes(b"this is a text file, not a database\n" * 100)
    settings = _settings(
        tmp_path,
        discord_stub,
        fake_openai.base_url,
        openai_api_key=fake_openai.api_key,
        database_path=not_sqlite,
    )
    code, out, _ = await _check(settings, _registry())
    assert code == 1
    line = _line(out, "database")
    assert line.startswith("FAILED") and "DATABASE_PATH" in line and str(not_sqlite) in line


async def test_a_default_model_without_a_price_is_a_warning_on_openai(
    fake_openai: Any, discord_stub: DiscordStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unpriced = Feature("poll", model_setting="completion_model")
    settings = _settings(
        tmp_path,
        discord_stub,
        fake_openai.base_url,
        openai_api_key=fake_openai.api_key,
        completion_model="m-x",
    )
    # A compatible server usually charges nothing per token: no warning there.
    code, out, _ = await _check(settings, _registry(unpriced))
    assert _line(out, "pricing").startswith("ok")
    # On OpenAI an unpriced model would be recorded at $0 and escape every budget.
    monkeypatch.setattr(Settings, "openai_hosted", property(lambda _self: True))
    code, out, _ = await _check(settings, _registry(unpriced))
    line = _line(out, "pricing")
    assert (
        line.startswith("WARN") and "no price for m-x (COMPLETION_MODEL)" in line and "PRICING_PATH" in line
    )
    code, _, _ = await _check(settings, _registry(unpriced), strict=True)
    assert code == 1
