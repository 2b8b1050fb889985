-- Every change made through /config: who changed which setting of which feature, from what to what,
-- when. Values are JSON (null = the default). Shown newest first by /config history.
CREATE TABLE config_audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    feature    TEXT NOT NULL,
    setting    TEXT NOT NULL,
    old_json   TEXT CHECK (old_json IS NULL OR json_valid(old_json)),
    new_json   TEXT CHECK (new_json IS NULL OR json_valid(new_json)),
    changed_at_us INTEGER NOT NULL
);

CREATE INDEX config_audit_by_guild ON config_audit (guild_id, id);
