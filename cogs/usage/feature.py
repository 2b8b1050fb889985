"""The /usage feature's declaration: catalogs and /help entry; it has no tables of its own (it reads
the core's usage ledger) and needs to attach files (the chart and the CSV export)."""

from __future__ import annotations

from pathlib import Path

from bot.features import Feature

FEATURE = Feature(
    name="usage",
    permissions=frozenset({"attach_files", "embed_links"}),
    help_key="feature.usage.help",
    locales=Path(__file__).parent / "locales",
)
