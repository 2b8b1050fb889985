-- Which server owns which uploaded file: one OpenAI organisation serves many servers, and a server
-- sees, uses and deletes only its own files.
CREATE TABLE finetune_files (
    file_id    TEXT PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    filename   TEXT NOT NULL,
    bytes      INTEGER NOT NULL,
    purpose    TEXT NOT NULL,
    created_at_us INTEGER NOT NULL
);
CREATE INDEX finetune_files_by_guild ON finetune_files (guild_id, created_at_us);

-- Fine-tuning jobs started from Discord, followed in the background until they finish (survives
-- restarts). `accounted` turns 1 once the training cost is in the ledger, so it is written once.
CREATE TABLE finetune_jobs (
    job_id      TEXT PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    channel_id  INTEGER NOT NULL,
    message_id  INTEGER,
    user_id     INTEGER NOT NULL,
    model       TEXT NOT NULL,
    status      TEXT NOT NULL,
    fine_tuned_model TEXT,
    trained_tokens INTEGER,
    error       TEXT,
    locale      TEXT NOT NULL,
    accounted   INTEGER NOT NULL DEFAULT 0,
    notified    INTEGER NOT NULL DEFAULT 0,
    poll_interval REAL NOT NULL,
    next_poll_us INTEGER NOT NULL,
    created_at_us INTEGER NOT NULL
);
CREATE INDEX finetune_jobs_by_guild ON finetune_jobs (guild_id, created_at_us);
CREATE INDEX finetune_jobs_open ON finetune_jobs (notified, next_poll_us);
