"""/chat storage: conversations (one per thread) and the messages the bot saw in them.
Every query is keyed by guild id, so a thread id from another server never reaches its history."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from bot.db import Database

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


class StoredMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    role: Role
    author_id: int
    author_name: str
    content: str
    images: tuple[str, ...] = ()
    reply_to: int | None = None
    #: The Discord message showing it (an answer's last message, where its buttons are).
    message_id: int | None = None


def _now() -> int:
    return int(datetime.now(UTC).timestamp())


def _conversation(row: sqlite3.Row) -> Conversation:
    return Conversation(**{key: row[key] for key in Conversation.model_fields})


def _message(row: sqlite3.Row) -> StoredMessage:
    return StoredMessage(
        id=row["id"],
        role=row["role"],
        author_id=row["author_id"],
        author_name=row["author_name"],
        content=row["content"],
        images=tuple(json.loads(row["images"])),
        reply_to=row["reply_to"],
        message_id=row["message_id"],
    )


_SELECT_MESSAGE = "SELECT id, role, author_id, author_name, content, images, reply_to, message_id"
# An answer sorts right after the message it answers, whatever was posted in between.
_HISTORY_ORDER = "ORDER BY COALESCE(reply_to, id), reply_to IS NOT NULL, id"


class ConversationRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

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
        return Conversation(
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

    async def by_thread(self, guild_id: int, thread_id: int) -> Conversation | None:
        row = await self._db.fetchone(
            "SELECT * FROM chat_conversations WHERE guild_id = ? AND thread_id = ?", (guild_id, thread_id)
        )
        return None if row is None else _conversation(row)

    async def get(self, guild_id: int, conversation_id: int) -> Conversation | None:
        row = await self._db.fetchone(
            "SELECT * FROM chat_conversations WHERE guild_id = ? AND id = ?", (guild_id, conversation_id)
        )
        return None if row is None else _conversation(row)

    async def end(self, guild_id: int, conversation_id: int) -> bool:
        """Mark the conversation ended; False when it already was (or does not exist)."""
        async with self._db.transaction() as conn:
            await conn.execute_fetchall(
                "UPDATE chat_conversations SET ended = 1 WHERE guild_id = ? AND id = ? AND ended = 0",
                (guild_id, conversation_id),
            )
            rows = await conn.execute_fetchall("SELECT changes()")
        return int(next(iter(rows))[0]) > 0

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
        async with self._db.transaction() as conn:
            row = await conn.execute_insert(
                "INSERT INTO chat_messages (conversation_id, guild_id, role, author_id, author_name,"
                " content, images, reply_to, message_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation.id,
                    conversation.guild_id,
                    role,
                    author_id,
                    author_name,
                    content,
                    json.dumps(list(images)),
                    reply_to,
                    message_id,
                    now,
                ),
            )
            await conn.execute_fetchall(
                "UPDATE chat_conversations SET last_at = ?, turns = turns + ? WHERE guild_id = ? AND id = ?",
                (now, 1 if role == "assistant" else 0, conversation.guild_id, conversation.id),
            )
        assert row is not None
        return StoredMessage(
            id=int(row[0]),
            role=role,
            author_id=author_id,
            author_name=author_name,
            content=content,
            images=images,
            reply_to=reply_to,
            message_id=message_id,
        )

    async def history(self, conversation: Conversation, *, up_to: int | None = None) -> list[StoredMessage]:
        """The conversation's messages in conversation order; with `up_to`, only those before and
        including that user message (and answers to earlier ones)."""
        params: tuple[Any, ...] = (conversation.guild_id, conversation.id)
        where = ""
        if up_to is not None:
            where = " AND COALESCE(reply_to, id) <= ? AND NOT (reply_to IS NOT NULL AND reply_to = ?)"
            params = (*params, up_to, up_to)
        rows = await self._db.fetchall(
            _SELECT_MESSAGE + " FROM chat_messages"
            f" WHERE guild_id = ? AND conversation_id = ?{where} {_HISTORY_ORDER}",
            params,
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
        """Forget an answer (Regenerate replaces it); it no longer counts as a turn."""
        async with self._db.transaction() as conn:
            await conn.execute_fetchall(
                "DELETE FROM chat_messages WHERE guild_id = ? AND conversation_id = ? AND id = ?"
                " AND role = 'assistant'",
                (conversation.guild_id, conversation.id, answer_id),
            )
            removed = int(next(iter(await conn.execute_fetchall("SELECT changes()")))[0])
            await conn.execute_fetchall(
                "UPDATE chat_conversations SET turns = MAX(turns - ?, 0) WHERE guild_id = ? AND id = ?",
                (removed, conversation.guild_id, conversation.id),
            )

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
        return deleted
