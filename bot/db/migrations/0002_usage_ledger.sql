-- The usage ledger: one row per billable API call, exactly as the API reported it.
-- Cost is an integer count of 1e-10 USD so SUM() in SQL is exact (max ~ $922M per sum).
CREATE TABLE usage_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id       INTEGER NOT NULL,
    channel_id     INTEGER,
    user_id        INTEGER NOT NULL,
    feature        TEXT NOT NULL,
    model          TEXT NOT NULL,
    request_id     TEXT,
    input_tokens   INTEGER NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens  INTEGER NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    images         INTEGER NOT NULL DEFAULT 0 CHECK (images >= 0),
    image_size     TEXT,
    image_quality  TEXT,
    audio_seconds  REAL NOT NULL DEFAULT 0 CHECK (audio_seconds >= 0),
    cost_e10       INTEGER NOT NULL CHECK (cost_e10 >= 0),
    estimated      INTEGER NOT NULL CHECK (estimated IN (0, 1)),
    -- microseconds since the Unix epoch, UTC: compact and ordered for period queries
    created_at_us  INTEGER NOT NULL
);

-- Per-guild and per-user period queries (/usage) read a range of one of these.
CREATE INDEX usage_events_guild_time ON usage_events (guild_id, created_at_us);
CREATE INDEX usage_events_guild_user_time ON usage_events (guild_id, user_id, created_at_us);
