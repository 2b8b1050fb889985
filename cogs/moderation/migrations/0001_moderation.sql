-- Moderation audit: one row per flagged or unchecked message (clean messages are only counted).
-- The excerpt is kept for flagged messages only, and purged after the server's retention.
CREATE TABLE moderation_audit (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id        INTEGER NOT NULL,
    channel_id      INTEGER NOT NULL,
    message_id      INTEGER NOT NULL,
    author_id       INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('flagged', 'unchecked')),
    reason          TEXT,                      -- why unchecked: deadline, queue_full, restart, ...
    scores_json     TEXT NOT NULL DEFAULT '{}', -- flagged categories and their scores
    actions         TEXT NOT NULL DEFAULT '',   -- comma-separated: log,delete,warn,timeout
    excerpt         TEXT,
    log_message_id  INTEGER,
    reviewed_by     INTEGER,                   -- the moderator who dismissed or overrode it
    review          TEXT,                      -- dismissed, timeout, untimeout, appeal_accepted, ...
    reviewed_at     INTEGER,
    appeal          TEXT,                      -- pending, accepted, rejected
    created_at      INTEGER NOT NULL
);

CREATE INDEX moderation_audit_by_guild ON moderation_audit (guild_id, created_at);

-- Counters per server and hour, for the status of the last 24 hours.
CREATE TABLE moderation_counters (
    guild_id   INTEGER NOT NULL,
    hour       INTEGER NOT NULL,  -- unix time // 3600
    checked    INTEGER NOT NULL DEFAULT 0,
    flagged    INTEGER NOT NULL DEFAULT 0,
    actions    INTEGER NOT NULL DEFAULT 0,
    unchecked  INTEGER NOT NULL DEFAULT 0,
    api_calls  INTEGER NOT NULL DEFAULT 0,
    http_429   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (guild_id, hour)
);

-- Messages waiting in the queue, so a restart records them as unchecked instead of forgetting them.
CREATE TABLE moderation_pending (
    message_id  INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    channel_id  INTEGER NOT NULL,
    author_id   INTEGER NOT NULL,
    queued_at   INTEGER NOT NULL
);
