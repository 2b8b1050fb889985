"""The /config feature's declaration: its audit table, catalogs and /help entry.
It has no settings of its own beyond the common ones, and /config never offers to turn itself off."""

from __future__ import annotations

from pathlib import Path

from bot.features import Feature

FEATURE = Feature(
    name="config",
    help_key="feature.config.help",
    migrations=Path(__file__).parent / "migrations",
    locales=Path(__file__).parent / "locales",
)
