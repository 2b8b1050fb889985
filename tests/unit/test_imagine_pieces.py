"""/imagine's pure pieces: size rules per model family, fitting images under a byte budget, capped
downloads of API-returned URLs (against the fake on loopback) and token pricing."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from PIL import Image

from bot.openai_api import ImageUsage
from bot.usage import PricingTable
from cogs.imagine.billing import token_cost
from cogs.imagine.downloads import DownloadError, download_image
from cogs.imagine.fitting import fit_image, needs_compressed_output, per_file_budget, upload_limit
from cogs.imagine.sizes import SizeNotAllowed, check_count, check_size, family_of, size_choices
from tests.fakes.png import full_size_png, make_png


def test_family_rules() -> None:
    assert family_of("gpt-image-2").freeform and family_of("gpt-image-2-2026-04-21").freeform
    assert not family_of("gpt-image-1.5").freeform and family_of("gpt-image-1.5").streams
    assert family_of("dall-e-3").max_n == 1 and not family_of("dall-e-3").edits
    # A compatible server's own model gets the dall-e-2 rules it imitates: no streaming, URL or b64.
    assert family_of("stablediffusion") is family_of("dall-e-2")
    assert check_size("gpt-image-2", "1536X864") == "1536x864"
    with pytest.raises(SizeNotAllowed):
        check_size("gpt-image-2", "1920x1088x")
    assert check_count("dall-e-2", 4, 4) == 4
    assert size_choices("dall-e-3", "1792") == ["1792x1024", "1024x1792"]


def test_budget_and_compressed_output_plan() -> None:
    assert per_file_budget(10 * 1024 * 1024, 1) == 10 * 1024 * 1024 - 1024
    # Four files share Discord's 25 MiB per request.
    assert per_file_budget(50 * 1024 * 1024, 4) < 25 * 1024 * 1024 // 4
    assert not needs_compressed_output("1024x1024", per_file_budget(10 * 1024 * 1024, 1))
    assert needs_compressed_output("3840x2160", per_file_budget(10 * 1024 * 1024, 1))

    class Interaction:
        filesize_limit = 0
        guild = type("G", (), {"filesize_limit": 52_428_800})()

    assert upload_limit(Interaction()) == 52_428_800


def test_fit_image_passes_small_images_through_and_re_encodes_large_ones() -> None:
    small = make_png(32, 32, "s")
    fitted = fit_image(small, 10_000)
    assert fitted.data is small and not fitted.reencoded and fitted.extension == "png"

    big = full_size_png(1024, 1024, "noise", noise_only=True)
    fitted = fit_image(big, 300_000)
    assert fitted.reencoded and len(fitted.data) <= 300_000 and fitted.extension == "jpg"

    # Transparency survives: WebP, not JPEG.
    rgba = Image.frombytes("RGBA", (512, 512), bytes(range(256)) * 4096)
    out = io.BytesIO()
    rgba.save(out, format="PNG")
    fitted = fit_image(out.getvalue(), len(out.getvalue()) // 3)
    assert fitted.extension == "webp"
    with Image.open(io.BytesIO(fitted.data)) as image:
        assert image.mode == "RGBA"


def test_token_cost_prices_text_image_input_and_output_apart() -> None:
    pricing = PricingTable.load()
    usage = ImageUsage(
        input_tokens=150,
        output_tokens=1000,
        total_tokens=1150,
        input_tokens_details={"text_tokens": 50, "image_tokens": 100},
    )
    # gpt-image-1: $5 text, $10 image input, $40 output per 1M tokens.
    assert token_cost(pricing, "gpt-image-1", usage) == Decimal("0.04125")
    assert token_cost(pricing, "dall-e-3", usage) is None  # priced per image
    assert token_cost(pricing, "gpt-image-1", None) is None


async def _serve(fake: Any, data: bytes) -> str:
    image_id = fake.store.add_image(data)
    return f"{fake.origin}/cdn/images/{image_id}.png"


async def test_download_checks_type_size_status_and_scheme(fake_openai: Any) -> None:
    async with aiohttp.ClientSession() as session:
        png = make_png(16, 16, "x")
        assert await download_image(session, await _serve(fake_openai, png)) == png
        with pytest.raises(DownloadError) as html:
            await download_image(session, await _serve(fake_openai, b"<!DOCTYPE html><p>login</p>"))
        assert html.value.reason == "type"
        with pytest.raises(DownloadError) as huge:
            await download_image(session, await _serve(fake_openai, png + b"\0" * 5000), cap=1000)
        assert huge.value.reason == "size"
        with pytest.raises(DownloadError) as missing:
            await download_image(session, f"{fake_openai.origin}/cdn/images/nope.png")
        assert missing.value.reason == "status"
        with pytest.raises(DownloadError) as scheme:
            await download_image(session, "file:///etc/passwd")
        assert scheme.value.reason == "scheme"


def test_sse_decoder_joins_a_multi_megabyte_image_line_read_in_small_pieces() -> None:
    from bot.openai_api.sse import SSEDecoder

    payload = "A" * (4 * 1024 * 1024)
    body = f"event: image_generation.completed\ndata: {payload}\n\n".encode()
    decoder = SSEDecoder()
    events = []
    for start in range(0, len(body), 16 * 1024):
        events += decoder.feed(body[start : start + 16 * 1024])
    events += decoder.flush()
    assert len(events) == 1
    assert events[0].event == "image_generation.completed" and events[0].data == payload
