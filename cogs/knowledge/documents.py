"""The text of an uploaded file: .txt and .md decoded as UTF-8, .pdf read page by page with pypdf.

PDF parsing is CPU work, so it runs in a thread and never blocks the bot's event loop.
"""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import PurePosixPath

from pypdf import PdfReader
from pypdf.errors import PyPdfError

log = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
SUPPORTED_SUFFIXES = (*TEXT_SUFFIXES, ".pdf")


class UnreadableFile(Exception):
    """The file is not what its name says (a broken or encrypted PDF)."""


def suffix_of(filename: str) -> str:
    return PurePosixPath(filename.lower()).suffix


def _pdf_text(data: bytes) -> str:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnreadableFile("encrypted")
        return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        log.info("Could not read a PDF: %s", type(exc).__name__)
        raise UnreadableFile(type(exc).__name__) from exc


async def file_text(filename: str, data: bytes) -> str:
    if suffix_of(filename) == ".pdf":
        return await asyncio.to_thread(_pdf_text, data)
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")
