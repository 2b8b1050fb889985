"""/chat's conversation repository keeps recent threads' conversations in memory: what it returns
is always what the database holds, through every write and every read racing a write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.db import Database
from cogs.chat.conversations import Conversation, ConversationRepo
from cogs.chat.feature import FEATURE


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "chat.db")
    assert FEATURE.migrations is not None
    await database.migrate_feature(FEATURE.name, FEATURE.migrations)
    yield database
    await database.close()


async def _create(repo: ConversationRepo, thread_id: int = 30, guild_id: int = 1) -> Conversation:
    return await repo.create(
        guild_id=guild_id,
        channel_id=20,
        thread_id=thread_id,
        user_id=4,
        model="gpt-5.4-mini",
        instructions="",
        locale="en-US",
    )


async def _stored(db: Database, guild_id: int, thread_id: int) -> Conversation | None:
    """The row as a fresh repository (nothing in memory) reads it."""
    return await ConversationRepo(db).by_thread(guild_id, thread_id)


async def test_every_write_is_seen_by_the_next_read(db: Database) -> None:
    repo = ConversationRepo(db)
    assert await repo.by_thread(1, 30) is None  # "no conversation here" is kept too
    conversation = await _create(repo)
    assert await repo.by_thread(1, 30) == conversation == await _stored(db, 1, 30)

    asked = await repo.add_message(conversation, role="user", author_id=4, author_name="a", content="hi")
    answer = await repo.add_message(
        conversation, role="assistant", author_id=0, author_name="bot", content="hello", reply_to=asked.id
    )
    kept = await repo.by_thread(1, 30)
    assert kept is not None and kept.turns == 1 == (await repo.turns(conversation))
    assert kept == await _stored(db, 1, 30)

    await repo.delete_answer(conversation, answer.id)  # Regenerate
    kept = await repo.by_thread(1, 30)
    assert kept is not None and kept.turns == 0 and kept == await _stored(db, 1, 30)

    assert await repo.end(conversation) is True
    assert await repo.end(conversation) is False  # already ended
    kept = await repo.by_thread(1, 30)
    assert kept is not None and kept.ended and kept == await _stored(db, 1, 30)

    now = datetime.now(UTC)
    assert await repo.purge(now + timedelta(days=31), 30, {}) == 1
    assert await repo.by_thread(1, 30) is None is await _stored(db, 1, 30)


async def test_the_same_thread_id_in_another_server_is_another_thread(db: Database) -> None:
    repo = ConversationRepo(db)
    mine = await _create(repo, guild_id=1)
    assert await repo.by_thread(2, 30) is None
    assert await repo.by_thread(1, 30) == mine


async def test_a_read_racing_a_write_never_leaves_a_stale_copy(db: Database) -> None:
    repo = ConversationRepo(db)
    # Nothing in memory: the read goes to SQLite while the conversation is being created.
    before, created = await asyncio.gather(repo.by_thread(1, 30), _create(repo))
    assert before is None  # it read the row before it existed: true when it ran
    assert await repo.by_thread(1, 30) == created

    other = await _create(repo, thread_id=31)
    fresh = ConversationRepo(db)
    # A read of the open conversation queued just before /chat end ends it.
    seen, ended = await asyncio.gather(fresh.by_thread(1, 31), fresh.end(other))
    assert seen is not None and not seen.ended and ended
    after = await fresh.by_thread(1, 31)
    assert after is not None and after.ended

    # And a read queued just after an answer was stored still counts the turn.
    third = await _create(repo, thread_id=32)
    fresh = ConversationRepo(db)
    await asyncio.gather(
        fresh.add_message(third, role="assistant", author_id=0, author_name="bot", content="x"),
        fresh.by_thread(1, 32),
    )
    kept = await fresh.by_thread(1, 32)
    assert kept is not None and kept.turns == 1
