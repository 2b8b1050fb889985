-- /imagine requests: the parameters of one request, so the Regenerate, Variation and Delete buttons
-- keep working after a restart (their custom ids carry only the request id). No image is stored;
-- an edit keeps the URL of its source image, fetched again only when Regenerate is pressed.
-- Rows older than 30 days are purged.
CREATE TABLE IF NOT EXISTS imagine_requests (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id    INTEGER NOT NULL,
    channel_id  INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    model       TEXT NOT NULL,
    prompt      TEXT NOT NULL,
    n           INTEGER NOT NULL CHECK (n >= 1),
    size        TEXT NOT NULL,
    quality     TEXT NOT NULL,
    source_url  TEXT,
    created_at  INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS imagine_requests_by_age ON imagine_requests (created_at);
