"""Invalid-request counting and remembered 403s through discord.py's real HTTPClient.

A loopback aiohttp server plays Discord's REST API (discord.py's Route.BASE points at it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from discord.ext import commands
from discord.http import Route

from bot.discord_io import invalid_requests
from bot.discord_io.action_gate import REMEMBER_SECONDS, ActionGate, RememberedForbidden, action_of
from bot.discord_io.invalid_requests import InvalidRequestCounter
from bot.discord_io.limits import DiscordLimits

USER = {"id": "1", "username": "bot", "discriminator": "0", "avatar": None, "global_name": None, "bot": True}


class FakeDiscord:
    """Answers each request with the next scripted (status, headers, body) for its path."""

    def __init__(self) -> None:
        self.script: dict[str, list[tuple[int, dict[str, str], Any]]] = {}
        self.seen: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path.removeprefix("/api/v10")
        self.seen.append(f"{request.method} {path}")
        if path == "/users/@me":
            return as_discord(200, {}, USER)
        return as_discord(*self.script[path].pop(0))


def as_discord(status: int, headers: dict[str, str], body: Any) -> web.Response:
    # discord.py parses JSON only under exactly this content type (no charset), as Discord sends it.
    return web.Response(
        status=status, body=json.dumps(body).encode(), headers={"Content-Type": "application/json", **headers}
    )


@pytest.fixture
async def fake_discord(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    monkeypatch.setattr(Route, "BASE", f"http://127.0.0.1:{server.port}/api/v10")
    yield fake
    await server.close()


@pytest.fixture
async def bot(fake_discord: FakeDiscord) -> AsyncIterator[tuple[commands.Bot, DiscordLimits]]:
    limits = DiscordLimits(45)
    made = commands.Bot(command_prefix="!", intents=discord.Intents.none(), http_trace=limits.http_trace)
    await made.http.static_login("token")
    limits.install(made)
    yield made, limits
    await made.http.close()


def send(channel_id: int) -> Route:
    return Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)


MISSING_PERMISSIONS = (403, {}, {"message": "Missing Permissions", "code": 50013})
RATE_LIMITED = (429, {"Via": "1.1 google"}, {"message": "slow", "retry_after": 0.01, "global": False})


async def test_429s_discord_py_retries_by_itself_are_counted(
    fake_discord: FakeDiscord, bot: tuple[commands.Bot, DiscordLimits]
) -> None:
    client, limits = bot
    fake_discord.script["/channels/5/messages"] = [RATE_LIMITED, RATE_LIMITED, (200, {}, {"id": "9"})]

    result = await client.http.request(send(5), json={"content": "hi"})

    assert result == {"id": "9"}  # discord.py retried and succeeded; the caller saw no error
    assert limits.invalid_requests.count == 2


async def test_403_and_401_count_but_shared_429s_and_404s_do_not(
    fake_discord: FakeDiscord, bot: tuple[commands.Bot, DiscordLimits]
) -> None:
    client, limits = bot
    shared = (429, {"Via": "1.1 google", "X-RateLimit-Scope": "shared"}, RATE_LIMITED[2])
    fake_discord.script["/channels/5/messages"] = [shared, (200, {}, {"id": "9"})]
    fake_discord.script["/channels/6/messages"] = [(404, {}, {"message": "Unknown Channel", "code": 10003})]
    fake_discord.script["/guilds/7"] = [(401, {}, {"message": "401: Unauthorized", "code": 0})]
    fake_discord.script["/channels/8/messages"] = [(403, {}, {"message": "Missing Access", "code": 50001})]

    await client.http.request(send(5), json={"content": "hi"})
    with pytest.raises(discord.NotFound):
        await client.http.request(send(6), json={"content": "hi"})
    with pytest.raises(discord.HTTPException):
        await client.http.request(Route("GET", "/guilds/{guild_id}", guild_id=7))
    with pytest.raises(discord.Forbidden):
        await client.http.request(send(8), json={"content": "hi"})

    assert limits.invalid_requests.count == 2  # the 401 and the 403


async def test_a_refused_send_is_remembered_and_not_sent_again(
    fake_discord: FakeDiscord, bot: tuple[commands.Bot, DiscordLimits]
) -> None:
    client, limits = bot
    fake_discord.script["/channels/8/messages"] = [MISSING_PERMISSIONS]
    fake_discord.script["/channels/9/messages"] = [(200, {}, {"id": "1"})]

    with pytest.raises(discord.Forbidden):
        await client.http.request(send(8), json={"content": "hi"})
    with pytest.raises(RememberedForbidden):
        await client.http.request(send(8), json={"content": "again"})
    await client.http.request(send(9), json={"content": "elsewhere"})

    assert fake_discord.seen.count("POST /channels/8/messages") == 1
    assert fake_discord.seen.count("POST /channels/9/messages") == 1
    assert limits.invalid_requests.count == 1
    assert not limits.may(discord.Object(8), "send")
    assert limits.may(discord.Object(9), "send")


async def test_a_refused_timeout_is_remembered_for_that_member_only(
    fake_discord: FakeDiscord, bot: tuple[commands.Bot, DiscordLimits]
) -> None:
    client, _limits = bot
    member = "/guilds/{guild_id}/members/{user_id}"
    fake_discord.script["/guilds/3/members/4"] = [MISSING_PERMISSIONS]
    fake_discord.script["/guilds/3/members/5"] = [(200, {}, {})]
    timeout = {"communication_disabled_until": "2030-01-01T00:00:00+00:00"}

    with pytest.raises(discord.Forbidden):
        await client.http.request(Route("PATCH", member, guild_id=3, user_id=4), json=timeout)
    with pytest.raises(RememberedForbidden):
        await client.http.request(Route("PATCH", member, guild_id=3, user_id=4), json=timeout)
    await client.http.request(Route("PATCH", member, guild_id=3, user_id=5), json=timeout)

    assert fake_discord.seen.count("PATCH /guilds/3/members/4") == 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_warns_once_per_crossing_and_alarms_before_the_block(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    counter = InvalidRequestCounter(clock=clock)
    caplog.set_level(logging.WARNING, logger=invalid_requests.__name__)

    for _ in range(invalid_requests.WARN_AT - 1):
        counter.record(403)
    assert caplog.records == []
    counter.record(429)
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "1000 invalid Discord requests" in caplog.records[0].getMessage()
    assert "403: 999, 429: 1" in caplog.records[0].getMessage()

    for _ in range(invalid_requests.ALARM_AT - invalid_requests.WARN_AT):
        counter.record(403)
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.ERROR]

    # Ten minutes later the window is empty: the next crossing is reported again.
    clock.now += invalid_requests.WINDOW_SECONDS
    caplog.clear()
    for _ in range(invalid_requests.WARN_AT):
        counter.record(401)
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert counter.count == invalid_requests.WARN_AT


def test_a_remembered_refusal_fades_after_an_hour_and_with_its_guilds_permission_change() -> None:
    clock = FakeClock()
    gate = ActionGate(clock=clock)
    gate.remember("send", 10, guild_id=1, code=50013)
    gate.remember("send", 20, guild_id=2, code=50001)
    gate.remember("timeout", (1, 30), guild_id=1, code=50013)

    with pytest.raises(RememberedForbidden) as refused:
        gate.refuse_if_remembered("send", 20)
    assert refused.value.code == 50001 and refused.value.status == 403
    gate.refuse_if_remembered("edit", 20)  # another action in that channel is not refused

    gate.forget_member(1, 30)
    gate.refuse_if_remembered("timeout", (1, 30))
    gate.forget_guild(1)
    gate.refuse_if_remembered("send", 10)
    with pytest.raises(RememberedForbidden):
        gate.refuse_if_remembered("send", 20)  # guild 2 changed nothing

    clock.now += REMEMBER_SECONDS
    gate.refuse_if_remembered("send", 20)


@pytest.mark.parametrize(
    ("route", "payload", "expected"),
    [
        (Route("POST", "/channels/{channel_id}/messages", channel_id=5), {}, ("send", 5)),
        (
            Route("PATCH", "/channels/{channel_id}/messages/{message_id}", channel_id=5, message_id=6),
            {},
            ("edit", 5),
        ),
        (
            Route("DELETE", "/channels/{channel_id}/messages/{message_id}", channel_id=5, message_id=6),
            None,
            ("delete", 5),
        ),
        (Route("POST", "/channels/{channel_id}/messages/bulk-delete", channel_id=5), {}, ("delete", 5)),
        (
            Route("PATCH", "/guilds/{guild_id}/members/{user_id}", guild_id=3, user_id=4),
            {"communication_disabled_until": None},
            ("timeout", (3, 4)),
        ),
        (Route("PATCH", "/guilds/{guild_id}/members/{user_id}", guild_id=3, user_id=4), {"nick": "x"}, None),
        (Route("GET", "/channels/{channel_id}/messages", channel_id=5), None, None),
    ],
)
def test_which_rest_calls_are_gated(route: Route, payload: Any, expected: Any) -> None:
    assert action_of(route, payload) == expected
