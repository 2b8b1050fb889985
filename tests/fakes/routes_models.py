"""`GET /v1/models` and `GET /v1/models/{id}` of the fake OpenAI server.

Owns how the catalog is presented: the list object and single model objects.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes.catalog import ModelInfo
from tests.fakes.common import fake_of
from tests.fakes.errors import model_not_found


def register(app: web.Application) -> None:
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{model_id:.+}", retrieve)


def model_object(info: ModelInfo) -> dict[str, Any]:
    return {"id": info.id, "object": "model", "created": info.created, "owned_by": info.owned_by}


async def list_models(request: web.Request) -> web.Response:
    models = fake_of(request).catalog.all()
    return web.json_response({"object": "list", "data": [model_object(m) for m in models]})


async def retrieve(request: web.Request) -> web.Response:
    model_id = request.match_info["model_id"]
    info = fake_of(request).catalog.get(model_id)
    if info is None:
        raise model_not_found(model_id)
    return web.json_response(model_object(info))
