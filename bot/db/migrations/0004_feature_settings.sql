-- Per-feature settings move out of guild_settings: one row per (guild, feature) holding only the
-- overrides an admin made, as JSON validated by the feature's own settings model. guild_settings
-- keeps what is server-wide (reply language, log channel).
CREATE TABLE feature_settings (
    guild_id       INTEGER NOT NULL,
    feature        TEXT NOT NULL,
    overrides_json TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(overrides_json)),
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (guild_id, feature)
) WITHOUT ROWID;

-- Which of a feature's own migrations (its tables, shipped in its package) have been applied.
CREATE TABLE feature_migrations (
    feature    TEXT NOT NULL,
    version    INTEGER NOT NULL,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (feature, version)
) WITHOUT ROWID;

-- Carry every override over. The old columns named features by key; the /write-only columns
-- become the write feature's cooldown_seconds and max_tokens. json_patch drops null members, so
-- only values that were really set are kept.
INSERT INTO feature_settings (guild_id, feature, overrides_json, updated_at)
SELECT g.guild_id, n.feature,
       json_patch('{}', json_object(
           'enabled', g.features_json -> ('$."' || n.feature || '"'),
           'model', g.models_json ->> ('$."' || n.feature || '"'),
           'allowed_models', g.allowed_models_json -> ('$."' || n.feature || '"'),
           'cooldown_seconds', CASE WHEN n.feature = 'write' THEN g.write_cooldown_seconds END,
           'max_tokens', CASE WHEN n.feature = 'write' THEN g.write_max_tokens END
       )),
       g.updated_at
FROM guild_settings AS g
JOIN (
    SELECT g2.guild_id, j.key AS feature FROM guild_settings AS g2, json_each(g2.features_json) AS j
    UNION SELECT g2.guild_id, j.key FROM guild_settings AS g2, json_each(g2.models_json) AS j
    UNION SELECT g2.guild_id, j.key FROM guild_settings AS g2, json_each(g2.allowed_models_json) AS j
    UNION SELECT guild_id, 'write' FROM guild_settings
          WHERE write_cooldown_seconds IS NOT NULL OR write_max_tokens IS NOT NULL
) AS n ON n.guild_id = g.guild_id;

-- An empty allow-list meant "every model": it is no override.
UPDATE feature_settings SET overrides_json = json_remove(overrides_json, '$.allowed_models')
WHERE json_array_length(overrides_json -> '$.allowed_models') = 0;

DELETE FROM feature_settings WHERE overrides_json = '{}';

CREATE TABLE guild_settings_new (
    guild_id       INTEGER PRIMARY KEY,
    reply_locale   TEXT,
    log_channel_id INTEGER,
    updated_at     TEXT NOT NULL
);

INSERT INTO guild_settings_new (guild_id, reply_locale, updated_at)
SELECT guild_id, reply_locale, updated_at FROM guild_settings WHERE reply_locale IS NOT NULL;

DROP TABLE guild_settings;

ALTER TABLE guild_settings_new RENAME TO guild_settings;
