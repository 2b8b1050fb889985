"""`POST /v1/chat/completions` of the fake OpenAI server, plain and streamed.

Owns the chat contract: message validation, reasoning-model parameter rules, context limits, choices,
usage and SSE chunks. The answer is generated from the last user message's text (markers work there).
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from tests.fakes.catalog import ModelInfo
from tests.fakes.common import fake_of, fault_of, json_body, new_id, now
from tests.fakes.errors import ApiError, invalid, model_not_found
from tests.fakes.sse import send_stream
from tests.fakes.textgen import Generation, estimate_tokens, generate, parse_markers
from tests.fakes.validate import in_range, one_of, reject_unknown, require_object, typed

_ALLOWED = (
    "model",
    "messages",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "max_completion_tokens",
    "max_tokens",
    "n",
    "presence_penalty",
    "reasoning_effort",
    "response_format",
    "seed",
    "stop",
    "stream",
    "stream_options",
    "temperature",
    "top_logprobs",
    "top_p",
    "user",
)
_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
# Without a limit the fake still has to stop somewhere; real answers are rarely longer.
_DEFAULT_LIMIT = 4096
# Tokens an image part costs (OpenAI's low-detail price), and per-message overhead.
IMAGE_TOKENS = 85
MESSAGE_OVERHEAD = 3
_REASONING = re.compile(r"^(ft:)?(gpt-5|o\d)")


def register(app: web.Application) -> None:
    app.router.add_post("/v1/chat/completions", create)


def is_reasoning(model: str) -> bool:
    return bool(_REASONING.match(model))


def message_text(content: Any) -> str:
    """The text of a message's content (a string, or the text parts joined by newlines)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """Input tokens of a request: each message's text at ceil(chars / 4), 85 per image, 3 per message."""
    total = 0
    for m in messages:
        content = m.get("content")
        total += MESSAGE_OVERHEAD + estimate_tokens(message_text(content))
        if isinstance(content, list):
            total += IMAGE_TOKENS * sum(
                1 for p in content if isinstance(p, dict) and p.get("type") == "image_url"
            )
    return total


def generation_prompt(messages: list[dict[str, Any]]) -> str:
    """What the answer is generated from: the last user message's text."""
    for m in reversed(messages):
        if m.get("role") == "user":
            return message_text(m.get("content"))
    return ""


def chat_text_for(messages: list[dict[str, Any]], max_tokens: int | None = None) -> str:
    return generate(generation_prompt(messages), max_tokens or _DEFAULT_LIMIT).text


def _messages(value: Any, info: ModelInfo) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise invalid("Invalid type for 'messages': expected an array.", "messages", "invalid_type")
    if not value:
        raise invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty "
            "array instead.",
            "messages",
            "empty_array",
        )
    for index, m in enumerate(value):
        where = f"messages[{index}]"
        if not isinstance(m, dict):
            raise invalid(f"Invalid type for '{where}': expected an object.", where, "invalid_type")
        if "role" not in m:
            raise invalid(
                f"Missing required parameter: '{where}.role'.", f"{where}.role", "missing_required_parameter"
            )
        one_of(f"{where}.role", m["role"], _ROLES)
        content = m.get("content")
        if content is None and m["role"] != "assistant":
            raise invalid(
                f"Missing required parameter: '{where}.content'.",
                f"{where}.content",
                "missing_required_parameter",
            )
        if isinstance(content, list):
            for p_index, part in enumerate(content):
                kind = part.get("type") if isinstance(part, dict) else None
                one_of(f"{where}.content[{p_index}].type", kind, ("text", "image_url"))
                if kind == "image_url" and not info.vision:
                    raise invalid(
                        "Invalid content type. image_url is only supported by certain models.",
                        f"{where}.content[{p_index}].type",
                        None,
                    )
        elif content is not None and not isinstance(content, str):
            raise invalid(
                f"Invalid type for '{where}.content': expected a string or an array.",
                f"{where}.content",
                "invalid_type",
            )
    return value


def _lookup(request: web.Request, model: str) -> ModelInfo:
    info = fake_of(request).catalog.get(model)
    if info is None:
        raise model_not_found(model)
    if info.kind == "completion":
        raise ApiError(
            404,
            "This is not a chat model and thus not supported in the v1/chat/completions endpoint. Did "
            "you mean to use v1/completions?",
            param="model",
        )
    if info.kind != "chat":
        raise ApiError(
            400,
            f"The model `{model}` is not supported by the chat/completions endpoint.",
            param="model",
            code="invalid_value",
        )
    return info


def _reasoning_rules(model: str, body: dict[str, Any]) -> None:
    """What OpenAI answers a reasoning model given classic parameters."""
    if "max_tokens" in body:
        raise invalid(
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
            "'max_completion_tokens' instead.",
            "max_tokens",
            "unsupported_parameter",
        )
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        raise invalid(
            f"Unsupported value: 'temperature' does not support {temperature} with this model. Only the "
            "default (1) value is supported.",
            "temperature",
            "unsupported_value",
        )


async def create(request: web.Request) -> web.StreamResponse:
    fake = fake_of(request)
    body = require_object(json_body(request))
    reject_unknown(body, _ALLOWED)
    model = typed(body, "model", str)
    if model is None:
        raise invalid("You must provide a model parameter.", None, None)
    info = _lookup(request, model)
    messages = _messages(body.get("messages"), info)
    if is_reasoning(model):
        _reasoning_rules(model, body)
    max_tokens = typed(body, "max_completion_tokens", int)
    if max_tokens is None:
        max_tokens = typed(body, "max_tokens", int)
    in_range("max_tokens", max_tokens, 1)
    n = typed(body, "n", int, 1)
    in_range("n", n, 1, 128)
    for name, low, high in (
        ("temperature", 0, 2),
        ("top_p", 0, 1),
        ("frequency_penalty", -2, 2),
        ("presence_penalty", -2, 2),
    ):
        in_range(name, typed(body, name, float), low, high)
    effort = typed(body, "reasoning_effort", str)
    if effort is not None:
        one_of("reasoning_effort", effort, ("none", "minimal", "low", "medium", "high", "xhigh"))
    stream = typed(body, "stream", bool, False)
    stream_options = typed(body, "stream_options", dict)
    if stream_options is not None:
        if not stream:
            raise invalid(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                "stream_options",
                None,
            )
        for key, value in stream_options.items():
            one_of("stream_options", key, ("include_usage", "include_obfuscation"))
            if not isinstance(value, bool):
                raise invalid(
                    f"Invalid type for 'stream_options.{key}': expected a boolean.",
                    f"stream_options.{key}",
                    "invalid_type",
                )
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else None

    input_tokens = prompt_tokens(messages)
    limit = max_tokens or _DEFAULT_LIMIT
    if info.context is not None and input_tokens + (max_tokens or 0) > info.context:
        raise invalid(
            f"This model's maximum context length is {info.context} tokens. However, your messages "
            f"resulted in {input_tokens} tokens. Please reduce the length of the messages.",
            "messages",
            "context_length_exceeded",
        )
    fake.admit(request, input_tokens + limit * n, model)

    prompt = generation_prompt(messages)
    gens: list[Generation] = [generate(prompt, limit, c, stops) for c in range(n)]
    usage = {
        "prompt_tokens": input_tokens,
        "completion_tokens": sum(len(g.tokens) for g in gens),
        "total_tokens": input_tokens + sum(len(g.tokens) for g in gens),
    }
    no_usage = parse_markers(prompt).no_usage
    completion_id, created = new_id("chatcmpl-", 15), now()
    base = {"id": completion_id, "object": "chat.completion", "created": created, "model": model}

    if not stream:
        out: dict[str, Any] = {
            **base,
            "choices": [
                {
                    "index": index,
                    "message": {"role": "assistant", "content": gen.text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": gen.finish_reason,
                }
                for index, gen in enumerate(gens)
            ],
        }
        if not no_usage:
            out["usage"] = usage
        return web.json_response(out)

    include_usage = bool((stream_options or {}).get("include_usage")) and not no_usage
    chunk_base = {**base, "object": "chat.completion.chunk"}
    events: list[dict[str, Any]] = []

    def chunk(index: int, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        event: dict[str, Any] = {
            **chunk_base,
            "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            # The API sends `usage: null` on every chunk but the last when include_usage is set.
            event["usage"] = None
        return event

    for index, gen in enumerate(gens):
        events.append(chunk(index, {"role": "assistant", "content": "", "refusal": None}, None))
        events.extend(chunk(index, {"content": token}, None) for token in gen.tokens)
        events.append(chunk(index, {}, gen.finish_reason))
    if include_usage:
        events.append({**chunk_base, "choices": [], "usage": usage})
    return await send_stream(request, events, fake.stream_delay, fault_of(request))
