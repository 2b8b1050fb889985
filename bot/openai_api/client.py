"""OpenAIClient: wires the transport to one attribute per endpoint family.
Built once by the bot's setup_hook from settings; closes the HTTP session only if it created it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import aiohttp

from bot.openai_api.audio import Audio
from bot.openai_api.chat import Chat
from bot.openai_api.completions import Completions
from bot.openai_api.embeddings import Embeddings
from bot.openai_api.files import Files
from bot.openai_api.fine_tuning import FineTuning
from bot.openai_api.images import Images
from bot.openai_api.models import Models
from bot.openai_api.moderations import Moderations
from bot.openai_api.transport import DEFAULT_BASE_URL, Sleep, Transport


class OpenAIClient:
    """Async client for the OpenAI API or a compatible server.

    `sleep` replaces asyncio.sleep between retries (tests pass a recorder so they do not wait).
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        organization: str | None = None,
        project: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        max_retry_wait: float = 60.0,
        session: aiohttp.ClientSession | None = None,
        *,
        sleep: Sleep | None = None,
    ) -> None:
        self._transport = Transport(
            api_key=api_key,
            base_url=base_url,
            organization=organization,
            project=project,
            timeout=timeout,
            max_retries=max_retries,
            max_retry_wait=max_retry_wait,
            session=session,
            sleep=sleep,
        )
        self.completions = Completions(self._transport)
        self.chat = Chat(self._transport)
        self.images = Images(self._transport)
        self.audio = Audio(self._transport)
        self.embeddings = Embeddings(self._transport)
        self.moderations = Moderations(self._transport)
        self.files = Files(self._transport)
        self.fine_tuning = FineTuning(self._transport)
        self.models = Models(self._transport)

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def transport(self) -> Transport:
        return self._transport

    @property
    def closed(self) -> bool:
        return self._transport.closed

    def __repr__(self) -> str:
        return f"OpenAIClient(base_url={self.base_url!r})"

    async def close(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
