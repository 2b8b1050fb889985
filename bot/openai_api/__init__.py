"""Async client for the OpenAI HTTP API and OpenAI-compatible servers.
Public names are re-exported here; cogs import from `bot.openai_api` only."""

from __future__ import annotations

from bot.openai_api._base import APIModel, RateLimits, ResponseMeta, Usage, parse_duration
from bot.openai_api.audio import (
    TextTranscription,
    Transcription,
    TranscriptionEvent,
    TranscriptionStream,
    TranscriptionUsage,
)
from bot.openai_api.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatParameterError,
    ChatStream,
    check_parameters,
    is_reasoning_model,
    message,
    token_limit_field,
)
from bot.openai_api.client import OpenAIClient
from bot.openai_api.completions import Completion, CompletionChoice, CompletionChunk, CompletionStream
from bot.openai_api.embeddings import Embedding, EmbeddingsResponse
from bot.openai_api.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ContentPolicyError,
    InternalServerError,
    NotFoundError,
    OpenAIError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    UnprocessableEntityError,
    error_from_response,
)
from bot.openai_api.files import FileDeleted, FileList, FileObject
from bot.openai_api.fine_tuning import FineTuningEvent, FineTuningEventList, FineTuningJob, FineTuningJobList
from bot.openai_api.images import (
    ImageData,
    ImageFile,
    ImagesResponse,
    ImageStream,
    ImageStreamEvent,
    ImageUsage,
)
from bot.openai_api.models import Model, ModelList
from bot.openai_api.moderations import ModerationResponse, ModerationResult, image_part, text_part

__all__ = [
    "APIConnectionError",
    "APIModel",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatParameterError",
    "ChatStream",
    "Completion",
    "CompletionChoice",
    "CompletionChunk",
    "CompletionStream",
    "ConflictError",
    "ContentPolicyError",
    "Embedding",
    "EmbeddingsResponse",
    "FileDeleted",
    "FileList",
    "FileObject",
    "FineTuningEvent",
    "FineTuningEventList",
    "FineTuningJob",
    "FineTuningJobList",
    "ImageData",
    "ImageFile",
    "ImageStream",
    "ImageStreamEvent",
    "ImageUsage",
    "ImagesResponse",
    "InternalServerError",
    "Model",
    "ModelList",
    "ModerationResponse",
    "ModerationResult",
    "NotFoundError",
    "OpenAIClient",
    "OpenAIError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitError",
    "RateLimits",
    "ResponseMeta",
    "TextTranscription",
    "Transcription",
    "TranscriptionEvent",
    "TranscriptionStream",
    "TranscriptionUsage",
    "UnprocessableEntityError",
    "Usage",
    "check_parameters",
    "error_from_response",
    "image_part",
    "is_reasoning_model",
    "message",
    "parse_duration",
    "text_part",
    "token_limit_field",
]
