-- Examples made from conversations with "Export for fine-tuning", collected per server until an
-- admin downloads them with /finetune export.
CREATE TABLE finetune_exports (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id  INTEGER NOT NULL,
    user_id   INTEGER NOT NULL,
    line      TEXT NOT NULL CHECK (json_valid(line)),
    created_at_us INTEGER NOT NULL
);
CREATE INDEX finetune_exports_by_guild ON finetune_exports (guild_id, id);
