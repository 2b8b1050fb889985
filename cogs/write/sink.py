"""Where a /write answer's messages go: the interaction's webhook, then the channel itself.

Interaction tokens die after 15 minutes; a long stream then continues with normal channel
messages and edits instead of failing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import discord

from bot.discord_io.mentions import NO_PINGS
from bot.discord_io.sent_messages import edit_kwargs

log = logging.getLogger(__name__)

# Switch before Discord's 15 minutes are up, so no request races the expiry.
TOKEN_LIFETIME = timedelta(minutes=14)
# 50027 Invalid Webhook Token, 10015 Unknown Webhook: what an expired interaction token gets.
_EXPIRED_CODES = {50027, 10015}


def token_expired(exc: discord.HTTPException) -> bool:
    return exc.status == 401 or exc.code in _EXPIRED_CODES


class AnswerSink:
    """MessageSink over an interaction: first message edits the deferred response, then followups.

    `ref` is a discord.Message; after the token expires, edits go through the channel (the bot
    authored these messages, so it may edit them there) and new messages are channel messages.
    """

    def __init__(
        self,
        interaction: discord.Interaction[Any],
        *,
        first_is_original: bool,
    ) -> None:
        self._interaction = interaction
        # After a button's silent acknowledgement there is no placeholder to fill: start a new message.
        self._used_original = not first_is_original
        self.via_channel = False

    def _token_alive(self) -> bool:
        if self.via_channel:
            return False
        if discord.utils.utcnow() - self._interaction.created_at > TOKEN_LIFETIME:
            log.info("Interaction %s is about to expire; continuing in the channel", self._interaction.id)
            self.via_channel = True
        return not self.via_channel

    def _expired(self, exc: discord.HTTPException) -> bool:
        if token_expired(exc):
            log.info("Interaction token expired (%s); continuing in the channel", exc.code)
            self.via_channel = True
            return True
        return False

    @property
    def _channel(self) -> discord.abc.Messageable:
        channel = self._interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            raise RuntimeError("this interaction has no channel to send to")
        return channel

    async def send_new(
        self, content: str, *, view: discord.ui.View | None = None, files: Sequence[discord.File] = ()
    ) -> discord.Message:
        if self._token_alive():
            try:
                if not self._used_original:
                    self._used_original = True
                    return await self._interaction.edit_original_response(
                        content=content,
                        view=view,
                        attachments=list(files),
                        allowed_mentions=NO_PINGS,
                    )
                return await self._interaction.followup.send(
                    content,
                    view=view or discord.utils.MISSING,
                    files=list(files),
                    wait=True,
                    allowed_mentions=NO_PINGS,
                )
            except discord.HTTPException as exc:
                if not self._expired(exc):
                    raise
        self._used_original = True
        return await self._channel.send(
            content, view=view or discord.utils.MISSING, files=list(files), allowed_mentions=NO_PINGS
        )

    async def edit(
        self,
        ref: discord.Message,
        content: str,
        *,
        view: discord.ui.View | None = None,
        attachments: Sequence[discord.File] | None = None,
    ) -> None:
        kwargs = edit_kwargs(content, view, attachments)
        if self._token_alive() and isinstance(ref, discord.WebhookMessage | discord.InteractionMessage):
            try:
                await ref.edit(**kwargs)
                return
            except discord.HTTPException as exc:
                if not self._expired(exc):
                    raise
        await self._channel_message(ref).edit(**kwargs)

    async def delete(self, ref: discord.Message) -> None:
        with contextlib.suppress(discord.NotFound):
            await self._channel_message(ref).delete()

    def _channel_message(self, ref: discord.Message) -> discord.PartialMessage:
        channel = self._channel
        if not isinstance(channel, discord.TextChannel | discord.Thread | discord.VoiceChannel):
            raise RuntimeError("cannot edit messages in this kind of channel")
        return channel.get_partial_message(ref.id)
