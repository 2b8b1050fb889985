"""Deleting what features keep (prompts, transcripts, excerpts) once it is older than each server's
retention setting: the per-server days read from the registry, the failure logged and retried later."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.db.feature_settings import FeatureSettingsRepo
from bot.features import Feature

log = logging.getLogger(__name__)

#: purge(default_days, days_by_guild) -> rows deleted; the feature's store knows its own tables.
Purge = Callable[[int, dict[int, int]], Awaitable[int]]


async def purge_past_retention(
    feature_settings: FeatureSettingsRepo, feature: Feature, days_field: str, purge: Purge, what: str
) -> int:
    """Run `purge` with the feature's default retention and every server's own (`days_field` of its
    settings). Never raises: a background loop calls it, and the next run tries again."""
    try:
        customised = await feature_settings.customised(feature)
        days = {guild_id: int(getattr(settings, days_field)) for guild_id, settings in customised.items()}
        deleted = await purge(int(getattr(feature.settings(), days_field)), days)
    except Exception:
        log.exception("Could not purge old %s; trying again later", what)
        return 0
    if deleted:
        log.info("Purged %d %s past their retention", deleted, what)
    return deleted
