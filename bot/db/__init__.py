"""Storage: one aiosqlite connection, numbered migrations, repositories.
Everything outside bot/db reaches SQLite only through the names exported here."""

from __future__ import annotations

from bot.db.command_sync import CommandSyncRepo
from bot.db.database import Database
from bot.db.guild_settings import DEFAULT_FEATURES, GuildDefaults, GuildSettings, GuildSettingsRepo
from bot.db.migrations import MigrationError
from bot.db.write_sessions import WriteSession, WriteSessionRepo

__all__ = [
    "DEFAULT_FEATURES",
    "CommandSyncRepo",
    "Database",
    "GuildDefaults",
    "GuildSettings",
    "GuildSettingsRepo",
    "MigrationError",
    "WriteSession",
    "WriteSessionRepo",
]
