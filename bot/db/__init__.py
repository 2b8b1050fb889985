"""Storage: one aiosqlite connection, numbered migrations, the core's repositories.
Everything outside bot/db reaches SQLite only through the names exported here."""

from __future__ import annotations

from bot.db.checkpoints import WalCheckpoints
from bot.db.command_sync import CommandSyncRepo
from bot.db.database import Database
from bot.db.feature_settings import FeatureSettingsRepo
from bot.db.guild_settings import GuildSettings, GuildSettingsRepo
from bot.db.migrations import MigrationError

__all__ = [
    "CommandSyncRepo",
    "Database",
    "FeatureSettingsRepo",
    "GuildSettings",
    "GuildSettingsRepo",
    "MigrationError",
    "WalCheckpoints",
]
