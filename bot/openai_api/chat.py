"""POST /chat/completions, plain and streamed: typed requests, responses, the ChatStream, and the
per-model parameter rules (reasoning models take `max_completion_tokens` and no `temperature`)."""

from __future__ import annotations

import logging
import re
from typing import Any, Literal

from pydantic import Field

from bot.openai_api._base import APIModel, RequestModel, Usage
from bot.openai_api.stream import JSONEventStream
from bot.openai_api.transport import Transport

log = logging.getLogger(__name__)

Role = Literal["system", "developer", "user", "assistant"]
#: A message's content: plain text, or parts (`{"type": "text", ...}`, `{"type": "image_url", ...}`).
Content = str | list[dict[str, Any]]

# OpenAI's reasoning families: gpt-5*, o1/o3/o4... (also their dated and fine-tuned variants).
_REASONING = re.compile(r"^(ft:)?(gpt-5|o\d)")


class ChatParameterError(ValueError):
    """A request the model would refuse, caught before it is sent."""


def is_reasoning_model(model: str) -> bool:
    return bool(_REASONING.match(model))


def token_limit_field(model: str) -> str:
    """The body field that caps the answer's length for this model.

    OpenAI's reasoning models reject `max_tokens`; older chat models take the classic `max_tokens`,
    and so do compatible servers (Ollama, vLLM), whose models (llama3, qwen, ...) are not named
    like OpenAI's reasoning families. Decided by name, so the same rules hold on any server.
    """
    return "max_completion_tokens" if is_reasoning_model(model) else "max_tokens"


def check_parameters(model: str, temperature: float | None) -> None:
    """Raise ChatParameterError for a parameter the model refuses (reasoning models take only the
    default temperature, 1)."""
    if is_reasoning_model(model) and temperature is not None and temperature != 1:
        raise ChatParameterError(f"{model} accepts only the default temperature (1), not {temperature}")


class ChatMessage(APIModel):
    role: str
    content: Content | None = None
    name: str | None = None


def message(role: Role, content: Content, name: str | None = None) -> dict[str, Any]:
    """One request message, without unset fields."""
    out: dict[str, Any] = {"role": role, "content": content}
    if name is not None:
        out["name"] = name
    return out


class ChatCompletionRequest(RequestModel):
    model: str
    messages: list[dict[str, Any]]
    max_completion_tokens: int | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    reasoning_effort: str | None = None
    user: str | None = None
    stream: bool | None = None
    stream_options: dict[str, Any] | None = None


class ChatChoice(APIModel):
    index: int = 0
    message: ChatMessage = Field(default_factory=lambda: ChatMessage(role="assistant"))
    finish_reason: str | None = None


class ChatCompletion(APIModel):
    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    choices: list[ChatChoice] = Field(default_factory=list)
    usage: Usage | None = None

    @property
    def text(self) -> str:
        """Text of the first choice ("" when there is none)."""
        if not self.choices:
            return ""
        content = self.choices[0].message.content
        return content if isinstance(content, str) else ""


class ChatDelta(APIModel):
    role: str | None = None
    content: str | None = None
    refusal: str | None = None


class ChatChunkChoice(APIModel):
    index: int = 0
    delta: ChatDelta = Field(default_factory=ChatDelta)
    finish_reason: str | None = None


class ChatCompletionChunk(APIModel):
    """One streamed event; with include_usage the final chunk has no choices and carries `usage`."""

    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    choices: list[ChatChunkChoice] = Field(default_factory=list)
    usage: Usage | None = None


class ChatStream(JSONEventStream[ChatCompletionChunk]):
    """Async iterator of chunks; `text`, `finish_reason` and `usage` follow choice 0 and stay
    readable after an error, so a caller keeps partial output."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parts: list[str] = []
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        #: Content deltas received (about one token each), for estimates when no usage is reported.
        self.deltas = 0

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def usage_reported(self) -> bool:
        return self.usage is not None

    def _on_chunk(self, chunk: ChatCompletionChunk) -> None:
        for choice in chunk.choices:
            if choice.index == 0:
                piece = choice.delta.content or choice.delta.refusal
                if piece:
                    self._parts.append(piece)
                    self.deltas += 1
                if choice.finish_reason is not None:
                    self.finish_reason = choice.finish_reason
        if chunk.usage is not None:
            self.usage = chunk.usage

    def _on_done(self) -> None:
        if self.usage is None:
            log.info("stream %s finished without a usage report", self._path)

    def _ended_cleanly(self) -> bool:
        # A compatible server may omit [DONE]; a finish_reason means the text is complete anyway.
        if self.finish_reason is not None:
            self._on_done()
            return True
        return False


class ChatCompletions:
    """`chat.completions.create` / `.stream`, with the model's parameter rules applied first."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def _body(
        self,
        model: str,
        messages: list[dict[str, Any]],
        max_tokens: int | None,
        temperature: float | None,
        extra: dict[str, Any],
        **stream: Any,
    ) -> bytes:
        check_parameters(model, temperature)
        limit = {token_limit_field(model): max_tokens}
        return ChatCompletionRequest(
            model=model, messages=messages, temperature=temperature, **limit, **stream, **extra
        ).to_json()

    async def create(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]],
        max_tokens: int | None = None,
        temperature: float | None = None,
        request_timeout: float | None = None,
        **extra: Any,
    ) -> ChatCompletion:
        """`max_tokens` is sent as the field the model takes (see `token_limit_field`)."""
        body = self._body(model, messages, max_tokens, temperature, extra)
        raw = await self._t.post_json("/chat/completions", body, request_timeout=request_timeout)
        return self._t.parse(ChatCompletion, raw)

    async def stream(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]],
        max_tokens: int | None = None,
        temperature: float | None = None,
        request_timeout: float | None = None,
        **extra: Any,
    ) -> ChatStream:
        """Open a streamed chat completion; retries apply until the response starts, never after."""
        options = dict(extra.pop("stream_options", None) or {})
        options.setdefault("include_usage", True)
        extra.pop("stream", None)
        body = self._body(
            model, messages, max_tokens, temperature, extra, stream=True, stream_options=options
        )
        response, meta = await self._t.open_stream("/chat/completions", body, request_timeout=request_timeout)
        return ChatStream(response, meta, ChatCompletionChunk, self._t.secret_to_scrub)


class Chat:
    """The `client.chat` namespace, as in the official SDK: `client.chat.completions`."""

    def __init__(self, transport: Transport) -> None:
        self.completions = ChatCompletions(transport)
