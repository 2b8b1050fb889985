"""The knowledge base's tables: documents and their passages with float32 vectors.

Every query is keyed by guild id; a document and all its passages are written in one transaction
(documents added at the same time share one), so nothing half-indexed is ever stored.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from bot.db import Database

Kind = Literal["text", "file", "message"]


class Document(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    guild_id: int
    title: str
    kind: str
    source_url: str | None
    channel_id: int | None
    added_by: int
    model: str
    dimensions: int
    chunks: int
    tokens: int
    created_at: int


class Passage(BaseModel):
    """One stored passage with what a citation needs about its document."""

    model_config = ConfigDict(frozen=True)

    id: int
    document_id: int
    position: int
    text: str
    title: str
    source_url: str | None


class StoredVectors(BaseModel):
    """A server's passages for one (model, dimensions): ids and the rows of the matrix, in order."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    chunk_ids: np.ndarray
    document_ids: np.ndarray
    channel_ids: np.ndarray
    matrix: np.ndarray


def _document(row: sqlite3.Row) -> Document:
    return Document(**{key: row[key] for key in Document.model_fields})


def to_blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


@dataclass(eq=False)
class _Queued:
    """A document waiting for the writer, and the caller waiting for it to be stored."""

    document: Document  # id 0 until stored
    chunks: list[str]
    vectors: np.ndarray
    stored: asyncio.Future[Document]


class KnowledgeRepo:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._queued: list[_Queued] = []
        self._writer: asyncio.Task[None] | None = None

    async def add_document(
        self,
        *,
        guild_id: int,
        title: str,
        kind: Kind,
        source_url: str | None,
        channel_id: int | None,
        added_by: int,
        model: str,
        chunks: list[str],
        vectors: np.ndarray,
        tokens: int,
    ) -> Document:
        """Store a document with its passages; documents added while another write runs are stored
        together in the next transaction (each one whole: SQLite commits, not rows, are what cost,
        and one connection serialises them)."""
        assert len(chunks) == len(vectors) > 0
        document = Document(
            id=0,
            guild_id=guild_id,
            title=title,
            kind=kind,
            source_url=source_url,
            channel_id=channel_id,
            added_by=added_by,
            model=model,
            dimensions=int(vectors.shape[1]),
            chunks=len(chunks),
            tokens=tokens,
            created_at=int(datetime.now(UTC).timestamp()),
        )
        queued = _Queued(document, chunks, vectors, asyncio.get_running_loop().create_future())
        self._queued.append(queued)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued())
        # Shielded: a caller that stops waiting does not cancel the others' transaction.
        return await asyncio.shield(queued.stored)

    async def _write_queued(self) -> None:
        while self._queued:
            group, self._queued = self._queued, []
            try:
                stored = await self._insert(group)
            except Exception:
                # One bad document must not fail the others: each is tried alone and gets its error.
                for queued in group:
                    await self._write_alone(queued)
                continue
            for queued, document in zip(group, stored, strict=True):
                queued.stored.set_result(document)

    async def _write_alone(self, queued: _Queued) -> None:
        try:
            (document,) = await self._insert([queued])
        except Exception as exc:
            queued.stored.set_exception(exc)
            queued.stored.exception()  # retrieved: the caller re-raises it
        else:
            queued.stored.set_result(document)

    async def _insert(self, group: list[_Queued]) -> list[Document]:
        stored: list[Document] = []
        rows: list[tuple[int, int, int, str, str, int, bytes]] = []
        async with self._db.transaction() as conn:
            for queued in group:
                d = queued.document
                row = await conn.execute_insert(
                    "INSERT INTO kb_documents (guild_id, title, kind, source_url, channel_id, added_by,"
                    " model, dimensions, chunks, tokens, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        d.guild_id,
                        d.title,
                        d.kind,
                        d.source_url,
                        d.channel_id,
                        d.added_by,
                        d.model,
                        d.dimensions,
                        d.chunks,
                        d.tokens,
                        d.created_at,
                    ),
                )
                assert row is not None
                document_id = int(row[0])
                stored.append(d.model_copy(update={"id": document_id}))
                rows += [
                    (document_id, d.guild_id, position, text, d.model, d.dimensions, to_blob(vector))
                    for position, (text, vector) in enumerate(zip(queued.chunks, queued.vectors, strict=True))
                ]
            await conn.executemany(
                "INSERT INTO kb_chunks (document_id, guild_id, position, text, model, dimensions, vector)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return stored

    async def documents(self, guild_id: int) -> list[Document]:
        rows = await self._db.fetchall(
            "SELECT * FROM kb_documents WHERE guild_id = ? ORDER BY id", (guild_id,)
        )
        return [_document(r) for r in rows]

    async def get(self, guild_id: int, document_id: int) -> Document | None:
        row = await self._db.fetchone(
            "SELECT * FROM kb_documents WHERE guild_id = ? AND id = ?", (guild_id, document_id)
        )
        return _document(row) if row is not None else None

    async def totals(self, guild_id: int) -> tuple[int, int]:
        """(documents, passages) the server has."""
        row = await self._db.fetchone(
            "SELECT COUNT(*), COALESCE(SUM(chunks), 0) FROM kb_documents WHERE guild_id = ?", (guild_id,)
        )
        assert row is not None
        return int(row[0]), int(row[1])

    async def remove(self, guild_id: int, document_id: int) -> Document | None:
        """Delete a document and its passages; the deleted document, or None if there was none."""
        document = await self.get(guild_id, document_id)
        if document is None:
            return None
        async with self._db.transaction() as conn:
            await conn.execute(
                "DELETE FROM kb_documents WHERE guild_id = ? AND id = ?", (guild_id, document_id)
            )
        return document

    async def vectors(self, guild_id: int, model: str, dimensions: int) -> StoredVectors:
        rows = await self._db.fetchall(
            "SELECT c.id, c.document_id, COALESCE(d.channel_id, 0), c.vector FROM kb_chunks c"
            " JOIN kb_documents d ON d.id = c.document_id"
            " WHERE c.guild_id = ? AND c.model = ? AND c.dimensions = ? ORDER BY c.id",
            (guild_id, model, dimensions),
        )
        matrix = np.frombuffer(b"".join(r[3] for r in rows), dtype="<f4").astype(np.float32)
        return StoredVectors(
            chunk_ids=np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
            document_ids=np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)),
            channel_ids=np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows)),
            matrix=matrix.reshape(len(rows), dimensions),
        )

    async def passages(self, guild_id: int, chunk_ids: list[int]) -> dict[int, Passage]:
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = await self._db.fetchall(
            "SELECT c.id, c.document_id, c.position, c.text, d.title, d.source_url FROM kb_chunks c"
            f" JOIN kb_documents d ON d.id = c.document_id WHERE c.guild_id = ? AND c.id IN ({marks})",
            (guild_id, *chunk_ids),
        )
        return {
            int(r[0]): Passage(
                id=r[0], document_id=r[1], position=r[2], text=r[3], title=r[4], source_url=r[5]
            )
            for r in rows
        }


class Reindexing:
    """Moving a server's passages to another embedding model without a gap in search.

    New vectors are stored next to the old ones (the documents still name the old model, so search
    keeps using the old index); `switch` then moves every document over in one transaction.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    async def indexed_models(self, guild_id: int) -> list[tuple[str, int, int]]:
        """(model, dimensions, documents) of the server's documents, most documents first."""
        rows = await self._db.fetchall(
            "SELECT model, dimensions, COUNT(*) FROM kb_documents WHERE guild_id = ?"
            " GROUP BY model, dimensions ORDER BY COUNT(*) DESC, MIN(id)",
            (guild_id,),
        )
        return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]

    async def stale_documents(self, guild_id: int, model: str, dimensions: int | None) -> list[Document]:
        """Documents not indexed with `model` (at `dimensions`; None: whatever the model gives)."""
        rows = await self._db.fetchall(
            "SELECT * FROM kb_documents WHERE guild_id = ?"
            " AND NOT (model = ? AND (? IS NULL OR dimensions = ?)) ORDER BY id",
            (guild_id, model, dimensions, dimensions),
        )
        return [_document(r) for r in rows]

    async def texts(self, guild_id: int, document: Document) -> list[str]:
        rows = await self._db.fetchall(
            "SELECT text FROM kb_chunks WHERE guild_id = ? AND document_id = ? AND model = ?"
            " AND dimensions = ? ORDER BY position",
            (guild_id, document.id, document.model, document.dimensions),
        )
        return [str(r[0]) for r in rows]

    async def add_vectors(
        self, guild_id: int, model: str, documents: list[tuple[int, list[str], np.ndarray]]
    ) -> None:
        """Store new vectors of several documents, given as (document id, passages, vectors)."""
        async with self._db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO kb_chunks (document_id, guild_id, position, text, model, dimensions, vector)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (document_id, guild_id, position, text, model, int(vectors.shape[1]), to_blob(vector))
                    for document_id, texts, vectors in documents
                    for position, (text, vector) in enumerate(zip(texts, vectors, strict=True))
                ],
            )

    async def switch(self, guild_id: int, model: str, dimensions: int) -> int:
        """Every document with new vectors now uses them, the old ones go; documents switched."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE kb_documents SET model = ?, dimensions = ? WHERE guild_id = ?"
                " AND NOT (model = ? AND dimensions = ?) AND id IN (SELECT document_id FROM kb_chunks"
                " WHERE guild_id = ? AND model = ? AND dimensions = ?)",
                (model, dimensions, guild_id, model, dimensions, guild_id, model, dimensions),
            )
            switched = cursor.rowcount
            await conn.execute(
                "DELETE FROM kb_chunks WHERE guild_id = ? AND NOT (model = ? AND dimensions = ?)",
                (guild_id, model, dimensions),
            )
        return int(switched)

    async def discard(self, guild_id: int, model: str, dimensions: int | None) -> None:
        """Drop new vectors of documents not switched (a cancelled or failed re-index); `dimensions`
        None: whatever size the model gave."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "DELETE FROM kb_chunks WHERE guild_id = ?1 AND model = ?2 AND (?3 IS NULL OR dimensions = ?3)"
                " AND document_id IN (SELECT id FROM kb_documents WHERE guild_id = ?1"
                " AND NOT (model = ?2 AND (?3 IS NULL OR dimensions = ?3)))",
                (guild_id, model, dimensions),
            )
