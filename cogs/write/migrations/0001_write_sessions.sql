-- /write answers: what was asked and what the model wrote, so the Regenerate and Continue buttons
-- keep working after a restart (their custom ids carry only the session id). Rows older than the
-- retention setting are purged. IF NOT EXISTS: databases from before features owned their tables
-- already have this one.
CREATE TABLE IF NOT EXISTS write_sessions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id      INTEGER NOT NULL,
    channel_id    INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    model         TEXT NOT NULL,
    prompt        TEXT NOT NULL,
    temperature   REAL,
    max_tokens    INTEGER NOT NULL CHECK (max_tokens >= 1),
    output        TEXT NOT NULL DEFAULT '',
    finish_reason TEXT,
    created_at    INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS write_sessions_by_guild ON write_sessions (guild_id, created_at);

CREATE INDEX IF NOT EXISTS write_sessions_by_age ON write_sessions (created_at);
