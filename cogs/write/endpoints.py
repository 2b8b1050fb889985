"""Which endpoint a /write answer uses (completions or chat completions, by model), the retry on
the other one when a server says the model is not served there, and the stream adapter that gives
a chat stream the completion stream's face (`.text`, `.usage`, `.finish_reason`, chunks' `.text`)."""

from __future__ import annotations

import re
from types import TracebackType
from typing import TYPE_CHECKING, Self

from bot.model_catalog import Endpoint
from bot.openai_api import (
    APIStatusError,
    ChatStream,
    CompletionChoice,
    CompletionChunk,
    CompletionStream,
    OpenAIError,
    ResponseMeta,
    Usage,
    is_reasoning_model,
    message,
)

if TYPE_CHECKING:
    from bot.app import OpenAIBot
    from cogs.write.sessions import WriteSession

# What OpenAI (and compatible servers copying it) say when a model is served by the other endpoint:
# "This is a chat model and not supported in the v1/completions endpoint. Did you mean to use
# v1/chat/completions?" and "This is not a chat model and thus not supported in the
# v1/chat/completions endpoint. Did you mean to use v1/completions?".
_WRONG_ENDPOINT = re.compile(
    r"(not a chat model|is a chat model|v1/chat/completions\?|v1/completions\?)", re.I
)


def is_wrong_endpoint(exc: BaseException) -> bool:
    return (
        isinstance(exc, APIStatusError)
        and exc.status in (400, 404)
        and bool(_WRONG_ENDPOINT.search(str(exc)))
    )


class ChatAsCompletionStream:
    """A ChatStream that reads like a CompletionStream: chunks carry `choices[].text`."""

    def __init__(self, stream: ChatStream) -> None:
        self._stream = stream

    @property
    def text(self) -> str:
        return self._stream.text

    @property
    def usage(self) -> Usage | None:
        return self._stream.usage

    @property
    def usage_reported(self) -> bool:
        return self._stream.usage_reported

    @property
    def finish_reason(self) -> str | None:
        return self._stream.finish_reason

    @property
    def meta(self) -> ResponseMeta:
        return self._stream.meta

    async def aclose(self) -> None:
        await self._stream.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> CompletionChunk:
        chunk = await self._stream.__anext__()
        return CompletionChunk(
            id=chunk.id,
            model=chunk.model,
            choices=[
                CompletionChoice(
                    text=choice.delta.content or "", index=choice.index, finish_reason=choice.finish_reason
                )
                for choice in chunk.choices
            ],
            usage=chunk.usage,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


AnswerStream = CompletionStream | ChatAsCompletionStream


async def _open_on(bot: OpenAIBot, session: WriteSession, endpoint: Endpoint) -> AnswerStream:
    user = f"discord:{session.guild_id}:{session.user_id}"
    if endpoint == "completions":
        return await bot.api.completions.stream(
            model=session.model,
            prompt=session.prompt,
            max_tokens=session.max_tokens,
            temperature=session.temperature,
            user=user,
        )
    # Reasoning models take only the default temperature: the option is left out rather than refused.
    temperature = None if is_reasoning_model(session.model) else session.temperature
    stream = await bot.api.chat.completions.stream(
        model=session.model,
        messages=[message("user", session.prompt)],
        max_tokens=session.max_tokens,
        temperature=temperature,
        user=user,
    )
    return ChatAsCompletionStream(stream)


async def open_answer_stream(bot: OpenAIBot, session: WriteSession) -> AnswerStream:
    """Open the session's stream on the model's endpoint; when the server says the model is served
    by the other one, try that once and remember it for the model."""
    catalog = bot.model_catalog
    endpoint = catalog.endpoint_for(session.model)
    try:
        return await _open_on(bot, session, endpoint)
    except OpenAIError as exc:
        if not is_wrong_endpoint(exc):
            raise
    other: Endpoint = "chat_completions" if endpoint == "completions" else "completions"
    stream = await _open_on(bot, session, other)
    catalog.remember_endpoint(session.model, other)
    return stream
