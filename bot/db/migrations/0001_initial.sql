-- Guild settings and command-sync state.
-- A guild_settings row holds only what an admin changed: NULL columns and missing JSON keys mean
-- "use the default from settings", so new defaults reach every guild that did not override them.
CREATE TABLE guild_settings (
    guild_id               INTEGER PRIMARY KEY,
    -- {"feature": true|false} overrides of the default enabled set
    features_json          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(features_json)),
    -- {"feature": "model"} overrides of the default model per feature
    models_json            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(models_json)),
    -- {"feature": ["model", ...]} allow-lists; a missing key or empty list allows every model
    allowed_models_json    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(allowed_models_json)),
    reply_locale           TEXT,
    write_cooldown_seconds REAL CHECK (write_cooldown_seconds IS NULL OR write_cooldown_seconds >= 0),
    write_max_tokens       INTEGER CHECK (write_max_tokens IS NULL OR write_max_tokens >= 1),
    updated_at             TEXT NOT NULL
);

-- One hash of the last synced command tree per scope ("global" or a guild id as text).
CREATE TABLE command_sync (
    scope      TEXT PRIMARY KEY,
    tree_hash  TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
