"""Allowed-mentions policy: nothing we send pings anyone unless a feature asks for it explicitly.
Model output can contain @everyone or role mentions; Discord must render them as text only."""

from __future__ import annotations

import discord

NO_PINGS = discord.AllowedMentions.none()
