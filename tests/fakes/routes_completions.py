"""`POST /v1/completions` of the fake OpenAI server, plain and streamed.

Owns the legacy completions contract: validation, context limits, choices, usage and SSE chunks.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes.common import fake_of, fault_of, json_body, lookup_model, new_id, now
from tests.fakes.errors import invalid
from tests.fakes.sse import send_stream
from tests.fakes.textgen import Generation, estimate_tokens, generate, parse_markers
from tests.fakes.validate import in_range, one_of, reject_unknown, require_object, required, typed

_ALLOWED = (
    "model",
    "prompt",
    "best_of",
    "echo",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "max_tokens",
    "n",
    "presence_penalty",
    "seed",
    "stop",
    "stream",
    "stream_options",
    "suffix",
    "temperature",
    "top_p",
    "user",
)


def register(app: web.Application) -> None:
    app.router.add_post("/v1/completions", create)


def _prompts(value: Any) -> list[tuple[str, int]]:
    """Each prompt as (text used for generation, prompt tokens)."""
    if isinstance(value, str):
        return [(value, estimate_tokens(value))]
    if isinstance(value, list) and value:
        if all(isinstance(v, str) for v in value):
            return [(v, estimate_tokens(v)) for v in value]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return [(" ".join(map(str, value)), len(value))]
        if all(isinstance(v, list) and v and all(isinstance(t, int) for t in v) for v in value):
            return [(" ".join(map(str, v)), len(v)) for v in value]
    raise invalid(
        "Invalid 'prompt': expected a string, an array of strings, an array of tokens or an array of "
        "token arrays.",
        "prompt",
        "invalid_type",
    )


def _stop(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        if len(value) > 4:
            raise invalid(
                f"Invalid 'stop': array too long. Expected an array with maximum length 4, but got an "
                f"array with length {len(value)} instead.",
                "stop",
                "array_above_max_length",
            )
        return value
    raise invalid(
        "Invalid type for 'stop': expected a string or an array of strings.", "stop", "invalid_type"
    )


def _logprobs(gen: Generation, count: int) -> dict[str, Any]:
    offsets, position = [], 0
    for token in gen.tokens:
        offsets.append(position)
        position += len(token)
    return {
        "tokens": gen.tokens,
        "token_logprobs": [-0.25 for _ in gen.tokens],
        "top_logprobs": [{t: -0.25} for t in gen.tokens] if count else [],
        "text_offset": offsets,
    }


async def create(request: web.Request) -> web.StreamResponse:
    fake = fake_of(request)
    body = require_object(json_body(request))
    reject_unknown(body, _ALLOWED)
    model = typed(body, "model", str)
    if model is None:
        raise invalid("You must provide a model parameter.", None, None)
    prompts = _prompts(required(body, "prompt"))
    info = lookup_model(request, model, "completion", "completions")
    max_tokens = typed(body, "max_tokens", int)
    in_range("max_tokens", max_tokens, 0)
    n = typed(body, "n", int, 1)
    in_range("n", n, 1, 128)
    for name, low, high in (
        ("temperature", 0, 2),
        ("top_p", 0, 1),
        ("frequency_penalty", -2, 2),
        ("presence_penalty", -2, 2),
    ):
        in_range(name, typed(body, name, float), low, high)
    best_of = typed(body, "best_of", int, 1)
    in_range("best_of", best_of, 0, 20)
    logprobs = typed(body, "logprobs", int)
    in_range("logprobs", logprobs, 0, 5)
    stream = typed(body, "stream", bool, False)
    stream_options = typed(body, "stream_options", dict)
    echo = typed(body, "echo", bool, False)
    stop = _stop(body.get("stop"))
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
    if stream and best_of > 1:
        raise invalid("Cannot stream results when best_of > 1.", "best_of", None)
    budget = 16 if max_tokens is None else max_tokens
    for _, prompt_tokens in prompts:
        if info.context is not None and prompt_tokens + budget > info.context:
            raise invalid(
                f"This model's maximum context length is {info.context} tokens, however you requested "
                f"{prompt_tokens + budget} tokens ({prompt_tokens} in your prompt; {budget} for the "
                "completion). Please reduce your prompt; or completion length.",
                "prompt",
                "context_length_exceeded",
            )
    prompt_tokens_total = sum(t for _, t in prompts)
    fake.admit(request, prompt_tokens_total + budget * n * len(prompts), model)

    choices: list[tuple[int, str, Generation]] = []
    for p_index, (text, _) in enumerate(prompts):
        for c in range(n):
            choices.append((p_index * n + c, text, generate(text, max_tokens, c, stop)))
    no_usage = any(parse_markers(text).no_usage for text, _ in prompts)
    usage = {
        "prompt_tokens": prompt_tokens_total,
        "completion_tokens": sum(len(g.tokens) for _, _, g in choices),
        "total_tokens": prompt_tokens_total + sum(len(g.tokens) for _, _, g in choices),
    }
    completion_id, created = new_id("cmpl-", 15), now()
    base = {"id": completion_id, "object": "text_completion", "created": created, "model": model}

    if not stream:
        out: dict[str, Any] = {
            **base,
            "choices": [
                {
                    "text": (text if echo else "") + gen.text,
                    "index": index,
                    "logprobs": _logprobs(gen, logprobs) if logprobs is not None else None,
                    "finish_reason": gen.finish_reason,
                }
                for index, text, gen in choices
            ],
        }
        if not no_usage:
            out["usage"] = usage
        return web.json_response(out)

    include_usage = bool((stream_options or {}).get("include_usage")) and not no_usage
    events: list[dict[str, Any]] = []

    def chunk(index: int, text: str, finish: str | None) -> dict[str, Any]:
        event: dict[str, Any] = {
            **base,
            "choices": [{"text": text, "index": index, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            # The API sends `usage: null` on every chunk but the last when include_usage is set.
            event["usage"] = None
        return event

    for index, text, gen in choices:
        if echo:
            events.append(chunk(index, text, None))
        events.extend(chunk(index, token, None) for token in gen.tokens)
        events.append(chunk(index, "", gen.finish_reason))
    if include_usage:
        events.append({**base, "choices": [], "usage": usage})
    return await send_stream(request, events, fake.stream_delay, fault_of(request))
