"""Which endpoint /write uses for a model, and which errors mean "the other endpoint serves it"."""

from __future__ import annotations

import pytest

from bot.model_catalog import ModelCatalog
from bot.openai_api import BadRequestError, NotFoundError, OpenAIClient, RateLimitError
from cogs.write.endpoints import is_wrong_endpoint


@pytest.mark.parametrize(
    ("model", "hosted", "endpoint"),
    [
        ("gpt-3.5-turbo-instruct", True, "completions"),
        ("davinci-002", True, "completions"),
        ("babbage-002", True, "completions"),
        ("gpt-5.4-mini", True, "chat_completions"),
        ("gpt-4.1", True, "chat_completions"),
        ("o4-mini", True, "chat_completions"),
        ("llama3.2", False, "completions"),  # compatible servers serve text models on /completions
    ],
)
def test_endpoint_by_model(model: str, hosted: bool, endpoint: str) -> None:
    catalog = ModelCatalog(OpenAIClient(api_key="k"), openai_hosted=hosted)
    assert catalog.endpoint_for(model) == endpoint
    catalog.remember_endpoint(model, "chat_completions" if endpoint == "completions" else "completions")
    assert catalog.endpoint_for(model) != endpoint


def test_wrong_endpoint_errors() -> None:
    chat_model = NotFoundError(
        "This is a chat model and not supported in the v1/completions endpoint. Did you mean to use "
        "v1/chat/completions?",
        status=404,
    )
    not_chat = NotFoundError(
        "This is not a chat model and thus not supported in the v1/chat/completions endpoint. Did you "
        "mean to use v1/completions?",
        status=404,
    )
    assert is_wrong_endpoint(chat_model) and is_wrong_endpoint(not_chat)
    assert not is_wrong_endpoint(
        NotFoundError("The model `x` does not exist", status=404, code="model_not_found")
    )
    assert not is_wrong_endpoint(BadRequestError("Invalid 'messages'", status=400))
    assert not is_wrong_endpoint(RateLimitError("Rate limit reached", status=429))
