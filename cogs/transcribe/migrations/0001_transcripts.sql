-- Transcripts of attachments, so a second request for the same audio (the context menu on the
-- same message, another format) is answered without a second API call. Keyed by guild and
-- attachment: attachment ids are unique, and every query names the guild.
CREATE TABLE IF NOT EXISTS transcripts (
    guild_id      INTEGER NOT NULL,
    attachment_id INTEGER NOT NULL,
    message_id    INTEGER,
    model         TEXT NOT NULL,
    text          TEXT NOT NULL,
    language      TEXT,
    duration      REAL,
    -- JSON list of [start, end, text]; NULL when the model gives no timestamps.
    segments      TEXT,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (guild_id, attachment_id)
);

CREATE INDEX IF NOT EXISTS transcripts_by_age ON transcripts (created_at);
