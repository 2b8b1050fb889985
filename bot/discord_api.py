"""The Discord REST base URL (`DISCORD_API_BASE`) and the two token checks `check` makes with it.

The running bot and `python -m bot check` use the same base, so a REST proxy (or a test's stub
Discord on loopback) serves both; nothing here connects to the gateway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord
import yarl

# Application flags that mean the privileged intent is on (full, or "limited" for unverified bots
# in fewer than 100 servers); discord-api-docs `application.mdx`, Application Flags.
INTENT_FLAGS: dict[str, int] = {
    "presences": (1 << 12) | (1 << 13),
    "members": (1 << 14) | (1 << 15),
    "message_content": (1 << 18) | (1 << 19),
}
# How each privileged intent is labelled in the developer portal (Bot > Privileged Gateway Intents).
INTENT_LABELS: dict[str, str] = {
    "presences": "Presence Intent",
    "members": "Server Members Intent",
    "message_content": "Message Content Intent",
}


DISCORD_API_BASE = "https://discord.com/api/v10"


def apply_discord_api_base(base_url: str) -> None:
    """Point discord.py's REST calls at `base_url`."""
    discord.http.Route.BASE = base_url.rstrip("/")


async def use_gateway_of(base_url: str, token: str) -> None:
    """Connect to the gateway the REST base names (GET /gateway/bot), not discord.py's fixed one.

    Only for a base other than Discord's own: a proxy or a test's stub serves its own gateway.
    A refused token raises discord.LoginFailure, as logging in would.
    """
    if base_url.rstrip("/") == DISCORD_API_BASE:
        return
    async with aiohttp.ClientSession() as session:
        try:
            data = await DiscordRest(session, base_url, token, timeout=30.0).get("/gateway/bot")
        except DiscordAnswerError as exc:
            if exc.status == 401:
                raise discord.LoginFailure("Improper token has been passed.") from None
            raise discord.GatewayNotFound() from None  # type: ignore[no-untyped-call]
    url = data.get("url")
    if not isinstance(url, str) or not url:
        raise discord.GatewayNotFound()  # type: ignore[no-untyped-call]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)


def silence_voice_warnings() -> None:
    """The bot never joins voice: drop discord.py's warnings about the missing voice libraries."""
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False


class DiscordAnswerError(Exception):
    """Discord (or the proxy at DISCORD_API_BASE) answered with an error or something not JSON."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class DiscordRest:
    """Bot-authenticated GETs under DISCORD_API_BASE; the token never appears in its errors."""

    session: aiohttp.ClientSession
    base_url: str
    token: str
    timeout: float = 5.0

    async def get(self, path: str) -> dict[str, Any]:
        async with self.session.get(
            self.base_url.rstrip("/") + path,
            headers={"Authorization": f"Bot {self.token}", "User-Agent": "discord-openai-bot check"},
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            allow_redirects=False,
        ) as resp:
            body = await resp.read()
            try:
                data = json.loads(body)
            except ValueError:
                data = None
            if resp.status >= 400:
                message = data.get("message") if isinstance(data, dict) else None
                raise DiscordAnswerError(resp.status, str(message or f"HTTP {resp.status}"))
            if not isinstance(data, dict):
                raise DiscordAnswerError(resp.status, "the answer is not JSON: this is not Discord's API")
            return data


def enabled_intents(application_flags: int) -> frozenset[str]:
    """The privileged intents the application's flags say are turned on in the portal."""
    return frozenset(name for name, bits in INTENT_FLAGS.items() if application_flags & bits)
