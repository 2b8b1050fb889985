"""/chat storage: conversations (one per thread) and the messages the bot saw in them.
Every query is keyed by guild id, so a thread id from another server never reaches its history."""

from __future__ import annotations

import json
import sqlite3
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from bot.db import Database
from bot.usage.estimate import estimate_tokens

Role = Literal["user", "assistant"]


class Conversation(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    guild_id: int
    channel_id: int
    thread_id: int
    user_id: int
    model: str
    instructions: str
    locale: str
    turns: int
    ended: bool


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message of a conversation as the bot saw it (a plain dataclass: context building reads
    hundreds of these per turn)."""

    id: int
    role: Role
    author_id: int
    author_name: str
    content: str
    images: tuple[str, ...] = ()
    reply_to: int | None = None
    #: The Discord message showing it (an answer's last message, where its buttons are).
    message_id: int | None = None
    #: Estimated tokens it costs as context.
    tokens: int = 0


# What a message costs beyond its text (role and separators), and an image at low detail.
MESSAGE_OVERHEAD_TOKENS = 4
IMAGE_TOKENS = 85


def speaker_text(role: str, author_name: str, content: str) -> str:
    """A member's message as the model reads it: their display name as the speaker."""
    if role == "assistant":
        return content
    return f"{author_name}: {content}" if content else f"{author_name}:"


def context_tokens(role: str, author_name: str, content: str, images: int) -> int:
    """Estimated tokens of a message in a request (images counted at low detail)."""
    return (
        MESSAGE_OVERHEAD_TOKENS
        + estimate_tokens(speaker_text(role, author_name, content))
        + images * IMAGE_TOKENS
    )


def _now() -> int:
    return int(datetime.now(UTC).timestamp())


def _conversation(row: sqlite3.Row) -> Conversation:
    return Conversation(**{key: row[key] for key in Conversation.model_fields})


def _message(row: sqlite3.Row) -> StoredMessage:
    images = row[5]
    return StoredMessage(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        tuple(json.loads(images)) if images != "[]" else (),
        row[6],
        row[7],
        row[8],
    )


_SELECT_MESSAGE = "SELECT id, role, author_id, author_name, content, images, reply_to, message_id, tokens"
# An answer sorts right after the message it answers, whatever was posted in between.
_HISTORY_ORDER = "ORDER BY COALESCE(reply_to, id), reply_to IS NOT NULL, id"


# Threads whose conversation (or lack of one) is kept in memory; the least recently asked go first.
THREADS_KEPT = 1024


class ConversationRepo:
    """The conversations and their messages.

    Every message posted in any thread the bot reads asks which conversation the thread holds, so
    the answer is kept in memory for recent threads, "none" included. This repository is the only
    writer of its rows (one bot process per database), so it keeps those copies current itself.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._threads: OrderedDict[tuple[int, int], Conversation | None] = OrderedDict()
        # Each write corrects the copy it changed as soon as it is committed. The Database runs one
        # statement at a time, in order, and a read keeps its copy before the next statement starts:
        # so a read queued before a write is corrected by it, and one queued after reads the write.

    def _keep(self, guild_id: int, thread_id: int, conversation: Conversation | None) -> None:
        self._threads[(guild_id, thread_id)] = conversation
        self._threads.move_to_end((guild_id, thread_id))
        if len(self._threads) > THREADS_KEPT:
            self._threads.popitem(last=False)

    def _forget(self, conversation: Conversation) -> None:
        self._threads.pop((conversation.guild_id, conversation.thread_id), None)

    async def create(
        self,
        *,
        guild_id: int,
        channel_id: int,
        thread_id: int,
        user_id: int,
        model: str,
        instructions: str,
        locale: str,
    ) -> Conversation:
        now = _now()
        async with self._db.transaction() as conn:
            row = await conn.execute_insert(
                "INSERT INTO chat_conversations (guild_id, channel_id, thread_id, user_id, model,"
                " instructions, locale, created_at, last_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (guild_id, channel_id, thread_id, user_id, model, instructions, locale, now, now),
            )
        assert row is not None
        conversation = Conversation(
            id=int(row[0]),
            guild_id=guild_id,
            channel_id=channel_id,
            thread_id=thread_id,
            user_id=user_id,
            model=model,
            instructions=instructions,
            locale=locale,
            turns=0,
            ended=False,
        )
        self._keep(guild_id, thread_id, conversation)
        return conversation

    async def by_thread(self, guild_id: int, thread_id: int) -> Conversation | None:
        key = (guild_id, thread_id)
        if key in self._threads:
            self._threads.move_to_end(key)
            return self._threads[key]
        row = await self._db.fetchone(
            "SELECT * FROM chat_conversations WHERE guild_id = ? AND thread_id = ?", (guild_id, thread_id)
        )
        conversation = None if row is None else _conversation(row)
        self._keep(guild_id, thread_id, conversation)
        return conversation

    async def get(self, guild_id: int, conversation_id: int) -> Conversation | None:
        row = await self._db.fetchone(
            "SELECT * FROM chat_conversations WHERE guild_id = ? AND id = ?", (guild_id, conversation_id)
        )
        return None if row is None else _conversation(row)

    async def end(self, conversation: Conversation) -> bool:
        """Mark the conversation ended; False when it already was (or does not exist)."""
        rows = await self._db.write(
            "UPDATE chat_conversations SET ended = 1 WHERE guild_id = ? AND id = ? AND ended = 0"
            " RETURNING id",
            (conversation.guild_id, conversation.id),
        )
        self._forget(conversation)
        return bool(rows)

    async def add_message(
        self,
        conversation: Conversation,
        *,
        role: Role,
        author_id: int,
        author_name: str,
        content: str,
        images: tuple[str, ...] = (),
        reply_to: int | None = None,
        message_id: int | None = None,
    ) -> StoredMessage:
        """Store one message; an assistant message counts as a turn of the conversation."""
        now = _now()
        tokens = context_tokens(role, author_name, content, len(images))
        # One statement, atomic on its own; a trigger updates the conversation's counters with it.
        rows = await self._db.write(
            "INSERT INTO chat_messages (conversation_id, guild_id, role, author_id, author_name,"
            " content, images, tokens, reply_to, message_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                conversation.id,
                conversation.guild_id,
                role,
                author_id,
                author_name,
                content,
                json.dumps(list(images)),
                tokens,
                reply_to,
                message_id,
                now,
            ),
        )
        row = rows[0] if rows else None
        assert row is not None
        key = (conversation.guild_id, conversation.thread_id)
        kept = self._threads.get(key)
        if role == "assistant" and kept is not None and kept.id == conversation.id:
            # What the trigger chat_messages_counted did to the row.
            self._threads[key] = kept.model_copy(update={"turns": kept.turns + 1})
        return StoredMessage(
            id=int(row[0]),
            role=role,
            author_id=author_id,
            author_name=author_name,
            content=content,
            images=images,
            reply_to=reply_to,
            message_id=message_id,
            tokens=tokens,
        )

    async def history(
        self, conversation: Conversation, *, up_to: int | None = None, budget: int | None = None
    ) -> list[StoredMessage]:
        """The conversation's messages in conversation order.

        `up_to`: only those before and including that user message (and answers to earlier ones).
        `budget`: only the newest messages whose stored token estimates fit it (the newest always),
        chosen in SQL so a long thread's older rows are never loaded.
        """
        params: list[Any] = [conversation.guild_id, conversation.id]
        where = ""
        if up_to is not None:
            where = " AND COALESCE(reply_to, id) <= ? AND NOT (reply_to IS NOT NULL AND reply_to = ?)"
            params += [up_to, up_to]
        if budget is None:
            rows = await self._db.fetchall(
                f"{_SELECT_MESSAGE} FROM chat_messages WHERE guild_id = ? AND conversation_id = ?{where}"
                f" {_HISTORY_ORDER}",
                params,
            )
        else:
            # The running total from the newest message back is computed over narrow rows (ids and
            # token counts); only the rows that fit are then read in full.
            rows = await self._db.fetchall(
                "WITH ranked AS (SELECT id AS rid, tokens AS own, SUM(tokens) OVER (ORDER BY"
                " COALESCE(reply_to, id) DESC, reply_to IS NOT NULL DESC, id DESC ROWS UNBOUNDED PRECEDING)"
                " AS running FROM chat_messages WHERE guild_id = ? AND conversation_id = ?"
                f"{where}) {_SELECT_MESSAGE} FROM chat_messages JOIN ranked ON id = rid"
                f" WHERE running <= ? OR running = own {_HISTORY_ORDER}",
                [*params, budget],
            )
        return [_message(row) for row in rows]

    async def answer_to(self, conversation: Conversation, message_id: int) -> StoredMessage | None:
        row = await self._db.fetchone(
            _SELECT_MESSAGE + " FROM chat_messages"
            " WHERE guild_id = ? AND conversation_id = ? AND reply_to = ? ORDER BY id DESC LIMIT 1",
            (conversation.guild_id, conversation.id, message_id),
        )
        return None if row is None else _message(row)

    async def delete_answer(self, conversation: Conversation, answer_id: int) -> None:
        """Forget an answer (Regenerate replaces it); a trigger stops counting it as a turn."""
        await self._db.write(
            "DELETE FROM chat_messages"
            " WHERE guild_id = ? AND conversation_id = ? AND id = ? AND role = 'assistant'",
            (conversation.guild_id, conversation.id, answer_id),
        )
        self._forget(conversation)

    async def last_user_message(self, conversation: Conversation) -> StoredMessage | None:
        row = await self._db.fetchone(
            _SELECT_MESSAGE + " FROM chat_messages"
            " WHERE guild_id = ? AND conversation_id = ? AND role = 'user' ORDER BY id DESC LIMIT 1",
            (conversation.guild_id, conversation.id),
        )
        return None if row is None else _message(row)

    async def turns(self, conversation: Conversation) -> int:
        row = await self._db.fetchone(
            "SELECT turns FROM chat_conversations WHERE guild_id = ? AND id = ?",
            (conversation.guild_id, conversation.id),
        )
        return 0 if row is None else int(row["turns"])

    async def purge(self, now: datetime, default_days: int, days_by_guild: dict[int, int]) -> int:
        """Delete conversations whose last message is older than each server's retention."""
        deleted = 0
        async with self._db.transaction() as conn:
            for guild_id, days in days_by_guild.items():
                cutoff = int((now - timedelta(days=days)).timestamp())
                await conn.execute_fetchall(
                    "DELETE FROM chat_conversations WHERE guild_id = ? AND last_at < ?", (guild_id, cutoff)
                )
                deleted += int(next(iter(await conn.execute_fetchall("SELECT changes()")))[0])
            cutoff = int((now - timedelta(days=default_days)).timestamp())
            others = tuple(days_by_guild)
            await conn.execute_fetchall(
                "DELETE FROM chat_conversations WHERE last_at < ?"
                f" AND guild_id NOT IN ({', '.join('?' * len(others))})",
                (cutoff, *others),
            )
            deleted += int(next(iter(await conn.execute_fetchall("SELECT changes()")))[0])
        self._threads.clear()
        return deleted
