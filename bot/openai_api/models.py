"""GET /models (and /models/{id}): the source of truth for which models the account can use.
Models are retired often, so nothing else in the client names one."""

from __future__ import annotations

from urllib.parse import quote

from pydantic import Field

from bot.openai_api._base import APIModel
from bot.openai_api.transport import Transport


class Model(APIModel):
    id: str
    object: str = "model"
    created: int = 0
    owned_by: str = ""


class ModelList(APIModel):
    object: str = "list"
    data: list[Model] = Field(default_factory=list)

    def ids(self) -> list[str]:
        return [m.id for m in self.data]


class Models:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def list(
        self, *, request_timeout: float | None = None, max_retries: int | None = None
    ) -> ModelList:
        """`max_retries` overrides the client's for this call (the catalog refresh retries on its own)."""
        raw = await self._t.get("/models", request_timeout=request_timeout, max_retries=max_retries)
        return self._t.parse(ModelList, raw)

    async def retrieve(self, model_id: str, *, request_timeout: float | None = None) -> Model:
        raw = await self._t.get(f"/models/{quote(model_id, safe='')}", request_timeout=request_timeout)
        return self._t.parse(Model, raw)
