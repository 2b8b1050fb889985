-- /chat conversations: one per thread, with its model and instructions, and the thread's messages
-- as the bot saw them (speaker name, text, role), so building the context of a turn reads this table
-- instead of Discord's history. An answer sorts right after the message it answers (reply_to), so
-- messages posted while an answer streamed come after that answer. Rows are purged after the
-- server's retention (counted from the conversation's last message).
CREATE TABLE chat_conversations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id      INTEGER NOT NULL,
    channel_id    INTEGER NOT NULL,
    thread_id     INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    model         TEXT NOT NULL,
    instructions  TEXT NOT NULL DEFAULT '',
    -- the language of the member who started it: the thread's notes and buttons use it
    locale        TEXT NOT NULL DEFAULT 'en-US',
    turns         INTEGER NOT NULL DEFAULT 0,
    ended         INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    last_at       INTEGER NOT NULL,
    UNIQUE (guild_id, thread_id)
);

CREATE INDEX chat_conversations_by_age ON chat_conversations (last_at);

CREATE TABLE chat_messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER NOT NULL REFERENCES chat_conversations (id) ON DELETE CASCADE,
    guild_id        INTEGER NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    author_id       INTEGER NOT NULL,
    author_name     TEXT NOT NULL,
    content         TEXT NOT NULL,
    -- JSON array of image URLs sent along to models that accept images
    images          TEXT NOT NULL DEFAULT '[]',
    -- estimated tokens the message costs as context (speaker, text, images), counted once
    tokens          INTEGER NOT NULL DEFAULT 0,
    reply_to        INTEGER,
    message_id      INTEGER,
    created_at      INTEGER NOT NULL
);

-- Covers the running token total of a turn's context, so it never reads the messages' text.
CREATE INDEX chat_messages_by_conversation ON chat_messages (guild_id, conversation_id, reply_to, id, tokens);

-- A message keeps its conversation's last activity and answer count current in the same statement,
-- so storing one is a single write (no separate transaction around two statements).
CREATE TRIGGER chat_messages_counted AFTER INSERT ON chat_messages
BEGIN
    UPDATE chat_conversations
    SET last_at = NEW.created_at, turns = turns + (NEW.role = 'assistant')
    WHERE id = NEW.conversation_id;
END;

CREATE TRIGGER chat_answers_uncounted AFTER DELETE ON chat_messages WHEN OLD.role = 'assistant'
BEGIN
    UPDATE chat_conversations SET turns = MAX(turns - 1, 0) WHERE id = OLD.conversation_id;
END;
