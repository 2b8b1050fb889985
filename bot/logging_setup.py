"""Logging configuration for the process, with a filter that redacts secrets everywhere.

Configured once by `python -m bot`; the filter sits on the handler so every logger is covered.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

# Bearer tokens in Authorization headers, and OpenAI-style keys, even ones we were not told about.
_PATTERNS = (
    # Any scheme (Bearer, Bot, Basic): the credential after it goes too.
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(?:(?:bearer|bot|basic)\s+)?[^\s'\",}]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]+"),
    re.compile(r"()\bsk-[A-Za-z0-9_\-]{8,}"),
)
REDACTED = "[redacted]"


class RedactingFilter(logging.Filter):
    """Replaces known secrets and bearer credentials in the formatted message and traceback."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first so a secret that contains another is removed whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # A malformed call (wrong argument count): let the handler report it as logging does.
            return True
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            # Format the traceback now, redacted, so the handler prints our version of it.
            formatter = logging.Formatter()
            record.exc_text = self.redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def configure_logging(level: str, secrets: Iterable[str] = ()) -> RedactingFilter:
    """Send logs to stderr at `level`, redacting `secrets`; returns the installed filter."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-8s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    redactor = RedactingFilter(secrets)
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # discord.py's gateway chatter at DEBUG drowns everything else.
    logging.getLogger("discord.gateway").setLevel(max(logging.getLevelName(level), logging.INFO))
    return redactor
