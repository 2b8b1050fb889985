-- The knowledge base: documents a server added and their passages with embedding vectors.
-- A document and all its chunks are written in one transaction, so a search never sees half of one.
-- channel_id is the channel a message came from: /ask uses its passages only for members who can
-- view that channel. Vectors are unit-length float32 little-endian blobs of `dimensions` values.
CREATE TABLE kb_documents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id    INTEGER NOT NULL,
    title       TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('text', 'file', 'message')),
    source_url  TEXT,
    channel_id  INTEGER,
    added_by    INTEGER NOT NULL,
    model       TEXT NOT NULL,
    dimensions  INTEGER NOT NULL,
    chunks      INTEGER NOT NULL,
    tokens      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE INDEX kb_documents_by_guild ON kb_documents (guild_id, id);

CREATE TABLE kb_chunks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id INTEGER NOT NULL REFERENCES kb_documents (id) ON DELETE CASCADE,
    guild_id    INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    text        TEXT NOT NULL,
    model       TEXT NOT NULL,
    dimensions  INTEGER NOT NULL,
    vector      BLOB NOT NULL
);

CREATE INDEX kb_chunks_by_index ON kb_chunks (guild_id, model, dimensions, id);
CREATE INDEX kb_chunks_by_document ON kb_chunks (document_id);
