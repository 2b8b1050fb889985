"""Incremental server-sent-events decoder: feed it bytes as they arrive, get complete events back.
Pure (no I/O); follows the WHATWG event-stream rules for line ends, comments and multi-line data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Byte-fed decoder; correct whatever way the network splits the stream.

    Only complete lines are decoded, so a UTF-8 character split across reads is never damaged, and a
    trailing CR is held back because the next read may start with the LF that completes it.
    """

    __slots__ = ("_buf", "_data", "_event", "_last_id", "_long", "_retry")

    def __init__(self) -> None:
        self._buf = b""
        # Reads of a line still without its end: an image event's one data line spans megabytes and
        # many reads, and joining and re-scanning the whole line at each read would be quadratic.
        self._long: list[bytes] = []
        self._data: list[str] = []
        self._event = ""
        self._last_id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if b"\n" not in chunk and b"\r" not in chunk and not self._buf.endswith(b"\r"):
            if self._buf:
                self._long.append(self._buf)
                self._buf = b""
            self._long.append(chunk)
            return []
        if self._long:
            self._long.append(self._buf)
            self._buf = b"".join(self._long)
            self._long = []
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" in buf:
            # Hold a final CR: it may be the first half of a CRLF split across reads.
            held = b""
            if buf.endswith(b"\r"):
                buf, held = buf[:-1], b"\r"
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            lines = buf.split(b"\n")
            self._buf = lines.pop() + held
        else:
            lines = buf.split(b"\n")
            self._buf = lines.pop()
        if not lines:
            return []
        events: list[SSEEvent] = []
        for line in lines:
            self._line(line, events)
        return events

    def flush(self) -> list[SSEEvent]:
        """End of stream: a final unterminated line is processed; an event without its blank line is dropped,
        as the standard says."""
        events: list[SSEEvent] = []
        if self._long:
            self._long.append(self._buf)
            self._buf = b"".join(self._long)
            self._long = []
        rest, self._buf = self._buf, b""
        if rest:
            for line in rest.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"):
                self._line(line, events)
        self._data = []
        self._event = ""
        return events

    def _line(self, line: bytes, events: list[SSEEvent]) -> None:
        if not line:
            if self._data:
                events.append(
                    SSEEvent(
                        data="\n".join(self._data),
                        event=self._event or "message",
                        id=self._last_id,
                        retry=self._retry,
                    )
                )
                self._data = []
            self._event = ""
            return
        if line[0] == 0x3A:  # ":" starts a comment (keep-alives)
            return
        colon = line.find(b":")
        if colon == -1:
            field, value = line, b""
        else:
            field = line[:colon]
            value = line[colon + 1 :]
            if value[:1] == b" ":
                value = value[1:]
        if field == b"data":
            self._data.append(value.decode("utf-8", errors="replace"))
        elif field == b"event":
            self._event = value.decode("utf-8", errors="replace")
        elif field == b"id":
            if b"\x00" not in value:
                self._last_id = value.decode("utf-8", errors="replace")
        elif field == b"retry" and value.isdigit():
            self._retry = int(value)
        # Unknown fields are ignored, per the standard.
