"""The one place cog tests reach into simcord's private API; a simcord upgrade breaks only this.
Each hook says which public facility it stands in for and why that one does not do the job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

# The pause that replaces simcord's settle step while a hook is active: enough for the bot to
# receive the interaction and acknowledge it, not to finish the answer.
BRIEF_SETTLE_S = 0.05

# Discord's IS_VOICE_MESSAGE message flag.
VOICE_FLAG = 1 << 13


@asynccontextmanager
async def without_settling(env: Any, pause: float = BRIEF_SETTLE_S) -> AsyncIterator[None]:
    """Within this block, simcord's verbs (slash, click, …) return after a brief pause.

    Every public verb ends by settling the bot (waiting until all its work is idle or parked), so
    two /write streams could never overlap and a test could never act while one is running.
    simcord has no public switch for that (settle_timeout=0 makes each verb raise TimeoutError
    instead), so the private `_settle_internal` is swapped for a short sleep on this env only.
    """
    original = env._settle_internal

    async def brief(**_: Any) -> None:
        await asyncio.sleep(pause)

    env._settle_internal = brief
    try:
        yield
    finally:
        del env._settle_internal
        assert env._settle_internal == original, "simcord's settle step is no longer an instance method"


async def post_voice_message(
    env: Any, channel_id: int, author_id: int, audio: bytes, *, seconds: float
) -> Any:
    """Post a voice message (flag 1 << 13, one OGG attachment with its duration and waveform) as
    Discord delivers it, and settle the bot as a public verb would.

    simcord's `member.send` takes no message flags or attachment metadata, so the message is built
    in the backend and the private settle step runs after it, exactly as `send` itself ends.
    """
    backend = env.backend
    (attachment,) = backend.store_attachments(channel_id, [("voice-message.ogg", audio)])
    attachment.update(content_type="audio/ogg", duration_secs=seconds, waveform="AAAA")
    message = backend.create_message(channel_id, author_id, "", attachments=[attachment], flags=VOICE_FLAG)
    env._mark_mutation()
    await env._settle_internal(dispatch="TEST.voice_message")
    return message
