"""Downloading the image URLs an image API returned (dall-e-style `url` responses).

Only http(s) URLs from the API's answer reach here, never one a member typed; the body is streamed
with a size cap and must be served as an image."""

from __future__ import annotations

import logging

import aiohttp
from yarl import URL

log = logging.getLogger(__name__)

DOWNLOAD_CAP = 50 * 1024 * 1024
DOWNLOAD_TIMEOUT = 60.0
_CHUNK = 256 * 1024


class DownloadError(Exception):
    """The URL did not give an image: `reason` is scheme, status, type, size or network."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


async def download_image(
    session: aiohttp.ClientSession, url: str, *, cap: int = DOWNLOAD_CAP, seconds: float = DOWNLOAD_TIMEOUT
) -> bytes:
    target = URL(url)
    if target.scheme not in ("http", "https") or not target.host:
        raise DownloadError("scheme", f"not an http(s) URL: {target.scheme!r}")
    try:
        async with session.get(
            target, timeout=aiohttp.ClientTimeout(total=seconds), max_redirects=3
        ) as response:
            if response.status != 200:
                raise DownloadError("status", f"HTTP {response.status}")
            if not response.content_type.startswith("image/"):
                raise DownloadError("type", f"served as {response.content_type}")
            if response.content_length is not None and response.content_length > cap:
                raise DownloadError("size", f"{response.content_length} bytes declared, cap {cap}")
            body = bytearray()
            async for chunk in response.content.iter_chunked(_CHUNK):
                body += chunk
                if len(body) > cap:
                    raise DownloadError("size", f"more than {cap} bytes")
            return bytes(body)
    except (aiohttp.ClientError, TimeoutError) as exc:
        # The URL carries a signature: log only where it points.
        log.info("image download from %s failed: %s", target.host, type(exc).__name__)
        raise DownloadError("network", type(exc).__name__) from None
