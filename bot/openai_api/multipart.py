"""multipart/form-data encoding for uploads (audio transcriptions, files, image edits).
Builds the whole body as bytes once, so a retried request re-sends it without re-encoding."""

from __future__ import annotations

import mimetypes
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

# Types mimetypes may not know on a minimal system; these are the audio formats the API accepts.
_EXTRA_TYPES = {
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".mp3": "audio/mpeg",
    ".mp4": "audio/mp4",
    ".mpeg": "audio/mpeg",
    ".mpga": "audio/mpeg",
    ".oga": "audio/ogg",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".wav": "audio/wav",
    ".webm": "audio/webm",
    ".jsonl": "application/jsonl",
}


def guess_content_type(filename: str) -> str:
    dot = filename.rfind(".")
    ext = filename[dot:].lower() if dot != -1 else ""
    if ext in _EXTRA_TYPES:
        return _EXTRA_TYPES[ext]
    guessed, _ = mimetypes.guess_type(filename)
    return guessed or "application/octet-stream"


def _quote(value: str) -> str:
    # Header parameter values: escape what would end the quoted string or the header line.
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


@dataclass(frozen=True, slots=True)
class MultipartBody:
    body: bytes
    content_type: str


def encode_multipart(
    fields: Iterable[tuple[str, str]], file_field: str, file: bytes, filename: str, content_type: str
) -> MultipartBody:
    """Encode plain text fields followed by one file part."""
    return encode_multipart_files(fields, [FilePart(file_field, file, filename, content_type)])


@dataclass(frozen=True, slots=True)
class FilePart:
    field: str
    data: bytes
    filename: str
    content_type: str


def encode_multipart_files(fields: Iterable[tuple[str, str]], files: Iterable[FilePart]) -> MultipartBody:
    """Encode plain text fields followed by file parts (an image edit sends the image and its mask)."""
    boundary = "----openaiclient" + secrets.token_hex(12)
    sep = f"--{boundary}\r\n".encode()
    parts: list[bytes] = []
    for name, value in fields:
        parts.append(sep)
        parts.append(f'Content-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'.encode())
        parts.append(value.encode())
        parts.append(b"\r\n")
    for part in files:
        parts.append(sep)
        parts.append(
            (
                f'Content-Disposition: form-data; name="{_quote(part.field)}"; '
                f'filename="{_quote(part.filename)}"\r\n'
                f"Content-Type: {part.content_type}\r\n\r\n"
            ).encode()
        )
        parts.append(part.data)
        parts.append(b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return MultipartBody(b"".join(parts), f"multipart/form-data; boundary={boundary}")


def form_fields(values: dict[str, object]) -> list[tuple[str, str]]:
    """Flatten request values into form fields: None skipped, lists as repeated `name[]`, bools lowercase."""
    out: list[tuple[str, str]] = []
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            out.extend((f"{name}[]", _scalar(v)) for v in value)
        else:
            out.append((name, _scalar(value)))
    return out


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
