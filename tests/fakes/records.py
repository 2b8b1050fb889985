"""What the fake OpenAI server remembers about each request it received.

Owns `RecordedRequest` and `UploadedFile`, the objects tests assert on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class UploadedFile:
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    json: Any | None = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)
    # Every value of repeated form fields (e.g. `timestamp_granularities[]`), in order.
    form_lists: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""
    request_id: str = ""
    # Set after the answer is chosen, so tests can tell faulted requests from served ones.
    status: int | None = None
