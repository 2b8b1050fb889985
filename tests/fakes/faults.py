"""Fault injection for the fake OpenAI server.

Owns the `Fault` description and the thread-safe registry that hands a fault to matching requests.
"""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Fault:
    """One injected misbehaviour; see the server module docstring for the semantics of each field.

    `path` is matched exactly or as an fnmatch pattern ("/v1/files/*"); a path without the `/v1`
    prefix gets it. `method=None` / `path=None` match anything.
    """

    method: str | None = "POST"
    path: str | None = "/v1/completions"
    status: int | None = None
    body: dict[str, Any] | str | None = None
    headers: dict[str, str] | None = None
    times: int | None = 1
    delay: float = 0.0
    drop_after_chunks: int | None = None
    malformed: bool = False
    stream_error_after_chunks: int | None = None
    # Extras: a named error code for the default body (e.g. "insufficient_quota"), and a content type
    # for str bodies (default text/html when the body looks like HTML, else text/plain).
    code: str | None = None
    content_type: str | None = None
    hits: int = field(default=0, compare=False)

    @property
    def is_error(self) -> bool:
        return self.status is not None and self.status != 200

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path is None:
            return True
        pattern = (
            self.path if self.path.startswith("/v1") or self.path.startswith("/cdn") else "/v1" + self.path
        )
        return pattern == path or fnmatch.fnmatchcase(path, pattern)


class FaultRegistry:
    """Faults in insertion order; the first match is consumed. Guarded by a lock because tests add
    faults from their own thread while a threaded server consumes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def snapshot(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None
