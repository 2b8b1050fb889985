"""/imagine through the real bot in simcord, against the fake OpenAI server on loopback.

Each test asserts what members see (the message, its images, its buttons, private notes), what the
API was asked (or that it was not asked at all) and what the ledger stored.
"""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import discord
import pytest
import simcord.interactions as sim_interactions
from PIL import Image

from bot.app import OpenAIBot
from bot.settings import Settings
from cogs.imagine import FEATURE as IMAGINE
from tests.cogs.ack import acknowledgement_delay
from tests.cogs.conftest import assert_errors
from tests.cogs.simcord_hooks import without_settling
from tests.conftest import make_settings
from tests.fakes.openai_server import Fault
from tests.fakes.png import make_png
from tests.fakes.textgen import estimate_tokens


@pytest.fixture
def bot_settings(tmp_path: Path, fake_openai_threaded: Any) -> Settings:
    # Two retries, as in production: "rate limited after retries" must really retry.
    return make_settings(tmp_path, fake_openai_threaded, max_retries=2)


class World:
    def __init__(self, env: Any, fake: Any) -> None:
        self.env = env
        self.fake = fake
        self.guild = env.create_guild()
        self.channel = self.guild.create_text_channel("art")
        self.alice = self.guild.add_member(env.create_user("alice"))
        self.bob = self.guild.add_member(env.create_user("bob"))
        mods = self.guild.create_role("mods", permissions=discord.Permissions(manage_messages=True))
        self.mod = self.guild.add_member(env.create_user("mod"), roles=[mods])

    @property
    def bot(self) -> OpenAIBot:
        bot: OpenAIBot = self.env.bot
        return bot

    def posts(self) -> list[discord.Message]:
        """The bot's public messages in the channel, oldest first."""
        return [m for m in self.channel.history() if m.author.bot and not m.flags.ephemeral]

    def image_requests(self, kind: str = "generations") -> list[Any]:
        return self.fake.requests_to(f"/v1/images/{kind}", "POST")

    def api_requests(self) -> list[Any]:
        return [r for r in self.fake.requests if r.path.startswith("/v1/images")]

    async def events(self) -> list[Any]:
        return await self.bot.ledger.events(self.guild.id)

    async def drain(self) -> None:
        """Let paced edits finish (the edit scheduler runs on simcord's virtual clock)."""
        await self.env.advance_time(60)


@pytest.fixture
async def world(simcord_env: Any, fake_openai_threaded: Any) -> World:
    made = World(simcord_env, fake_openai_threaded)
    await made.bot.feature_settings.update(made.guild.id, IMAGINE, cooldown_seconds=0)
    return made


@pytest.fixture
def upload_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], None]]:
    """Call with a byte count to make following interactions carry that `attachment_size_limit`."""
    original = sim_interactions.base_payload
    chosen: dict[str, int] = {}

    def patched(*args: Any, **kwargs: Any) -> Any:
        record, payload = original(*args, **kwargs)
        if "limit" in chosen:
            payload["attachment_size_limit"] = chosen["limit"]
        return record, payload

    monkeypatch.setattr(sim_interactions, "base_payload", patched)
    yield lambda limit: chosen.__setitem__("limit", limit)


def buttons(message: discord.Message) -> dict[str, str]:
    found = {}
    for row in message.components:
        for child in getattr(row, "children", []):
            if isinstance(child, discord.Button) and child.label and child.custom_id:
                found[child.label] = child.custom_id
    return found


def footer(message: discord.Message) -> str:
    return [line for line in message.content.splitlines() if line.startswith("-# ")][-1]


async def image_bytes(world: World, attachment: discord.Attachment) -> bytes:
    data: bytes = await world.bot.http.get_from_cdn(attachment.url)
    return data


def original_edits(world: World) -> list[dict[str, Any]]:
    """Payloads of every edit of an interaction's original response, in order."""
    edits = []
    for kind, name, payload in world.env.backend.transcript:
        if kind == "HTTP" and re.match(r"^PATCH /webhooks/\d+/[^/]+/messages/@original$", name):
            edits.append(payload if isinstance(payload, dict) else {})
    return edits


# -- generation ---------------------------------------------------------------------------------------


async def test_streamed_partials_are_shown_then_replaced_by_the_final_image(world: World) -> None:
    delay, result = await acknowledgement_delay(
        world.env, world.alice.slash(world.channel, "imagine", prompt="a lighthouse at dawn", quality="low")
    )
    assert delay < 1.0 and result.acknowledged and not result.ephemeral
    await world.drain()

    (request,) = world.image_requests()
    assert request.json["stream"] is True and request.json["partial_images"] == 2
    assert request.json["model"] == "gpt-image-2" and "response_format" not in request.json
    contents = [str(edit.get("content", "")) for edit in original_edits(world)]
    previews = [c for c in contents if "Preview" in c]
    assert previews, contents
    assert "Preview 1/2 of image 1/1" in previews[0]

    (message,) = world.posts()
    assert len(message.attachments) == 1
    assert message.content.splitlines()[0] == "🎨 **a lighthouse at dawn**"
    assert "Preview" not in message.content
    (event,) = await world.events()
    assert event.feature == "imagine" and event.model == "gpt-image-2" and event.images == 1
    assert event.request_id == request.request_id
    # Billed by tokens: text input at $5/1M, output image tokens at $40/1M.
    expected = (Decimal(event.input_tokens) * 5 + Decimal(event.output_tokens) * 40) / 1_000_000
    assert event.cost_usd == expected.quantize(Decimal("1e-10"))
    assert footer(message).startswith("-# gpt-image-2 · 1024x1024 · low · $")
    assert set(buttons(message)) == {"Regenerate", "Variation", "Delete"}
    data = await image_bytes(world, message.attachments[0])
    assert data.startswith(b"\x89PNG")


async def test_a_final_image_before_its_last_partial_is_not_overwritten(world: World) -> None:
    await world.alice.slash(world.channel, "imagine", prompt="quick [[final-first]]")
    await world.drain()
    (message,) = world.posts()
    assert len(message.attachments) == 1 and "Preview" not in message.content
    contents = [str(edit.get("content", "")) for edit in original_edits(world)]
    # Only the first partial was shown: the second arrived after the final and was ignored.
    assert not any("Preview 2/2" in c for c in contents)


async def test_four_images_come_in_one_message_with_a_variation_button_each(world: World) -> None:
    await world.alice.slash(world.channel, "imagine", prompt="four cats", n=4, size="1536x1024")
    await world.drain()
    (message,) = world.posts()
    assert len(message.attachments) == 4
    assert {a.filename for a in message.attachments} == {f"image_{i}.png" for i in range(1, 5)}
    assert set(buttons(message)) == {
        "Regenerate",
        "Variation 1",
        "Variation 2",
        "Variation 3",
        "Variation 4",
        "Delete",
    }
    (event,) = await world.events()
    assert event.images == 4 and event.image_size == "1536x1024"


@pytest.mark.parametrize(
    ("model", "size", "n", "accepted"),
    [
        ("gpt-image-2", "1536x864", 1, True),
        ("gpt-image-2", "3840x2160", 1, True),
        ("gpt-image-2", "1000x1000", 1, False),  # not multiples of 16
        ("gpt-image-2", "3840x1024", 1, False),  # wider than 3:1
        ("gpt-image-2", "4096x2304", 1, False),  # above 3840x2160
        ("gpt-image-1", "1536x1024", 2, True),
        ("gpt-image-1", "1536x864", 1, False),  # free sizes are gpt-image-2 only
        ("dall-e-2", "512x512", 2, True),
        ("dall-e-2", "1536x1024", 1, False),
        ("dall-e-3", "1792x1024", 1, True),
        ("dall-e-3", "512x512", 1, False),
        ("dall-e-3", "1024x1024", 2, False),  # dall-e-3 makes one image per request
    ],
)
async def test_size_and_count_rules_are_checked_before_any_api_call(
    world: World, model: str, size: str, n: int, accepted: bool
) -> None:
    result = await world.alice.slash(world.channel, "imagine", prompt="a boat", model=model, size=size, n=n)
    await world.drain()
    if accepted:
        assert not result.ephemeral
        (message,) = world.posts()
        assert len(message.attachments) == n
        assert world.api_requests()[0].json["size"] == size
        return
    assert result.ephemeral and world.api_requests() == [] and world.posts() == []
    text = result.response.content
    if n > 1:
        assert text == f"`{model}` can make at most 1 image(s) per request here (you asked for {n})."
        assert_errors(world.env, "CountNotAllowed")
    else:
        assert text.startswith(f"`{model}` can't make {size} images. Allowed sizes: ")
        assert ("multiples of 16" in text) is (model == "gpt-image-2")
        assert_errors(world.env, "SizeNotAllowed")


async def test_size_autocomplete_offers_the_models_sizes(world: World) -> None:
    choices = await world.alice.autocomplete(world.channel, "imagine", "size", "15", model="gpt-image-1")
    assert [c["value"] for c in choices] == ["1536x1024", "1024x1536"]
    choices = await world.alice.autocomplete(
        world.channel, "imagine", "size", "1536x864", model="gpt-image-2"
    )
    assert [c["value"] for c in choices] == ["1536x864"]


async def test_url_responses_are_downloaded_and_the_revised_prompt_shown(world: World) -> None:
    await world.alice.slash(world.channel, "imagine", prompt="a red kite", model="dall-e-3", quality="hd")
    await world.drain()
    (request,) = world.image_requests()
    assert "stream" not in request.json and "response_format" not in request.json
    served = [r for r in world.fake.requests if r.path.startswith("/cdn/images/")]
    assert len(served) == 1
    (message,) = world.posts()
    assert len(message.attachments) == 1
    assert "*Revised prompt: A detailed rendering of: a red kite*" in message.content
    (event,) = await world.events()
    assert event.cost_usd == Decimal("0.08")  # dall-e-3 hd 1024x1024, per image
    assert footer(message) == "-# dall-e-3 · 1024x1024 · hd · $0.08"
    assert set(buttons(message)) == {"Regenerate", "Variation", "Delete"}  # varied by the default model


@pytest.mark.parametrize(
    ("prompt", "cap", "expected"),
    [
        ("a page [[url-html]]", None, "The image link the AI service returned did not lead to an image."),
        (
            "a giant [[url-huge:300000]]",
            200_000,
            "The image the AI service returned is too large to download.",
        ),
    ],
    ids=["html", "over-cap"],
)
async def test_a_url_that_is_not_an_image_posts_nothing(
    world: World, prompt: str, cap: int | None, expected: str
) -> None:
    if cap is not None:
        world.bot.get_cog("Imagine").download_cap = cap  # type: ignore[union-attr]
    await world.alice.slash(world.channel, "imagine", prompt=prompt, model="dall-e-2", size="256x256")
    await world.drain()
    (message,) = world.posts()
    assert message.content == f"⚠️ {expected}" and message.attachments == []
    assert buttons(message) == {}
    # The API made (and billed) the image even though it could not be used: the ledger says so.
    (event,) = await world.events()
    assert event.images == 1 and event.cost_usd == Decimal("0.016")


async def test_an_image_too_large_for_the_upload_limit_is_delivered_re_encoded(
    world: World, upload_limit: Callable[[int], None]
) -> None:
    upload_limit(400_000)
    await world.alice.slash(
        world.channel, "imagine", prompt="static [[noise]]", model="gpt-image-1", size="1024x1024"
    )
    await world.drain()
    (request,) = world.image_requests()
    # A PNG of this size might not fit: the model is asked for a compressed format...
    assert request.json["output_format"] == "webp" and request.json["output_compression"] == 85
    (message,) = world.posts()
    (attachment,) = message.attachments
    # ...and what still came back too large (the fake always sends PNG) is re-encoded below the limit.
    assert attachment.filename == "image_1.jpg" and attachment.size <= 400_000
    data = await image_bytes(world, attachment)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and image.width >= 256
    assert "-# Re-encoded to fit this server's upload limit." in message.content


async def test_an_edit_sends_the_attachment_and_its_mask(world: World) -> None:
    photo = make_png(64, 64, "photo")
    mask = make_png(64, 64, "mask")
    await world.alice.slash(
        world.channel, "imagine", prompt="add a hat", image=("photo.png", photo), mask=("mask.png", mask)
    )
    await world.drain()
    (request,) = world.image_requests("edits")
    assert request.files["image"].data == photo and request.files["mask"].data == mask
    assert request.form["prompt"] == "add a hat" and request.form["stream"] == "true"
    (message,) = world.posts()
    assert len(message.attachments) == 1
    (event,) = await world.events()
    # Text input at $5/1M, the input image's tokens at $10/1M, output image tokens at $40/1M.
    text_tokens, image_tokens = estimate_tokens("add a hat"), 85  # the fake: 64x64 -> its minimum of 85
    assert event.input_tokens == text_tokens + image_tokens
    expected = (
        Decimal(text_tokens) * 5 + Decimal(image_tokens) * 10 + Decimal(event.output_tokens) * 40
    ) / 1_000_000
    assert event.cost_usd == expected.quantize(Decimal("1e-10"))


async def test_a_mask_of_other_dimensions_or_a_bad_image_is_refused(world: World) -> None:
    result = await world.alice.slash(
        world.channel, "imagine", prompt="x", image=("a.gif", b"GIF89a" + b"\0" * 20)
    )
    assert result.ephemeral
    assert (
        result.response.content == "a.gif can't be used: the image must be a PNG, JPEG or WebP under 50 MB."
    )
    assert_errors(world.env, "BadAttachment")
    await world.alice.slash(
        world.channel,
        "imagine",
        prompt="x",
        image=("a.png", make_png(64, 64, "a")),
        mask=("m.png", make_png(32, 32, "m")),
    )
    (message,) = world.posts()
    assert message.content == "⚠️ The mask must have exactly the same width and height as the image."
    assert world.api_requests() == []


async def test_edit_image_context_menu_edits_the_messages_first_image(world: World) -> None:
    photo = make_png(48, 48, "shared")
    posted = await world.bob.send(world.channel, "look", attachments=[("cat.png", photo)])
    shown = await world.alice.context_menu(world.channel, "Edit image", posted)
    assert shown.modal is not None
    await world.alice.submit_modal(shown, {"prompt": "make it night"})
    await world.drain()
    (request,) = world.image_requests("edits")
    assert request.files["image"].data == photo and request.form["prompt"] == "make it night"
    (message,) = world.posts()
    assert len(message.attachments) == 1 and "make it night" in message.content


# -- refusals and failures ------------------------------------------------------------------------------


async def test_content_policy_refusal_is_clear_not_retried_and_not_billed(world: World) -> None:
    await world.alice.slash(world.channel, "imagine", prompt="flag:violence please")
    await world.drain()
    assert len(world.image_requests()) == 1
    (message,) = world.posts()
    assert message.content == (
        "⚠️ The AI service refused this request under its content policy. Nothing was charged; "
        "try another prompt."
    )
    assert await world.events() == []


async def test_rate_limit_is_retried_then_explained(world: World) -> None:
    world.fake.add_fault(
        Fault(path="/v1/images/generations", status=429, times=None, headers={"retry-after-ms": "5"})
    )
    await world.alice.slash(world.channel, "imagine", prompt="anything")
    await world.drain()
    assert len(world.image_requests()) == 3  # the first try and two retries
    (message,) = world.posts()
    assert message.content.startswith("⚠️ The AI service is busy right now")
    assert await world.events() == []
    # The refusal gave the member their turn back.
    assert world.bot.get_cog("Imagine").cooldowns.remaining(world.guild.id, world.alice.id) == 0  # type: ignore[union-attr]


async def test_disabled_feature_is_a_private_message(world: World) -> None:
    await world.bot.feature_settings.update(world.guild.id, IMAGINE, enabled=False)
    result = await world.alice.slash(world.channel, "imagine", prompt="hello")
    assert result.ephemeral
    assert (
        result.response.content
        == "Image generation is turned off in this server. A server admin can turn it on."
    )
    assert world.api_requests() == []
    assert_errors(world.env, "FeatureDisabled")


async def test_cooldown(world: World) -> None:
    await world.bot.feature_settings.update(world.guild.id, IMAGINE, cooldown_seconds=30)
    await world.alice.slash(world.channel, "imagine", prompt="one")
    result = await world.alice.slash(world.channel, "imagine", prompt="two")
    assert result.ephemeral
    assert re.fullmatch(r"Slow down a little: try again in (29|30) s\.", result.response.content)
    await world.bob.slash(world.channel, "imagine", prompt="bob's")
    assert len(world.image_requests()) == 2
    assert_errors(world.env, "Cooldown")


async def test_quality_and_count_follow_the_server_settings(world: World) -> None:
    await world.bot.feature_settings.update(world.guild.id, IMAGINE, max_n=2, allowed_qualities=("low",))
    result = await world.alice.slash(world.channel, "imagine", prompt="x", quality="high")
    assert result.ephemeral
    assert (
        result.response.content
        == "Quality `high` is not available for `gpt-image-2` here. Allowed: auto, low."
    )
    result = await world.alice.slash(world.channel, "imagine", prompt="x", n=3)
    assert (
        result.response.content
        == "`gpt-image-2` can make at most 2 image(s) per request here (you asked for 3)."
    )
    assert world.api_requests() == []
    assert_errors(world.env, "QualityNotAllowed", "CountNotAllowed")


# -- buttons ----------------------------------------------------------------------------------------------


async def test_delete_by_another_member_is_refused_and_by_a_moderator_allowed(world: World) -> None:
    await world.alice.slash(world.channel, "imagine", prompt="mine")
    await world.drain()
    (message,) = world.posts()
    result = await world.bob.click(message, label="Delete")
    assert result.ephemeral
    assert result.response.content == (
        "Only the member who asked for these images, or a member with Manage Messages, can delete them."
    )
    assert len(world.posts()) == 1
    await world.mod.click(message, label="Delete")
    assert world.posts() == []


async def test_regenerate_after_a_restart_and_variation(world: World, new_bot: Any) -> None:
    await world.alice.slash(world.channel, "imagine", prompt="a tower", size="1024x1536", quality="medium")
    await world.drain()
    (message,) = world.posts()
    result = await world.bob.click(message, label="Regenerate")
    assert result.ephemeral and result.response.content == (
        f"Only <@{world.alice.id}>, who asked for these images, can use this button."
    )
    await world.env.restart_bot(new_bot())
    await world.alice.click(message, label="Regenerate")
    await world.drain()
    first, second = world.image_requests()
    for key in ("prompt", "size", "quality", "model", "n"):
        assert first.json[key] == second.json[key]
    assert len(world.posts()) == 2

    original = await image_bytes(world, message.attachments[0])
    await world.alice.click(message, label="Variation")
    await world.drain()
    (edit,) = world.image_requests("edits")
    assert edit.files["image"].data == original and edit.form["prompt"] == "a tower"
    assert len(world.posts()) == 3
    assert len(await world.events()) == 3


async def test_zh_cn(world: World, user_locale: Callable[[str], None]) -> None:
    user_locale("zh-CN")
    result = await world.alice.slash(world.channel, "imagine", prompt="x", model="dall-e-3", size="512x512")
    assert result.response.content.startswith("`dall-e-3` 无法生成 512x512 的图片。允许的尺寸：")
    assert_errors(world.env, "SizeNotAllowed")
    await world.alice.slash(world.channel, "imagine", prompt="一只猫")
    await world.drain()
    (message,) = world.posts()
    assert set(buttons(message)) == {"重新生成", "变体", "删除"}
    edits = [str(e.get("content", "")) for e in original_edits(world)]
    assert any("预览 1/2" in c for c in edits)


async def test_a_stream_that_breaks_keeps_the_finished_images_and_bills_what_was_reported(
    world: World,
) -> None:
    # Per image: two partials, then the final. The connection drops after the first final.
    world.fake.add_fault(Fault(path="/v1/images/generations", drop_after_chunks=3))
    await world.alice.slash(
        world.channel, "imagine", prompt="two birds", n=2, size="1024x1024", quality="low"
    )
    await world.drain()
    (message,) = world.posts()
    assert len(message.attachments) == 1, message.content
    assert "-# ⚠️ The AI service stopped after 1 of 2 images." in message.content
    (event,) = await world.events()
    # What the first completed event reported: its prompt tokens and one image at low quality.
    assert event.output_tokens == 272 and event.images == 1


async def test_a_stream_that_breaks_before_any_image_shows_why_and_bills_nothing(world: World) -> None:
    world.fake.add_fault(Fault(path="/v1/images/generations", drop_after_chunks=1))
    await world.alice.slash(world.channel, "imagine", prompt="nothing comes")
    await world.drain()
    (message,) = world.posts()
    assert message.content.startswith("⚠️ ") and message.attachments == []
    assert await world.events() == []


async def test_a_server_without_usage_is_billed_per_image(world: World) -> None:
    await world.alice.slash(
        world.channel,
        "imagine",
        prompt="plain [[no-usage]]",
        model="gpt-image-1",
        size="1024x1536",
        quality="low",
    )
    await world.drain()
    (event,) = await world.events()
    assert event.input_tokens == 0 and event.cost_usd == Decimal("0.016")
    (message,) = world.posts()
    assert footer(message) == "-# gpt-image-1 · 1024x1536 · low · $0.016"


async def test_a_server_that_does_not_stream_gets_an_elapsed_time_note(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cogs.imagine import job

    monkeypatch.setattr(job, "ELAPSED_NOTE_SECONDS", 0.3)
    loop = asyncio.get_running_loop()
    # A real-time pause: simcord's virtual clock stands still while the bot waits for the API.
    world.bot.get_cog("Imagine").pause = lambda s: loop.run_in_executor(None, time.sleep, s)  # type: ignore[union-attr]
    world.fake.add_fault(Fault(path="/v1/images/generations", delay=1.5))
    await world.alice.slash(world.channel, "imagine", prompt="slowly", model="dall-e-2", size="512x512")
    await world.drain()
    contents = [str(edit.get("content", "")) for edit in original_edits(world)]
    assert any(re.search(r"Drawing… \d+ s so far", c) for c in contents), contents
    (message,) = world.posts()
    assert len(message.attachments) == 1 and "so far" not in message.content


async def test_model_autocomplete_offers_image_models_the_server_allows(world: World) -> None:
    await world.bot.model_catalog.refresh()
    choices = await world.alice.autocomplete(world.channel, "imagine", "model", "")
    offered = [c["value"] for c in choices]
    assert "gpt-image-2" in offered and "dall-e-3" in offered
    assert not any(m.startswith(("gpt-4", "whisper", "text-embedding")) for m in offered)
    await world.bot.feature_settings.update(
        world.guild.id, IMAGINE, allowed_models=["gpt-image-1", "gpt-image-2"]
    )
    choices = await world.alice.autocomplete(world.channel, "imagine", "model", "image")
    assert sorted(c["value"] for c in choices) == ["gpt-image-1", "gpt-image-2"]
    result = await world.alice.slash(world.channel, "imagine", prompt="x", model="dall-e-3")
    assert result.ephemeral and result.response.content == (
        "This server does not allow the model `dall-e-3`. Allowed: gpt-image-1, gpt-image-2."
    )
    assert world.api_requests() == []
    assert_errors(world.env, "ModelNotAllowed")


async def test_regenerating_an_edit_fetches_its_source_image_again(world: World) -> None:
    photo = make_png(40, 40, "source")
    await world.alice.slash(world.channel, "imagine", prompt="add snow", image=("photo.png", photo))
    await world.drain()
    (message,) = world.posts()
    await world.alice.click(message, label="Regenerate")
    await world.drain()
    first, second = world.image_requests("edits")
    assert first.files["image"].data == second.files["image"].data == photo
    assert second.form["prompt"] == "add snow"
    assert len(world.posts()) == 2


async def test_an_expired_interaction_token_still_delivers_the_images(world: World) -> None:
    world.fake.stream_delay = 0.3
    env = world.env
    async with without_settling(env):  # start the request and come back while it streams
        await world.alice.slash(world.channel, "imagine", prompt="a long night", n=2)
    deadline = time.perf_counter() + 30
    while not any("Preview" in str(e.get("content", "")) for e in original_edits(world)):
        assert time.perf_counter() < deadline
        await asyncio.sleep(0.05)
    # Fifteen minutes later Discord answers 401 / 50027 to anything sent with the interaction token.
    env.inject_error("*", "/webhooks/*", status=401, code=50027, message="Invalid Webhook Token", times=None)
    while not any(m.attachments and buttons(m) for m in world.posts()):
        assert time.perf_counter() < deadline
        await asyncio.sleep(0.05)
    await world.drain()
    (message,) = world.posts()
    assert len(message.attachments) == 2 and "Regenerate" in buttons(message)
    assert any(
        r.method == "PATCH" and r.path == f"/channels/{world.channel.id}/messages/{message.id}"
        for r in env.http_requests
    )
    assert len(await world.events()) == 1
    assert_errors(env)


async def test_no_variation_button_when_no_allowed_model_can_edit(world: World) -> None:
    await world.bot.feature_settings.update(
        world.guild.id, IMAGINE, model="dall-e-3", allowed_models=["dall-e-3"]
    )
    await world.alice.slash(world.channel, "imagine", prompt="a quiet pond")
    await world.drain()
    (message,) = world.posts()
    assert len(message.attachments) == 1
    assert set(buttons(message)) == {"Regenerate", "Delete"}
