"""A stub Discord on loopback for tests that run the real `python -m bot` process (aiohttp).

Owns REST under `base_url` (what DISCORD_API_BASE points at: /users/@me, /applications/@me,
/gateway/bot, command sync, interaction callbacks and webhook messages) and a gateway websocket
(HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeat ACK, dispatches a test asks for). It records
every REST request. Standalone: `python -m tests.fakes.discord_stub --port 8788`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

STUB_TOKEN = "stub.discord.token"
APPLICATION_ID = 1_100_000_000_000_000_001
BOT_USER_ID = APPLICATION_ID
GUILD_ID = 1_100_000_000_000_000_100
CHANNEL_ID = 1_100_000_000_000_000_200
MEMBER_ID = 1_100_000_000_000_000_300
#: Every permission, so no feature refuses for want of one.
ALL_PERMISSIONS = str((1 << 53) - 1)
MESSAGE_CONTENT_FLAG = 1 << 18


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py parses a body as JSON only when Content-Type is exactly application/json.
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"}
    )


@dataclass(frozen=True)
class StubRequest:
    method: str
    path: str  # below base_url, e.g. "/users/@me"
    body: Any


def _user(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "flags": 0,
    }


BOT_USER = _user(BOT_USER_ID, "stub-bot", bot=True)
MEMBER_USER = _user(MEMBER_ID, "stub-member")


def _guild() -> dict[str, Any]:
    return {
        "id": str(GUILD_ID),
        "name": "Stub Guild",
        "icon": None,
        "owner_id": str(MEMBER_ID),
        "unavailable": False,
        "member_count": 2,
        "large": False,
        "features": [],
        "roles": [
            {
                "id": str(GUILD_ID),
                "name": "@everyone",
                "permissions": ALL_PERMISSIONS,
                "position": 0,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
                "flags": 0,
            }
        ],
        "channels": [
            {
                "id": str(CHANNEL_ID),
                "type": 0,
                "name": "general",
                "position": 0,
                "permission_overwrites": [],
                "guild_id": str(GUILD_ID),
                "nsfw": False,
                "parent_id": None,
                "topic": None,
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "flags": 0,
            }
        ],
        "members": [
            {
                "user": BOT_USER,
                "roles": [],
                "joined_at": "2024-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
                "flags": 0,
            }
        ],
        "threads": [],
        "emojis": [],
        "stickers": [],
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "joined_at": "2024-01-01T00:00:00+00:00",
        "preferred_locale": "en-US",
        "premium_tier": 0,
        "system_channel_flags": 0,
        "nsfw_level": 0,
        "mfa_level": 0,
        "verification_level": 0,
        "explicit_content_filter": 0,
        "default_message_notifications": 0,
        "afk_timeout": 300,
    }


@dataclass
class DiscordStub:
    """The stub; `application_flags` is what GET /applications/@me reports (intents in the portal)."""

    token: str = STUB_TOKEN
    application_flags: int = MESSAGE_CONTENT_FLAG
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[StubRequest] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    _counter: itertools.count[int] = field(default_factory=itertools.count)
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    def snowflake(self) -> int:
        """A new id dated now: discord.py reads an interaction's age (3 s, 15 min) from its id."""
        ms = int(time.time() * 1000) - 1_420_070_400_000
        return (ms << 22) | (next(self._counter) & 0x3FFFFF)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None and getattr(server, "sockets", None)
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @classmethod
    @contextlib.contextmanager
    def threaded(cls, **kwargs: Any) -> Iterator[DiscordStub]:
        """A stub serving from its own thread for the duration of the block."""
        stub = cls(**kwargs)
        stub.start_threaded()
        try:
            yield stub
        finally:
            stub.stop_threaded()

    def start_threaded(self) -> None:
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.run_until_complete(self.start())
            started.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="discord-stub", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the Discord stub did not start")

    def stop_threaded(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def dispatch_threaded(self, event: str, data: dict[str, Any]) -> None:
        """Send a gateway dispatch to every connected bot, from the test's thread."""
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self.dispatch(event, data), self._loop).result(10)

    # -- payloads a test sends ------------------------------------------------------------------

    def slash_command(self, name: str, options: dict[str, Any]) -> dict[str, Any]:
        """An INTERACTION_CREATE payload: a member runs /name in the stub guild's channel."""
        return {
            "id": str(self.snowflake()),
            "application_id": str(APPLICATION_ID),
            "type": 2,
            "token": f"interaction-token-{self.snowflake()}",
            "version": 1,
            "data": {
                "id": str(self.snowflake()),
                "name": name,
                "type": 1,
                "options": [{"name": k, "type": 3, "value": v} for k, v in options.items()],
            },
            "guild_id": str(GUILD_ID),
            "channel_id": str(CHANNEL_ID),
            "channel": {
                "id": str(CHANNEL_ID),
                "type": 0,
                "guild_id": str(GUILD_ID),
                "name": "general",
                "permissions": ALL_PERMISSIONS,
                "flags": 0,
            },
            "member": {
                "user": MEMBER_USER,
                "roles": [],
                "joined_at": "2024-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
                "permissions": ALL_PERMISSIONS,
                "flags": 0,
            },
            "locale": "en-US",
            "guild_locale": "en-US",
            "app_permissions": ALL_PERMISSIONS,
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(GUILD_ID)},
            "context": 0,
            "attachment_size_limit": 26214400,
        }

    # -- gateway --------------------------------------------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        for ws in list(self._sockets):
            await ws.send_str(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        # Uncompressed text frames: discord.py decompresses only binary frames.
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            payload = json.loads(message.data)
            op = payload.get("op")
            if op == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif op in (2, 6):  # IDENTIFY, or RESUME (answered as a new session)
                self._sockets.append(ws)
                await self.dispatch(
                    "READY",
                    {
                        "v": 10,
                        "user": BOT_USER,
                        "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
                        "session_id": "stub-session",
                        "resume_gateway_url": self.gateway_url,
                        "shard": [0, 1],
                        "application": {"id": str(APPLICATION_ID), "flags": self.application_flags},
                        "private_channels": [],
                        "relationships": [],
                    },
                )
                await self.dispatch("GUILD_CREATE", _guild())
                self.ready.set()
        with contextlib.suppress(ValueError):
            self._sockets.remove(ws)
        return ws

    # -- REST -----------------------------------------------------------------------------------

    def _message(
        self, body: Any, channel_id: int = CHANNEL_ID, message_id: int | None = None
    ) -> dict[str, Any]:
        fields = body if isinstance(body, dict) else {}
        return {
            "id": str(message_id or self.snowflake()),
            "channel_id": str(channel_id),
            "guild_id": str(GUILD_ID),
            "type": 20,
            "content": fields.get("content") or "",
            "author": BOT_USER,
            "attachments": [],
            "embeds": fields.get("embeds") or [],
            "components": fields.get("components") or [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": "2024-01-01T00:00:00+00:00",
            "edited_timestamp": None,
            "flags": fields.get("flags") or 0,
            "application_id": str(APPLICATION_ID),
            "webhook_id": str(APPLICATION_ID),
        }

    async def _body(self, request: web.Request) -> Any:
        if not request.can_read_body:
            return None
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            raw = form.get("payload_json")
            return json.loads(str(raw)) if raw is not None else None
        try:
            return await request.json()
        except ValueError:
            return None

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body = await self._body(request)
        self.requests.append(StubRequest(request.method, path, body))
        parts = path.strip("/").split("/")
        method = request.method
        # Interaction callbacks and webhook messages carry their own token instead of the bot's.
        if parts[0] == "interactions" and method == "POST":
            callback = body if isinstance(body, dict) else {}
            result: dict[str, Any] = {"interaction": {"id": parts[1], "type": 2}}
            if callback.get("type") in (4, 7):
                result["resource"] = {
                    "type": callback["type"],
                    "message": self._message(callback.get("data")),
                }
            return _json(result)
        if parts[0] == "webhooks":
            if len(parts) == 3 and method == "POST":
                return _json(self._message(body))
            if len(parts) == 5 and parts[3] == "messages":
                if method == "DELETE":
                    return web.Response(status=204)
                message_id = None if parts[4] == "@original" else int(parts[4])
                return _json(self._message(body, message_id=message_id))
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        if path == "/users/@me" and method == "GET":
            return _json(BOT_USER)
        if path in ("/applications/@me", "/oauth2/applications/@me") and method == "GET":
            return _json(
                {
                    "id": str(APPLICATION_ID),
                    "name": "stub-app",
                    "icon": None,
                    "description": "",
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "verify_key": "0" * 64,
                    "flags": self.application_flags,
                    "owner": MEMBER_USER,
                    "team": None,
                    "summary": "",
                    "rpc_origins": [],
                }
            )
        if path == "/gateway/bot" and method == "GET":
            return _json(
                {
                    "url": self.gateway_url,
                    "shards": 1,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 999,
                        "reset_after": 0,
                        "max_concurrency": 1,
                    },
                }
            )
        if parts[0] == "applications" and parts[-1] == "commands":
            if method == "PUT":
                commands = body if isinstance(body, list) else []
                return _json(
                    [
                        {
                            # Discord answers context menus (sent without one) with an empty description.
                            "description": "",
                            **c,
                            "id": str(self.snowflake()),
                            "application_id": str(APPLICATION_ID),
                            "version": "1",
                        }
                        for c in commands
                    ]
                )
            return _json([])
        if parts[0] == "channels" and len(parts) >= 3 and parts[2] == "messages":
            if method == "POST":
                return _json(self._message(body, channel_id=int(parts[1])))
            if method == "PATCH" and len(parts) == 4:
                return _json(self._message(body, channel_id=int(parts[1]), message_id=int(parts[3])))
            if method == "DELETE":
                return web.Response(status=204)
        return _json({"message": f"404: Not Found ({method} {path})", "code": 0}, status=404)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Stub Discord (REST + gateway) on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8788)
    parser.add_argument("--token", default=STUB_TOKEN)
    parser.add_argument("--application-flags", type=int, default=MESSAGE_CONTENT_FLAG)
    args = parser.parse_args(argv)
    stub = DiscordStub(
        token=args.token, application_flags=args.application_flags, host=args.host, port=args.port
    )

    async def serve() -> None:
        await stub.start()
        print(f"Stub Discord listening: DISCORD_API_BASE={stub.base_url}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await stub.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
