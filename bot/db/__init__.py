"""Storage: one aiosqlite connection, numbered migrations, repositories."""
