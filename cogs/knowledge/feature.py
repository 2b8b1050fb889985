"""The knowledge feature's declaration: per-server knowledge base settings, limits and needs.
The core reads it through `bot.features`; nothing in `bot/` names this feature."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from bot.features import Feature, FeatureSettings


class KnowledgeSettings(FeatureSettings):
    """Per-server /kb and /ask settings; `model` is the embedding model (bot default if unset)."""

    #: Vector size asked of text-embedding-3-* models; smaller keeps the index small in memory.
    dimensions: int = Field(default=512, ge=64, le=3072)
    #: Members with one of these roles may add and remove documents (Manage Server always may).
    editor_role_ids: tuple[int, ...] = ()
    #: Chat model that writes /ask answers; None follows the bot-wide chat model.
    answer_model: str | None = Field(default=None, min_length=1, max_length=100)
    max_documents: int = Field(default=500, ge=1, le=100_000)
    max_chunks: int = Field(default=20_000, ge=1, le=1_000_000)
    max_file_kb: int = Field(default=2048, ge=1, le=25_600)
    #: Passages /ask gives the model, and the least cosine similarity a passage needs to be used.
    top_k: int = Field(default=5, ge=1, le=20)
    min_similarity: float = Field(default=0.35, ge=0.0, le=1.0, allow_inf_nan=False)


# Chunks aim at this many (estimated) tokens with this much overlap carried from the previous one.
CHUNK_TOKENS = 300
OVERLAP_TOKENS = 40
# /kb add text option and /ask question lengths (Discord caps option values at 6,000 characters).
MAX_TEXT_CHARS = 4000
MAX_QUESTION_CHARS = 1000
MAX_TITLE_CHARS = 100
# Longest /ask answer, in tokens.
MAX_ANSWER_TOKENS = 1024
# Embedding requests of one ingestion in flight at once.
EMBED_CONCURRENCY = 4

FEATURE = Feature(
    name="knowledge",
    settings=KnowledgeSettings,
    model_setting="embedding_model",
    permissions=frozenset({"view_channel", "send_messages", "read_message_history"}),
    help_key="feature.knowledge.help",
    migrations=Path(__file__).parent / "migrations",
    locales=Path(__file__).parent / "locales",
)
