"""Image generation and editing against the official OpenAPI document and the official `openai` package.

The client's generation/edit requests (JSON and multipart) and the fake's responses, plain and streamed
(`image_generation.*` / `image_edit.*` events), are checked against the document; the `openai` package
then drives the fake, so the fake cannot drift into a shape only our own client accepts.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from openapi_core import OpenAPI
from openapi_schema_validator import OAS31Validator

from bot.openai_api import ImageFile, OpenAIClient
from tests.contract.conftest import Validator
from tests.contract.openapi_adapter import OPENAI_SPEC, SpecRequest, SpecResponse, check_multipart, schema
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.png import make_png, png_dimensions


@pytest.fixture
async def client(fake_openai: FakeOpenAI) -> AsyncIterator[OpenAIClient]:
    async with OpenAIClient(
        api_key=fake_openai.api_key or "", base_url=fake_openai.base_url, max_retries=0
    ) as client:
        yield client


_EVENT_SCHEMAS = {
    "image_generation.partial_image": "ImageGenPartialImageEvent",
    "image_generation.completed": "ImageGenCompletedEvent",
    "image_edit.partial_image": "ImageEditPartialImageEvent",
    "image_edit.completed": "ImageEditCompletedEvent",
}


def _check_event(stream_schema: str, event: Any) -> None:
    """An event against the branch of the stream schema its `type` names (the document's discriminator
    has no mapping, so a validator cannot pick the branch itself)."""
    document = json.loads(OPENAI_SPEC.read_text(encoding="utf-8"))
    branches = {b["$ref"].rsplit("/", 1)[-1] for b in schema(stream_schema)["anyOf"]}
    name = _EVENT_SCHEMAS[event.type]
    assert name in branches
    body = event.model_dump(exclude_none=True)
    validator = OAS31Validator({"$ref": f"#/components/schemas/{name}", "components": document["components"]})
    errors = [e.message[:200] for e in validator.iter_errors(body)]
    assert errors == []


def _edit_problems(rec: Any) -> list[str]:
    """check_multipart, except that `image` may be one binary or an array of them (anyOf)."""
    problems = [p for p in check_multipart(rec, "CreateImageEditRequest") if "'image'" not in p]
    image_prop = schema("CreateImageEditRequest")["properties"]["image"]
    formats = {
        branch.get("format") or branch.get("items", {}).get("format") for branch in image_prop["anyOf"]
    }
    assert formats == {"binary"}
    assert "image" in rec.files or "image[]" in rec.files, "no image part"
    return problems


async def test_generation_stream_request_and_events(
    fake_openai: FakeOpenAI, client: OpenAIClient, validate: Validator
) -> None:
    stream = await client.images.generate_stream(
        model="gpt-image-2", prompt="a fox", size="1536x1024", quality="low", partial_images=2
    )
    events = []
    async with stream:
        async for event in stream:
            events.append(event)
    rec = fake_openai.requests[-1]
    validate(rec)
    assert rec.json["stream"] is True and rec.json["partial_images"] == 2
    assert "response_format" not in rec.json
    assert [e.type for e in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    for event in events:
        _check_event("ImageGenStreamEvent", event)
    assert stream.usage is not None and stream.usage.output_tokens > 0
    assert len(stream.completed) == 1 and stream.completed[0].image_bytes()


async def test_edit_request_plain_and_streamed(
    fake_openai: FakeOpenAI, client: OpenAIClient, openapi: OpenAPI
) -> None:
    png = make_png(64, 64, "edit me")
    mask = make_png(64, 64, "mask")
    result = await client.images.edit(
        image=ImageFile(png, "photo.png"),
        mask=ImageFile(mask, "mask.png"),
        prompt="add a hat",
        model="gpt-image-1",
        n=2,
        size="1024x1024",
        quality="medium",
    )
    rec = fake_openai.requests[-1]
    assert _edit_problems(rec) == []
    assert rec.files["image"].data == png and rec.files["mask"].data == mask
    assert rec.form["prompt"] == "add a hat" and "response_format" not in rec.form
    assert len(result.data) == 2 and all(d.image_bytes() for d in result.data)
    assert result.usage is not None and result.usage.image_input_tokens > 0
    # The response body against the document (the multipart request body is checked by hand above).
    async with aiohttp.ClientSession() as http:
        form = aiohttp.FormData()
        form.add_field("prompt", "add a hat")
        form.add_field("model", "dall-e-2")
        form.add_field("response_format", "url")
        form.add_field("image", png, filename="photo.png", content_type="image/png")
        async with http.post(
            fake_openai.base_url + "/images/edits",
            data=form,
            headers={"Authorization": f"Bearer {fake_openai.api_key}"},
        ) as resp:
            status, headers, data = resp.status, dict(resp.headers), await resp.read()
    assert status == 200
    request = SpecRequest.from_record(fake_openai.requests[-1])
    openapi.validate_response(request, SpecResponse.of(status, headers, data))
    assert json.loads(data)["data"][0]["url"].startswith(fake_openai.origin)

    stream = await client.images.edit_stream(
        image=ImageFile(png, "photo.png"), prompt="add a hat", model="gpt-image-1", partial_images=1
    )
    async with stream:
        events = [event async for event in stream]
    assert _edit_problems(fake_openai.requests[-1]) == []
    assert fake_openai.requests[-1].form["stream"] == "true"
    for event in events:
        _check_event("ImageEditStreamEvent", event)
    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]


async def test_fake_refuses_bad_edits_like_the_api(fake_openai: FakeOpenAI, client: OpenAIClient) -> None:
    from bot.openai_api import BadRequestError

    png = make_png(64, 32, "wide")
    with pytest.raises(BadRequestError, match="square"):
        await client.images.edit(image=ImageFile(png, "a.png"), prompt="x", model="dall-e-2")
    with pytest.raises(BadRequestError, match="same dimensions"):
        await client.images.edit(
            image=ImageFile(png, "a.png"),
            mask=ImageFile(make_png(8, 8, "m"), "m.png"),
            prompt="x",
            model="gpt-image-1",
        )
    with pytest.raises(BadRequestError, match="mimetype"):
        await client.images.edit(image=ImageFile(b"GIF89a....", "a.gif"), prompt="x", model="gpt-image-1")
    with pytest.raises(BadRequestError, match="response_format"):
        await client.images.edit(
            image=ImageFile(png, "a.png"), prompt="x", model="gpt-image-1", response_format="url"
        )


# The official package against the fake ------------------------------------------------------------------


@pytest.fixture
def official(fake_openai: FakeOpenAI) -> Any:
    openai = pytest.importorskip("openai")
    return openai.AsyncOpenAI(api_key=fake_openai.api_key, base_url=fake_openai.base_url, max_retries=0)


async def test_official_package_generates_and_edits(fake_openai: FakeOpenAI, official: Any) -> None:
    result = await official.images.generate(model="gpt-image-2", prompt="a lighthouse", n=2, size="1024x1536")
    assert len(result.data) == 2
    assert png_dimensions(base64.b64decode(result.data[0].b64_json)) is not None
    assert result.usage.output_tokens > 0 and result.usage.input_tokens_details.text_tokens > 0

    urls = await official.images.generate(model="dall-e-3", prompt="a lighthouse", response_format="url")
    assert urls.data[0].url.startswith(fake_openai.origin) and urls.data[0].revised_prompt

    edited = await official.images.edit(
        model="gpt-image-1", image=("photo.png", make_png(32, 32, "p"), "image/png"), prompt="paint it blue"
    )
    assert edited.data[0].b64_json and edited.usage.input_tokens_details.image_tokens > 0
    rec = fake_openai.requests[-1]
    assert rec.path == "/v1/images/edits" and rec.form["prompt"] == "paint it blue"


async def test_official_package_streams_partial_images(official: Any) -> None:
    stream = await official.images.generate(
        model="gpt-image-2", prompt="a lighthouse", stream=True, partial_images=3
    )
    kinds = [event.type async for event in stream]
    assert kinds == ["image_generation.partial_image"] * 3 + ["image_generation.completed"]

    edit_stream = await official.images.edit(
        model="gpt-image-1",
        image=("photo.png", make_png(32, 32, "p"), "image/png"),
        prompt="paint it blue",
        stream=True,
        partial_images=1,
    )
    events = [event async for event in edit_stream]
    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]
    assert events[-1].usage.output_tokens > 0
