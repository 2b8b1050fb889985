"""Builds the OpenAI client from settings, the one place that maps settings to client options.

The bot (`app.py`) and the doctor (`doctor.py`) both call it, so they reach the API the same way.
"""

from __future__ import annotations

import aiohttp

from bot.openai_api import OpenAIClient
from bot.settings import Settings


def build_api_client(
    settings: Settings,
    *,
    session: aiohttp.ClientSession | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
) -> OpenAIClient:
    """`timeout` and `max_retries` default to the settings; a client given no session owns its own."""
    return OpenAIClient(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.base_url,
        organization=settings.openai_organization,
        project=settings.openai_project,
        timeout=settings.request_timeout if timeout is None else timeout,
        max_retries=settings.max_retries if max_retries is None else max_retries,
        session=session,
    )
