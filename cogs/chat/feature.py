"""The /chat feature's declaration: its per-server settings, default model, needs and help entry.
The core reads it through `bot.features`; nothing in `bot/` names this feature."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from bot.features import Feature, FeatureSettings


class ChatSettings(FeatureSettings):
    """Per-server /chat settings; the defaults here apply until an admin changes one."""

    #: New conversations open private threads (only invited members and moderators see them).
    private_threads: bool = False
    #: Most tokens of thread history sent as context (estimated); older messages are left out.
    max_context_tokens: int = Field(default=16_000, ge=500, le=1_000_000)
    #: Answers one conversation may get; then members start a new one.
    max_turns: int = Field(default=100, ge=1, le=10_000)
    #: Seconds a member waits between two conversations they start.
    cooldown_seconds: float = Field(default=10.0, ge=0, le=3600, allow_inf_nan=False)
    #: Days a conversation's stored messages are kept after its last message.
    keep_days: int = Field(default=30, ge=1, le=365)


# Discord caps option values at 6,000 characters; the opening message and instructions stay well below.
MAX_MESSAGE_CHARS = 4000
MAX_INSTRUCTIONS_CHARS = 2000
# Longest answer asked of the model, in tokens.
MAX_ANSWER_TOKENS = 2048
# Images bigger than this are not sent to the model (OpenAI takes up to 20 MB; most photos are far less).
MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_IMAGES_PER_MESSAGE = 4


FEATURE = Feature(
    name="chat",
    settings=ChatSettings,
    model_setting="chat_model",
    # Without Message Content the feature answers only messages that mention the bot.
    optional_intents=frozenset({"message_content"}),
    permissions=frozenset(
        {
            "view_channel",
            "send_messages",
            "create_public_threads",
            "create_private_threads",
            "send_messages_in_threads",
            "read_message_history",
        }
    ),
    help_key="feature.chat.help",
    migrations=Path(__file__).parent / "migrations",
    locales=Path(__file__).parent / "locales",
)
