"""Measures how long the bot takes to acknowledge an interaction, in real (wall-clock) seconds.

Discord fails an interaction not acknowledged within 3 s and simcord does not enforce it on the
wall clock (its deadline runs on virtual time, which stands still while the bot waits on sockets).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")

_CALLBACK = re.compile(r"^POST /interactions/(\d+)/[^/]+/callback$")


class _StampedTranscript(list[Any]):
    """simcord's transcript list, also noting the wall-clock time at which each entry is recorded."""

    def __init__(self, entries: list[Any]) -> None:
        super().__init__(entries)
        self.stamps: list[tuple[float, Any]] = []

    def append(self, entry: Any) -> None:
        self.stamps.append((time.perf_counter(), entry))
        super().append(entry)


async def acknowledgement_delay(env: Any, action: Awaitable[T]) -> tuple[float, T]:
    """Run `action` (e.g. `member.slash(channel, "write", ...)`) and return the seconds between the
    first interaction it creates and that interaction's first callback (defer, message or modal),
    together with the action's result.

    simcord records every gateway event and every REST call, in order, in its transcript
    (`env.transcript()`); this stamps each record as it is appended: `INTERACTION_CREATE` is the
    moment Discord would start its 3 s clock, `POST /interactions/{id}/{token}/callback` the answer.
    Fails when the interaction was never acknowledged.
    """
    backend = env.backend
    stamped = _StampedTranscript(backend.transcript)
    backend.transcript = stamped
    try:
        result = await action
    finally:
        backend.transcript = list(stamped)
    created: dict[str, float] = {}
    for when, (kind, name, payload) in stamped.stamps:
        if kind == "GATEWAY" and name == "INTERACTION_CREATE" and isinstance(payload, dict):
            created.setdefault(str(payload["id"]), when)
    assert created, "the action created no interaction"
    first_id = min(created, key=created.__getitem__)
    for when, (kind, name, _) in stamped.stamps:
        match = _CALLBACK.match(name) if kind == "HTTP" else None
        if match is not None and match.group(1) == first_id:
            return when - created[first_id], result
    raise AssertionError(f"interaction {first_id} was never acknowledged:\n{env.transcript()}")
