-- Budgets: a server's monthly budget, each member's daily budget and the roles exempt from it are
-- server-wide settings (guild_settings); NULL means "no budget". Money is a decimal string so
-- settings keep exactly what the admin typed; the role list is a JSON array of ids.
ALTER TABLE guild_settings ADD COLUMN monthly_budget_usd TEXT;
ALTER TABLE guild_settings ADD COLUMN member_daily_budget_usd TEXT;
ALTER TABLE guild_settings ADD COLUMN budget_exempt_role_ids TEXT
    CHECK (budget_exempt_role_ids IS NULL OR json_valid(budget_exempt_role_ids));

-- Worst-case costs held for API calls in flight. A call reserves before it starts and the row is
-- deleted once the real cost is in usage_events (or the call failed). A crashed bot leaves rows
-- behind: they stop counting at expires_at_us. Cost in 1e-10 USD like usage_events.cost_e10.
CREATE TABLE budget_reservations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id      INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    feature       TEXT NOT NULL,
    cost_e10      INTEGER NOT NULL CHECK (cost_e10 >= 0),
    created_at_us INTEGER NOT NULL,
    expires_at_us INTEGER NOT NULL
);

CREATE INDEX budget_reservations_guild ON budget_reservations (guild_id, expires_at_us);
