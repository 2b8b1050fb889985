"""One /imagine request after it was acknowledged: call the API (streamed partial previews for GPT image
models, an elapsed-time note otherwise), get every image's bytes, fit them under the upload limit, post
them in one message with prompt, footer and buttons, and record the usage once in the ledger."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import discord

from bot.discord_io.mentions import NO_PINGS
from bot.error_handler import known_error_text
from bot.i18n import t
from bot.openai_api import (
    ContentPolicyError,
    ImageFile,
    ImagesResponse,
    ImageStream,
    ImageUsage,
    NotFoundError,
    OpenAIError,
)
from bot.usage import UsageEvent
from cogs.imagine.billing import token_cost
from cogs.imagine.downloads import DOWNLOAD_CAP, DownloadError, download_image
from cogs.imagine.fitting import (
    COMPRESSED_FORMAT,
    COMPRESSION,
    FittedImage,
    ImageTooLarge,
    fit_image,
    needs_compressed_output,
    per_file_budget,
    preview_image,
    upload_limit,
)
from cogs.imagine.sizes import family_of
from cogs.imagine.views import result_view

if TYPE_CHECKING:
    from bot.app import OpenAIBot
    from cogs.imagine.requests import ImagineRequest

log = logging.getLogger(__name__)

# Previews per image the GPT image models are asked for (1-3; each costs 100 output tokens).
PARTIAL_IMAGES = 2
# A server that does not stream gets an elapsed-time note at most this often.
ELAPSED_NOTE_SECONDS = 10.0
# A high-quality image can take two minutes or more, well past the bot's general request timeout;
# for a stream this bounds each wait between events (the first one included).
IMAGE_REQUEST_TIMEOUT = 300.0
_PROMPT_SHOWN = 1200
# Discord's answers to an expired interaction token (after 15 minutes): Invalid/Unknown Webhook.
_EXPIRED_TOKEN_CODES = frozenset({50027, 10015})
_REVISED_SHOWN = 400


def format_usd(cost: Decimal) -> str:
    """Dollars and cents from $1 up; below, the price's own digits ($0.016, not a rounded $0.02)."""
    if cost == 0:
        return "$0"
    if cost >= 1:
        return f"${cost:.2f}"
    if cost < Decimal("0.000001"):
        return "<$0.000001"
    return "$" + f"{cost:.6f}".rstrip("0").rstrip(".")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(slots=True)
class Source:
    """The image an edit starts from (and its mask), already downloaded."""

    image: ImageFile
    mask: ImageFile | None = None


@dataclass(slots=True)
class Result:
    images: list[bytes] = field(default_factory=list)
    #: Images the API made (and billed), delivered or not.
    made: int = 0
    #: Seconds spent decoding each image's base64 (0 for a downloaded one), the bot's own time.
    decode_seconds: list[float] = field(default_factory=list)
    revised_prompt: str | None = None
    usage: ImageUsage | None = None
    request_id: str | None = None
    size: str | None = None
    quality: str | None = None
    interrupted: bool = False


class ImageFailed(Exception):
    """The request ended without images; `text` tells the member why (already localized)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class ImageJob:
    """Runs one request and renders it in the interaction's original response."""

    def __init__(
        self,
        bot: OpenAIBot,
        interaction: discord.Interaction[Any],
        request: ImagineRequest,
        locale: str,
        source: Source | None = None,
        *,
        download_cap: int = DOWNLOAD_CAP,
        pause: Callable[[float], Awaitable[object]] = asyncio.sleep,
        can_vary: bool = True,
    ) -> None:
        self.bot = bot
        self.interaction = interaction
        self.request = request
        self.locale = locale
        self.source = source
        self.download_cap = download_cap
        self._pause = pause
        #: Whether a Variation (an edit) can be made here: by this model or the server's default.
        self._can_vary = can_vary
        self.family = family_of(request.model)
        self.budget = per_file_budget(upload_limit(interaction), request.n)
        self._files: list[discord.File] = []
        self._view: discord.ui.View | None = None
        self._handle = bot.edit_scheduler.register(request.channel_id, self._send)
        self._started = time.perf_counter()
        self._recorded: UsageEvent | None = None
        #: The reply's message, once known; edits go through the channel after the token expires.
        self._message_id: int | None = None
        self._via_channel = False
        #: Final images of a stream as they arrive, decoded, with the seconds decoding took.
        self._finals: list[tuple[bytes, float]] = []
        #: The bot's own time per image (decode + fit + upload preparation), for the benchmark.
        self.prepare_seconds: list[float] = []

    # -- rendering --------------------------------------------------------------------------------

    async def _send(self, content: str) -> None:
        # Files are rebuilt by each send: a discord.File is consumed by the request that carries it.
        kwargs: dict[str, Any] = {
            "content": content,
            "attachments": list(self._files),
            "allowed_mentions": NO_PINGS,
        }
        if self._view is not None:
            kwargs["view"] = self._view
        if not self._via_channel:
            try:
                message = await self.interaction.edit_original_response(**kwargs)
            except discord.HTTPException as exc:
                if not (exc.status == 401 or exc.code in _EXPIRED_TOKEN_CODES):
                    raise
                log.info(
                    "/imagine request %s outlived its interaction token; using the channel", self.request.id
                )
                self._via_channel = True
            else:
                self._message_id = message.id
                return
        channel = self.interaction.channel
        if not isinstance(channel, discord.TextChannel | discord.Thread | discord.VoiceChannel):
            return
        if self._message_id is not None:
            # The bot wrote this message, so it may edit it through the channel too.
            await channel.get_partial_message(self._message_id).edit(**kwargs)
        else:
            self._message_id = (await channel.send(**kwargs)).id

    def _show(self, content: str, images: list[FittedImage], view: discord.ui.View | None = None) -> None:
        self._files = [
            discord.File(io.BytesIO(img.data), filename=f"image_{i + 1}.{img.extension}")
            for i, img in enumerate(images)
        ]
        self._view = view
        self._handle.update(content, force=True)

    def _header(self) -> str:
        return f"🎨 **{discord.utils.escape_markdown(_short(self.request.prompt, _PROMPT_SHOWN))}**"

    # -- running ----------------------------------------------------------------------------------

    async def run(self) -> bool:
        """True when images were posted; otherwise the reason is shown in place of the placeholder."""
        try:
            try:
                result = await self._call()
                fitted = await self._prepare(result)
            except ImageFailed as failed:
                self._show(f"⚠️ {failed.text}", [])
                await self._flush()
                return False
            recorded = await self._record(result, len(fitted))
            started = time.perf_counter()
            self._show(
                self._final_content(result, fitted, recorded),
                fitted,
                result_view(self.request.id, len(fitted), self.locale, can_vary=self._can_vary),
            )
            share = (time.perf_counter() - started) / len(fitted)
            self.prepare_seconds = [seconds + share for seconds in self.prepare_seconds]
            await self._flush()
            return True
        finally:
            self._handle.close()

    async def _flush(self) -> None:
        try:
            await self._handle.flush()
        except discord.HTTPException as exc:
            log.info("Could not show /imagine request %s: %s %s", self.request.id, exc.status, exc.code)

    def _options(self) -> dict[str, Any]:
        req = self.request
        options: dict[str, Any] = {
            "model": req.model,
            "prompt": req.prompt,
            "n": req.n,
            "user": f"discord:{req.guild_id}:{req.user_id}",
            "request_timeout": max(IMAGE_REQUEST_TIMEOUT, self.bot.settings.request_timeout),
        }
        if req.size != "auto":
            options["size"] = req.size
        if req.quality != "auto":
            options["quality"] = req.quality
        if self.family.streams and needs_compressed_output(req.size, self.budget):
            # A PNG this large might not fit: ask for a compressed format instead of re-encoding later.
            options["output_format"] = COMPRESSED_FORMAT
            options["output_compression"] = COMPRESSION
        return options

    async def _call(self) -> Result:
        try:
            if self.family.streams:
                return await self._streamed()
            return await self._plain()
        except ContentPolicyError:
            # Not retried, nothing recorded: the API bills no refused request.
            raise ImageFailed(t("imagine.error.content_policy", self.locale)) from None
        except NotFoundError as exc:
            if exc.code in (None, "model_not_found"):
                raise ImageFailed(
                    t("imagine.error.unknown_model", self.locale, model=self.request.model)
                ) from None
            raise ImageFailed(
                known_error_text(exc, self.locale) or t("error.api_server", self.locale)
            ) from None
        except OpenAIError as exc:
            log.info("/imagine request %s failed: %s", self.request.id, type(exc).__name__)
            raise ImageFailed(
                known_error_text(exc, self.locale) or t("error.api_server", self.locale)
            ) from None

    async def _plain(self) -> Result:
        ticker = asyncio.create_task(self._tick(), name=f"imagine-elapsed-{self.request.id}")
        try:
            options = self._options()
            if self.source is not None:
                response = await self.bot.api.images.edit(
                    image=self.source.image, mask=self.source.mask, **options
                )
            else:
                response = await self.bot.api.images.generate(**options)
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        return await self._from_response(response)

    async def _tick(self) -> None:
        """A server that does not stream: say how long it has been drawing, every 10 s at most."""
        while True:
            await self._pause(ELAPSED_NOTE_SECONDS)
            seconds = int(time.perf_counter() - self._started)
            self._show(f"{self._header()}\n-# {t('imagine.note.elapsed', self.locale, seconds=seconds)}", [])

    async def _from_response(self, response: ImagesResponse) -> Result:
        result = Result(
            usage=response.usage,
            request_id=response.meta.request_id,
            size=response.size,
            quality=response.quality,
            made=len(response.data),
        )
        for item in response.data:
            if item.revised_prompt and result.revised_prompt is None:
                result.revised_prompt = item.revised_prompt
            started = time.perf_counter()
            try:
                data = item.image_bytes()
            except ValueError:
                data = None
            decoded = time.perf_counter() - started
            item.b64_json = None  # the decoded bytes are kept; the base64 text is a third larger
            if data is None and item.url:
                try:
                    data = await download_image(self.bot.http_session, item.url, cap=self.download_cap)
                except DownloadError as exc:
                    log.warning("/imagine request %s: image URL unusable (%s)", self.request.id, exc.reason)
                    await self._record(result, 0)
                    raise ImageFailed(t(f"imagine.error.download_{exc.reason}", self.locale)) from None
            if data is not None:
                result.images.append(data)
                result.decode_seconds.append(decoded)
        if not result.images:
            raise ImageFailed(t("imagine.error.no_images", self.locale))
        return result

    async def _streamed(self) -> Result:
        options = self._options()
        options["partial_images"] = PARTIAL_IMAGES
        if self.source is not None:
            stream = await self.bot.api.images.edit_stream(
                image=self.source.image, mask=self.source.mask, **options
            )
        else:
            stream = await self.bot.api.images.generate_stream(**options)
        result = Result(request_id=stream.meta.request_id)
        try:
            await self._consume(stream)
        except OpenAIError:
            if not stream.completed:
                # What the API reported before it broke is still what it billed.
                result.usage = stream.usage
                if result.usage is not None:
                    await self._record(result, 0)
                raise
            log.warning("/imagine stream %s broke after %d images", self.request.id, len(stream.completed))
            result.interrupted = True
        result.usage = stream.usage
        result.made = len(stream.completed)
        for data, seconds in self._finals:
            result.images.append(data)
            result.decode_seconds.append(seconds)
        for event in stream.completed:
            result.size = result.size or event.size
            result.quality = result.quality or event.quality
        if not result.images:
            raise ImageFailed(t("imagine.error.no_images", self.locale))
        return result

    async def _consume(self, stream: ImageStream) -> None:
        """Show each partial image as it arrives; a partial that comes after its image's final
        (the final may arrive first) is ignored."""
        waiting_for_next_image = False
        async with stream:
            async for event in stream:
                if event.is_completed:
                    waiting_for_next_image = True
                    # Decoded now, so the base64 text (a third larger) is not kept for every image.
                    started = time.perf_counter()
                    final = event.image_bytes()
                    event.b64_json = None
                    if final is not None:
                        self._finals.append((final, time.perf_counter() - started))
                    continue
                if not event.is_partial or (waiting_for_next_image and event.partial_image_index != 0):
                    continue
                waiting_for_next_image = False
                data = event.image_bytes()
                if data is None:
                    continue
                preview = await asyncio.to_thread(preview_image, data, self.budget)
                number = len(stream.completed) + 1
                note = t(
                    "imagine.note.preview",
                    self.locale,
                    step=(event.partial_image_index or 0) + 1,
                    steps=PARTIAL_IMAGES,
                    image=number,
                    images=self.request.n,
                )
                self._show(f"{self._header()}\n-# {note}", [preview])

    async def _prepare(self, result: Result) -> list[FittedImage]:
        fitted = []
        for data, decoded in zip(result.images, result.decode_seconds, strict=True):
            started = time.perf_counter() - decoded
            try:
                # Most images fit as they are: a thread hop would only add the wait for a free loop.
                fits = len(data) <= self.budget
                image = (
                    fit_image(data, self.budget)
                    if fits
                    else await asyncio.to_thread(fit_image, data, self.budget)
                )
            except (ImageTooLarge, OSError, ValueError) as exc:
                log.warning("/imagine request %s: image could not be fitted: %s", self.request.id, exc)
                continue
            fitted.append(image)
            self.prepare_seconds.append(time.perf_counter() - started)
        if not fitted:
            await self._record(result, 0)
            raise ImageFailed(t("imagine.error.no_images", self.locale))
        return fitted

    async def _record(self, result: Result, delivered: int) -> UsageEvent:
        """Record once what the API billed; a ledger failure is logged loudly, never shown as an error."""
        req = self.request
        if self._recorded is not None:
            return self._recorded
        usage = result.usage
        cost = token_cost(self.bot.pricing, req.model, usage)
        made = result.made or len(result.images) or delivered
        event = UsageEvent(
            guild_id=req.guild_id,
            channel_id=req.channel_id,
            user_id=req.user_id,
            feature="imagine",
            model=req.model,
            request_id=result.request_id,
            input_tokens=usage.input_tokens if usage else 0,
            output_tokens=usage.output_tokens if usage else 0,
            images=made,
            image_size=result.size or (req.size if req.size != "auto" else None),
            image_quality=result.quality or (req.quality if req.quality != "auto" else None),
            cost_usd=cost,
        )
        try:
            self._recorded = await self.bot.ledger.record(event)
        except Exception:
            log.exception("Usage of /imagine request %s NOT recorded: %r", req.id, event)
            priced = (
                cost
                if cost is not None
                else self.bot.pricing.cost(
                    req.model, images=made, image_size=event.image_size, image_quality=event.image_quality
                )
            )
            self._recorded = event.model_copy(update={"cost_usd": priced})
        return self._recorded

    def _final_content(self, result: Result, fitted: list[FittedImage], recorded: UsageEvent) -> str:
        req, locale = self.request, self.locale
        lines = [self._header()]
        if result.revised_prompt:
            revised = discord.utils.escape_markdown(_short(result.revised_prompt, _REVISED_SHOWN))
            lines.append(t("imagine.revised", locale, prompt=revised))
        notes = []
        if result.interrupted:
            notes.append(t("imagine.note.interrupted", locale, made=len(fitted), n=req.n))
        if any(image.reencoded for image in fitted):
            notes.append(t("imagine.note.reencoded", locale))
        cost = recorded.cost_usd if recorded.cost_usd is not None else Decimal(0)
        notes.append(
            t(
                "imagine.footer",
                locale,
                model=req.model,
                size=result.size or req.size,
                quality=result.quality or req.quality,
                cost=format_usd(cost),
            )
        )
        lines.extend(f"-# {note}" for note in notes)
        return "\n".join(lines)
