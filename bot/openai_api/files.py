"""/files endpoints: upload (multipart with purpose), list, retrieve, delete and content download.
Ids are percent-encoded into the path so an id can never address another endpoint."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import Field

from bot.openai_api._base import APIModel
from bot.openai_api.multipart import encode_multipart, form_fields, guess_content_type
from bot.openai_api.transport import Transport


class FileObject(APIModel):
    id: str
    object: str = "file"
    bytes: int = 0
    created_at: int = 0
    filename: str = ""
    purpose: str = ""
    status: str | None = None
    expires_at: int | None = None
    status_details: str | None = None


class FileList(APIModel):
    object: str = "list"
    data: list[FileObject] = Field(default_factory=list)
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False


class FileDeleted(APIModel):
    id: str
    object: str = "file"
    deleted: bool = False


def _file_path(file_id: str, suffix: str = "") -> str:
    return f"/files/{quote(file_id, safe='')}{suffix}"


class Files:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def create(
        self,
        *,
        file: bytes,
        filename: str,
        purpose: str,
        content_type: str | None = None,
        request_timeout: float | None = None,
        **extra: Any,
    ) -> FileObject:
        fields = form_fields({"purpose": purpose, **extra})
        body = encode_multipart(fields, "file", file, filename, content_type or guess_content_type(filename))
        raw = await self._t.post_multipart(
            "/files", body.body, body.content_type, request_timeout=request_timeout
        )
        return self._t.parse(FileObject, raw)

    async def list(
        self,
        *,
        purpose: str | None = None,
        limit: int | None = None,
        order: str | None = None,
        after: str | None = None,
        request_timeout: float | None = None,
    ) -> FileList:
        params = {"purpose": purpose, "limit": limit, "order": order, "after": after}
        raw = await self._t.get("/files", params=params, request_timeout=request_timeout)
        return self._t.parse(FileList, raw)

    async def retrieve(self, file_id: str, *, request_timeout: float | None = None) -> FileObject:
        raw = await self._t.get(_file_path(file_id), request_timeout=request_timeout)
        return self._t.parse(FileObject, raw)

    async def delete(self, file_id: str, *, request_timeout: float | None = None) -> FileDeleted:
        raw = await self._t.delete(_file_path(file_id), request_timeout=request_timeout)
        return self._t.parse(FileDeleted, raw)

    async def content(self, file_id: str, *, request_timeout: float | None = None) -> bytes:
        raw = await self._t.get(_file_path(file_id, "/content"), request_timeout=request_timeout)
        return raw.body
