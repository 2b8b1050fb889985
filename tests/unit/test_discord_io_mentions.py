"""The allowed-mentions policy: nothing the bot sends pings anyone."""

from __future__ import annotations

from bot.discord_io.mentions import NO_PINGS


def test_no_pings_blocks_everything() -> None:
    # An empty parse list with no users/roles lists is how Discord is told "ping nobody".
    assert NO_PINGS.to_dict() == {"parse": []}
