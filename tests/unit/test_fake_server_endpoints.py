"""The fake OpenAI server's non-text endpoints: images, audio, embeddings, moderation, files,
fine-tuning and models, checked with plain aiohttp requests.
"""

from __future__ import annotations

import base64
import json
import math
import re
import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.openai_server import TEST_API_KEY, FakeOpenAI, ModelInfo
from tests.fakes.vectors import from_base64

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


async def call(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with http.request(method, url, **kwargs) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.read()


def assert_error(body: Any, status: int, got_status: int, code: str | None, param: str | None = None) -> None:
    assert got_status == status, body
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["code"] == code
    if param is not None:
        assert body["error"]["param"] == param


def decode_png(data: bytes) -> tuple[int, int, bytes]:
    """Parse a PNG by hand: signature, chunk CRCs, IHDR, and zlib-decompressed IDAT."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, depth, colour = struct.unpack(">IIBB", chunks[0][1][:10])
    assert (depth, colour) == (8, 2)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(raw) == height * (1 + 3 * width)
    return width, height, raw


# images -------------------------------------------------------------------------------------------


async def test_b64_json_image_is_a_decodable_png(fake_openai: FakeOpenAI, http) -> None:
    status, body = await call(
        http,
        "POST",
        fake_openai.base_url + "/images/generations",
        json={
            "model": "dall-e-2",
            "prompt": "a lighthouse",
            "n": 2,
            "size": "512x512",
            "response_format": "b64_json",
        },
    )
    assert status == 200
    images = [base64.b64decode(item["b64_json"]) for item in body["data"]]
    assert len(images) == 2 and images[0] != images[1]
    assert decode_png(images[0])[:2] == (32, 32)  # drawn at 1/16 of the requested size


async def test_url_image_is_served_by_the_fake(fake_openai: FakeOpenAI, http) -> None:
    status, body = await call(
        http,
        "POST",
        fake_openai.base_url + "/images/generations",
        json={"model": "dall-e-3", "prompt": "a fox", "size": "1792x1024"},
    )
    assert status == 200
    item = body["data"][0]
    assert item["url"].startswith(fake_openai.origin + "/cdn/images/")
    assert "a fox" in item["revised_prompt"]
    async with aiohttp.ClientSession() as anonymous, anonymous.get(item["url"]) as response:
        assert response.status == 200 and response.content_type == "image/png"
        assert decode_png(await response.read())[:2] == (112, 64)


async def test_gpt_image_returns_b64_with_usage(fake_openai: FakeOpenAI, http) -> None:
    status, body = await call(
        http,
        "POST",
        fake_openai.base_url + "/images/generations",
        json={"model": "gpt-image-1", "prompt": "a cat", "quality": "low"},
    )
    assert status == 200
    decode_png(base64.b64decode(body["data"][0]["b64_json"]))
    assert body["usage"]["output_tokens"] == 272
    assert body["quality"] == "low" and body["size"] == "1024x1024"


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        ({"model": "dall-e-2", "prompt": "x", "size": "1024x1792"}, 400, "invalid_value", "size"),
        ({"model": "dall-e-3", "prompt": "x", "size": "512x512"}, 400, "invalid_value", "size"),
        ({"model": "gpt-image-1", "prompt": "x", "size": "1792x1024"}, 400, "invalid_value", "size"),
        ({"model": "gpt-image-2", "prompt": "x", "size": "1000x1000"}, 400, "invalid_value", "size"),
        ({"model": "dall-e-3", "prompt": "x", "n": 2}, 400, "invalid_value", "n"),
        ({"model": "dall-e-2", "prompt": "x", "n": 11}, 400, "integer_above_max_value", "n"),
        ({"model": "dall-e-2", "prompt": "x", "quality": "hd"}, 400, "invalid_value", "quality"),
        ({"model": "gpt-image-1", "prompt": "x", "response_format": "url"}, 400, "unknown_parameter", None),
        ({"model": "dall-e-2", "prompt": "x", "response_format": "png"}, 400, "invalid_value", None),
        ({"model": "dall-e-2"}, 400, "missing_required_parameter", "prompt"),
        ({"model": "dall-e-9", "prompt": "x"}, 404, "model_not_found", None),
        ({"model": "dall-e-2", "prompt": "x" * 1001}, 400, "string_above_max_length", "prompt"),
        ({"model": "dall-e-3", "prompt": "flag:violence"}, 400, "content_policy_violation", None),
    ],
)
async def test_image_validation(fake_openai: FakeOpenAI, http, body, status, code, param) -> None:
    got_status, got = await call(http, "POST", fake_openai.base_url + "/images/generations", json=body)
    assert_error(got, status, got_status, code, param)


async def test_gpt_image_2_accepts_free_sizes(fake_openai: FakeOpenAI, http) -> None:
    status, body = await call(
        http,
        "POST",
        fake_openai.base_url + "/images/generations",
        json={"model": "gpt-image-2", "prompt": "x", "size": "1536x864"},
    )
    assert status == 200
    assert decode_png(base64.b64decode(body["data"][0]["b64_json"]))[:2] == (96, 54)


# audio --------------------------------------------------------------------------------------------

SPOKEN = "hello there this is a spoken test message with enough words for two segments ok"


def audio_form(
    model: str = "whisper-1",
    response_format: str | None = None,
    filename: str = "voice.ogg",
    data: bytes = b"FAKE-TRANSCRIPT:" + SPOKEN.encode(),
    **fields: str,
) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename, content_type="audio/ogg")
    form.add_field("model", model)
    if response_format is not None:
        form.add_field("response_format", response_format)
    for name, value in fields.items():
        form.add_field(name.replace("__", "[]"), value)
    return form


async def test_transcription_json_text_and_verbose(fake_openai: FakeOpenAI, http) -> None:
    url = fake_openai.base_url + "/audio/transcriptions"
    status, body = await call(http, "POST", url, data=audio_form())
    assert status == 200 and body["text"] == SPOKEN
    assert body["usage"] == {"type": "duration", "seconds": math.ceil(len(SPOKEN.split()) / 2.5)}
    status, text = await call(http, "POST", url, data=audio_form(response_format="text"))
    assert (status, text) == (200, (SPOKEN + "\n").encode())
    status, body = await call(
        http, "POST", url, data=audio_form(response_format="verbose_json", timestamp_granularities__="word")
    )
    assert status == 200
    assert body["text"] == SPOKEN and body["duration"] > 0 and body["language"] == "english"
    assert [w["word"] for w in body["words"]] == SPOKEN.split()
    assert "segments" not in body
    recorded = fake_openai.requests[-1]
    assert recorded.form["model"] == "whisper-1"
    assert recorded.form_lists["timestamp_granularities[]"] == ["word"]
    assert recorded.files["file"].filename == "voice.ogg"
    assert recorded.files["file"].data.startswith(b"FAKE-TRANSCRIPT:")


async def test_srt_and_vtt_are_well_formed(fake_openai: FakeOpenAI, http) -> None:
    url = fake_openai.base_url + "/audio/transcriptions"
    _, srt = await call(http, "POST", url, data=audio_form(response_format="srt"))
    blocks = srt.decode().strip("\n").split("\n\n")
    assert len(blocks) == 2
    for number, block in enumerate(blocks, 1):
        index, stamps, text = block.split("\n")
        assert index == str(number)
        assert re.fullmatch(r"\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}", stamps)
        assert text
    assert " ".join(b.split("\n")[2] for b in blocks) == SPOKEN
    _, vtt = await call(http, "POST", url, data=audio_form(response_format="vtt"))
    header, *cues = vtt.decode().strip("\n").split("\n\n")
    assert header == "WEBVTT"
    for cue in cues:
        stamps, text = cue.split("\n")
        assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}", stamps)
    assert " ".join(c.split("\n")[1] for c in cues) == SPOKEN


async def test_gpt_4o_transcribe_accepts_only_json(fake_openai: FakeOpenAI, http) -> None:
    url = fake_openai.base_url + "/audio/transcriptions"
    status, body = await call(http, "POST", url, data=audio_form(model="gpt-4o-transcribe"))
    assert status == 200 and body["usage"]["type"] == "tokens"
    for fmt in ("text", "srt", "vtt", "verbose_json"):
        status, body = await call(http, "POST", url, data=audio_form("gpt-4o-transcribe", fmt))
        assert_error(body, 400, status, "unsupported_value", "response_format")


@pytest.mark.parametrize(
    ("form", "status", "code"),
    [
        (audio_form(filename="voice.txt"), 400, "invalid_value"),
        (audio_form(data=b""), 400, "audio_too_short"),
        (audio_form(response_format="docx"), 400, "invalid_value"),
        (audio_form(model="nope-1"), 404, "model_not_found"),
    ],
)
async def test_transcription_validation(fake_openai: FakeOpenAI, http, form, status, code) -> None:
    got_status, body = await call(http, "POST", fake_openai.base_url + "/audio/transcriptions", data=form)
    assert_error(body, status, got_status, code)


async def test_transcription_without_file_or_too_large(fake_openai: FakeOpenAI, http) -> None:
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("model", "whisper-1")
    form.add_field("response_format", "json")
    status, body = await call(http, "POST", fake_openai.base_url + "/audio/transcriptions", data=form)
    assert_error(body, 400, status, "missing_required_parameter", "file")
    big = audio_form(data=b"\0" * (25 * 1024 * 1024 + 1))
    status, body = await call(http, "POST", fake_openai.base_url + "/audio/transcriptions", data=big)
    assert status == 413 and body["error"]["type"] == "server_error"


# embeddings ---------------------------------------------------------------------------------------


async def test_embeddings_are_deterministic_unit_vectors_of_requested_dims(
    fake_openai: FakeOpenAI, http
) -> None:
    url = fake_openai.base_url + "/embeddings"
    request = {
        "model": "text-embedding-3-small",
        "input": ["red apple pie", "red apple tart", "tax forms"],
        "dimensions": 256,
    }
    _, first = await call(http, "POST", url, json=request)
    _, again = await call(http, "POST", url, json=request)
    vectors = [item["embedding"] for item in first["data"]]
    assert vectors == [item["embedding"] for item in again["data"]]
    assert [len(v) for v in vectors] == [256, 256, 256]
    assert all(abs(sum(x * x for x in v) - 1) < 1e-4 for v in vectors)

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
    assert first["usage"]["prompt_tokens"] == sum(math.ceil(len(t) / 4) for t in request["input"])
    _, default = await call(http, "POST", url, json={"model": "text-embedding-3-large", "input": "x"})
    assert len(default["data"][0]["embedding"]) == 3072


async def test_base64_embeddings_decode_to_the_float_vector(fake_openai: FakeOpenAI, http) -> None:
    url = fake_openai.base_url + "/embeddings"
    base = {"model": "text-embedding-3-small", "input": "hello world", "dimensions": 64}
    _, floats = await call(http, "POST", url, json=base)
    _, b64 = await call(http, "POST", url, json={**base, "encoding_format": "base64"})
    decoded = from_base64(b64["data"][0]["embedding"])
    assert decoded == pytest.approx(floats["data"][0]["embedding"], abs=1e-6)


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"model": "text-embedding-3-small", "input": ["x"] * 2049}, "array_above_max_length", "input"),
        ({"model": "text-embedding-3-small", "input": ""}, "invalid_value", "input"),
        (
            {"model": "text-embedding-3-small", "input": "x", "dimensions": 2000},
            "integer_above_max_value",
            "dimensions",
        ),
        ({"model": "text-embedding-ada-002", "input": "x", "dimensions": 8}, None, "dimensions"),
        ({"model": "text-embedding-3-small", "input": "x", "encoding_format": "int8"}, "invalid_value", None),
        ({"model": "text-embedding-3-small", "input": "x" * 40000}, "context_length_exceeded", "input"),
        ({"input": "x"}, None, None),
    ],
)
async def test_embedding_validation(fake_openai: FakeOpenAI, http, body, code, param) -> None:
    status, got = await call(http, "POST", fake_openai.base_url + "/embeddings", json=body)
    assert_error(got, 400, status, code, param)


async def test_embeddings_accept_2048_inputs(fake_openai: FakeOpenAI, http) -> None:
    status, body = await call(
        http,
        "POST",
        fake_openai.base_url + "/embeddings",
        json={"model": "text-embedding-3-small", "input": ["x"] * 2048, "dimensions": 8},
    )
    assert status == 200 and len(body["data"]) == 2048


# moderation ---------------------------------------------------------------------------------------


async def test_moderation_markers_flag_chosen_inputs(fake_openai: FakeOpenAI, http) -> None:
    status, body = await call(
        http,
        "POST",
        fake_openai.base_url + "/moderations",
        json={
            "input": [
                "hello friends",
                "you are flag:harassment",
                "edge score:violence=0.42",
                "flag:self-harm/intent",
            ]
        },
    )
    assert status == 200 and body["model"] == "omni-moderation-latest" and body["id"].startswith("modr-")
    clean, harass, edge, harm = body["results"]
    assert not clean["flagged"] and max(clean["category_scores"].values()) < 0.01
    assert harass["flagged"] and harass["categories"]["harassment"]
    assert [k for k, v in harass["categories"].items() if v] == ["harassment"]
    assert not edge["flagged"] and edge["category_scores"]["violence"] == 0.42
    assert harm["categories"]["self-harm/intent"]
    assert clean["category_applied_input_types"]["violence"] == ["text"]


async def test_moderation_multimodal_input_gives_one_result_with_image_types(
    fake_openai: FakeOpenAI, http
) -> None:
    status, body = await call(
        http,
        "POST",
        fake_openai.base_url + "/moderations",
        json={
            "input": [
                {"type": "text", "text": "look at this"},
                {"type": "image_url", "image_url": {"url": "https://cdn.example/att/flag-violence.png"}},
            ]
        },
    )
    assert status == 200
    (result,) = body["results"]
    assert result["flagged"] and result["categories"]["violence"]
    assert result["category_applied_input_types"]["violence"] == ["text", "image"]
    assert result["category_applied_input_types"]["harassment"] == ["text"]


async def test_moderation_image_marker_ignored_for_text_only_category(fake_openai: FakeOpenAI, http) -> None:
    _, body = await call(
        http,
        "POST",
        fake_openai.base_url + "/moderations",
        json={
            "input": [{"type": "image_url", "image_url": {"url": "https://x.example/flag-harassment.png"}}]
        },
    )
    (result,) = body["results"]
    assert not result["flagged"]
    assert result["category_applied_input_types"]["harassment"] == []


async def test_legacy_moderation_model_rejects_images(fake_openai: FakeOpenAI, http) -> None:
    status, body = await call(
        http,
        "POST",
        fake_openai.base_url + "/moderations",
        json={
            "model": "text-moderation-latest",
            "input": [{"type": "image_url", "image_url": {"url": "https://x.example/a.png"}}],
        },
    )
    assert_error(body, 400, status, "invalid_value")


# files and fine-tuning ----------------------------------------------------------------------------

TRAINING = b'{"prompt": "a", "completion": "b"}\n{"prompt": "c", "completion": "d"}\n' * 5


async def upload(http, fake: FakeOpenAI, data: bytes, filename: str, purpose: str) -> tuple[int, Any]:
    form = aiohttp.FormData()
    form.add_field("purpose", purpose)
    form.add_field("file", data, filename=filename, content_type="application/octet-stream")
    return await call(http, "POST", fake.base_url + "/files", data=form)


async def test_file_lifecycle(fake_openai: FakeOpenAI, http) -> None:
    base = fake_openai.base_url
    status, created = await upload(http, fake_openai, b"col\n1\n", "data.csv", "user_data")
    assert status == 200 and created["bytes"] == 6 and created["status"] == "processed"
    _, other = await upload(http, fake_openai, TRAINING, "train.jsonl", "fine-tune")
    _, listing = await call(http, "GET", base + "/files")
    assert [f["id"] for f in listing["data"]] == [other["id"], created["id"]]
    assert listing["first_id"] == other["id"] and listing["has_more"] is False
    _, page = await call(http, "GET", base + "/files", params={"limit": "1"})
    assert [f["id"] for f in page["data"]] == [other["id"]] and page["has_more"] is True
    _, page = await call(http, "GET", base + "/files", params={"limit": "1", "after": other["id"]})
    assert [f["id"] for f in page["data"]] == [created["id"]] and page["has_more"] is False
    _, only = await call(http, "GET", base + "/files", params={"purpose": "fine-tune"})
    assert [f["id"] for f in only["data"]] == [other["id"]]
    assert (await call(http, "GET", f"{base}/files/{created['id']}"))[1] == created
    assert await call(http, "GET", f"{base}/files/{created['id']}/content") == (200, b"col\n1\n")
    status, body = await call(http, "GET", f"{base}/files/{other['id']}/content")
    assert_error(body, 400, status, None)
    assert (await call(http, "DELETE", f"{base}/files/{created['id']}"))[1] == {
        "id": created["id"],
        "object": "file",
        "deleted": True,
    }
    status, body = await call(http, "GET", f"{base}/files/{created['id']}")
    assert_error(body, 404, status, None, "id")


@pytest.mark.parametrize(
    ("data", "filename", "purpose", "code"),
    [
        (b"x", "a.txt", "homework", "invalid_value"),
        (b"not json\n", "bad.jsonl", "fine-tune", None),
        (b"{}", "bad.txt", "fine-tune", None),
    ],
)
async def test_file_upload_validation(fake_openai: FakeOpenAI, http, data, filename, purpose, code) -> None:
    status, body = await upload(http, fake_openai, data, filename, purpose)
    assert_error(body, 400, status, code)


async def test_fine_tuning_job_advances_and_lists_events(fake_openai: FakeOpenAI, http) -> None:
    base = fake_openai.base_url
    _, training = await upload(http, fake_openai, TRAINING, "train.jsonl", "fine-tune")
    status, job = await call(
        http,
        "POST",
        base + "/fine_tuning/jobs",
        json={"model": "davinci-002", "training_file": training["id"], "suffix": "bot"},
    )
    assert status == 200 and job["status"] == "validating_files" and job["fine_tuned_model"] is None
    statuses = []
    # The job follows the store's clock, not the reads: two reads at each instant agree.
    for seconds in (0, 30, 60, 60, 300, 3600):
        fake_openai.store.advance_time(seconds)
        for _ in range(2):
            statuses.append((await call(http, "GET", f"{base}/fine_tuning/jobs/{job['id']}"))[1])
    assert [s["status"] for s in statuses[::2]] == [
        "validating_files",
        "queued",
        "running",
        "running",
        "succeeded",
        "succeeded",
    ]
    assert statuses[::2] == statuses[1::2]
    done = statuses[-1]
    assert done["fine_tuned_model"].startswith("ft:davinci-002:org-fake:bot:")
    assert done["finished_at"] and done["trained_tokens"] and done["result_files"]
    _, models = await call(http, "GET", base + "/models")
    assert done["fine_tuned_model"] in [m["id"] for m in models["data"]]
    status, _ = await call(
        http, "POST", base + "/completions", json={"model": done["fine_tuned_model"], "prompt": "hi"}
    )
    assert status == 200

    _, events = await call(
        http, "GET", f"{base}/fine_tuning/jobs/{job['id']}/events", params={"limit": "100"}
    )
    messages = [e["message"] for e in events["data"]]
    assert messages[0] == "The job has successfully completed"
    # One metrics event per step (10 examples x 3 epochs), oldest last, with the API's data.
    metrics = [e for e in events["data"] if e["type"] == "metrics"]
    assert [e["data"]["step"] for e in metrics] == list(range(30, 0, -1))
    assert {e["data"]["total_steps"] for e in metrics} == {30}
    assert messages[-1].startswith("Created fine-tuning job")
    _, first = await call(http, "GET", f"{base}/fine_tuning/jobs/{job['id']}/events", params={"limit": "2"})
    assert first["has_more"] is True and len(first["data"]) == 2
    _, rest = await call(
        http,
        "GET",
        f"{base}/fine_tuning/jobs/{job['id']}/events",
        params={"after": first["data"][-1]["id"], "limit": "100"},
    )
    assert [e["id"] for e in first["data"] + rest["data"]] == [e["id"] for e in events["data"]]
    assert rest["has_more"] is False

    status, body = await call(http, "POST", f"{base}/fine_tuning/jobs/{job['id']}/cancel")
    assert_error(body, 400, status, None)


async def test_fine_tuning_cancel_list_and_validation(fake_openai: FakeOpenAI, http) -> None:
    base = fake_openai.base_url
    _, training = await upload(http, fake_openai, TRAINING, "train.jsonl", "fine-tune")
    ids = []
    for _ in range(3):
        _, job = await call(
            http,
            "POST",
            base + "/fine_tuning/jobs",
            json={"model": "gpt-4o-mini", "training_file": training["id"]},
        )
        ids.append(job["id"])
    _, cancelled = await call(http, "POST", f"{base}/fine_tuning/jobs/{ids[0]}/cancel")
    assert cancelled["status"] == "cancelled"
    _, again = await call(http, "GET", f"{base}/fine_tuning/jobs/{ids[0]}")
    assert again["status"] == "cancelled"
    _, page = await call(http, "GET", base + "/fine_tuning/jobs", params={"limit": "2"})
    assert [j["id"] for j in page["data"]] == [ids[2], ids[1]] and page["has_more"] is True
    _, page = await call(http, "GET", base + "/fine_tuning/jobs", params={"after": ids[1]})
    assert [j["id"] for j in page["data"]] == [ids[0]] and page["has_more"] is False

    status, body = await call(
        http, "POST", base + "/fine_tuning/jobs", json={"model": "gpt-4o", "training_file": training["id"]}
    )
    assert_error(body, 400, status, "model_not_available", "model")
    status, body = await call(
        http,
        "POST",
        base + "/fine_tuning/jobs",
        json={"model": "davinci-002", "training_file": "file-missing"},
    )
    assert_error(body, 400, status, "invalid_training_file", "training_file")
    status, body = await call(http, "POST", base + "/fine_tuning/jobs", json={"model": "davinci-002"})
    assert_error(body, 400, status, "missing_required_parameter", "training_file")
    status, body = await call(http, "GET", base + "/fine_tuning/jobs/ftjob-nope")
    assert_error(body, 404, status, "fine_tune_job_not_found")


# models -------------------------------------------------------------------------------------------


async def test_models_list_and_retirement(fake_openai: FakeOpenAI, http) -> None:
    base = fake_openai.base_url
    _, listing = await call(http, "GET", base + "/models")
    ids = {m["id"] for m in listing["data"]}
    assert {
        "gpt-3.5-turbo-instruct",
        "davinci-002",
        "gpt-image-2",
        "gpt-image-1",
        "dall-e-3",
        "dall-e-2",
        "whisper-1",
        "gpt-4o-transcribe",
        "text-embedding-3-small",
        "text-embedding-3-large",
        "omni-moderation-latest",
        "gpt-4o",
    } <= ids
    assert all(m["object"] == "model" and m["owned_by"] and m["created"] for m in listing["data"])
    assert (await call(http, "GET", base + "/models/dall-e-3"))[1]["id"] == "dall-e-3"

    fake_openai.retire_model("davinci-002")
    fake_openai.add_model(ModelInfo("my-local-model", "completion", context=2048))
    _, listing = await call(http, "GET", base + "/models")
    ids = {m["id"] for m in listing["data"]}
    assert "davinci-002" not in ids and "my-local-model" in ids
    status, body = await call(
        http, "POST", base + "/completions", json={"model": "davinci-002", "prompt": "x"}
    )
    assert_error(body, 404, status, "model_not_found")
    fake_openai.reset()
    status, _ = await call(http, "POST", base + "/completions", json={"model": "davinci-002", "prompt": "x"})
    assert status == 200
    assert json.dumps(listing)  # the listing is plain JSON
