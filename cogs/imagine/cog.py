"""/imagine and the Edit image context menu: checks (feature on, cooldown, model, size, quality, count,
attachments) before anything is spent, acknowledgement at once, then one ImageJob per request; the
Regenerate, Variation and Delete buttons of its message."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands, tasks

from bot.cooldowns import Cooldowns
from bot.discord_io.replies import reply_privately
from bot.error_handler import handle_app_command_error
from bot.errors import Cooldown, UserFacingError
from bot.i18n import t
from bot.openai_api import ImageFile
from bot.usage.budgets import BudgetExceeded, Reservation
from bot.usage.refusal import budget_refusal_text
from cogs.imagine.downloads import DOWNLOAD_CAP
from cogs.imagine.feature import FEATURE, MAX_N, MAX_PROMPT_CHARS, ImagineSettings
from cogs.imagine.fitting import image_dimensions
from cogs.imagine.job import ImageJob, Source
from cogs.imagine.requests import ImagineRequest, ImagineRequestRepo
from cogs.imagine.sizes import (
    check_count,
    check_quality,
    check_size,
    default_size,
    family_of,
    is_image_model,
    size_choices,
)
from cogs.imagine.views import Action, EditImageModal

if TYPE_CHECKING:
    from bot.app import OpenAIBot
    from bot.context import InteractionContext

log = logging.getLogger(__name__)

# GPT image models take PNG, JPEG or WebP under 50 MB; dall-e-2 a square PNG under 4 MB; masks are PNGs
# under 4 MB. Checked from the attachment's declared size and type, before anything is downloaded.
GPT_IMAGE_INPUT_BYTES = 50 * 1024 * 1024
DALLE_INPUT_BYTES = 4 * 1024 * 1024
MASK_BYTES = 4 * 1024 * 1024
_GPT_INPUT_TYPES = ("image/png", "image/jpeg", "image/webp")
PURGE_INTERVAL_HOURS = 6.0


class ModelNotAllowed(UserFacingError):
    key = "imagine.error.model_not_allowed"

    def __init__(self, model: str, allowed: tuple[str, ...]) -> None:
        super().__init__(model=model, allowed=", ".join(allowed))


class NotAnImageModel(UserFacingError):
    key = "imagine.error.not_image_model"

    def __init__(self, model: str) -> None:
        super().__init__(model=model)


class CannotEdit(UserFacingError):
    key = "imagine.error.cannot_edit"

    def __init__(self, model: str) -> None:
        super().__init__(model=model)


class BadAttachment(UserFacingError):
    key = "imagine.error.attachment"

    def __init__(self, what: str, rule: str) -> None:
        super().__init__(what=what, rule=rule)


class NoImageInMessage(UserFacingError):
    key = "imagine.error.no_image_in_message"


def _attachment_type(attachment: discord.Attachment) -> str:
    return (attachment.content_type or "").split(";")[0].strip().lower()


class ImagineCog(commands.Cog, name="Imagine"):
    def __init__(self, bot: OpenAIBot) -> None:
        self.bot = bot
        self.requests = ImagineRequestRepo(bot.db)
        self.cooldowns = Cooldowns()
        #: Largest image download accepted from an API-returned URL (tests lower it).
        self.download_cap = DOWNLOAD_CAP
        #: How the elapsed-time note waits (tests pass a real-time sleep: simcord's clock is virtual).
        self.pause: Callable[[float], Awaitable[object]] = asyncio.sleep
        self.edit_menu = app_commands.ContextMenu(
            name=locale_str("Edit image", key="imagine.menu.edit"), callback=self._edit_menu
        )
        self.edit_menu.guild_only = True

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.edit_menu)
        self._purge.start()

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.edit_menu.name, type=self.edit_menu.type)
        self._purge.cancel()

    @tasks.loop(hours=PURGE_INTERVAL_HOURS)
    async def _purge(self) -> None:
        try:
            await self.requests.purge(datetime.now(UTC))
        except Exception:
            log.exception("Could not purge old /imagine requests; trying again later")

    # -- the command ----------------------------------------------------------------------------

    @app_commands.command(
        name=locale_str("imagine", key="cmd.imagine.name"),
        description=locale_str(
            "Draw images from a prompt, or edit an image you attach", key="cmd.imagine.description"
        ),
    )
    @app_commands.guild_only()
    @app_commands.rename(
        prompt=locale_str("prompt", key="cmd.imagine.opt.prompt.name"),
        image=locale_str("image", key="cmd.imagine.opt.image.name"),
        mask=locale_str("mask", key="cmd.imagine.opt.mask.name"),
        n=locale_str("n", key="cmd.imagine.opt.n.name"),
        size=locale_str("size", key="cmd.imagine.opt.size.name"),
        quality=locale_str("quality", key="cmd.imagine.opt.quality.name"),
        model=locale_str("model", key="cmd.imagine.opt.model.name"),
    )
    @app_commands.describe(
        prompt=locale_str("What to draw, or what to change", key="cmd.imagine.opt.prompt.description"),
        image=locale_str("An image to edit (PNG, JPEG or WebP)", key="cmd.imagine.opt.image.description"),
        mask=locale_str(
            "PNG whose transparent areas mark where to edit", key="cmd.imagine.opt.mask.description"
        ),
        n=locale_str("How many images (1-4)", key="cmd.imagine.opt.n.description"),
        size=locale_str("Image size, e.g. 1024x1024", key="cmd.imagine.opt.size.description"),
        quality=locale_str("Quality (higher costs more)", key="cmd.imagine.opt.quality.description"),
        model=locale_str(
            "Model to use (the server's default if empty)", key="cmd.imagine.opt.model.description"
        ),
    )
    @app_commands.choices(
        quality=[
            app_commands.Choice(name=locale_str(q, key=f"imagine.quality.{q}"), value=q)
            for q in ("auto", "low", "medium", "high", "standard", "hd")
        ]
    )
    async def imagine(
        self,
        interaction: discord.Interaction[Any],
        prompt: app_commands.Range[str, 1, MAX_PROMPT_CHARS],
        image: discord.Attachment | None = None,
        mask: discord.Attachment | None = None,
        n: app_commands.Range[int, 1, MAX_N] = 1,
        size: app_commands.Range[str, 1, 20] | None = None,
        quality: str = "auto",
        model: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        settings = self._check(ctx)
        chosen = self._model(ctx, settings, model)
        if mask is not None and image is None:
            raise BadAttachment("mask", t("imagine.rule.mask_needs_image", ctx.locale))
        if image is not None:
            self._check_image(chosen, image, ctx.locale)
            if mask is not None:
                self._check_mask(mask, ctx.locale)
        request_size = check_size(chosen, size) if size else default_size(chosen)
        request_quality = check_quality(chosen, quality, settings.allowed_qualities)
        count = check_count(chosen, n, settings.max_n)
        await interaction.response.defer(thinking=True)
        source = None
        if image is not None:
            source = await self._download_source(interaction, image, mask, ctx.locale)
            if source is None:
                return
        await self._run(ctx, settings, chosen, prompt, count, request_size, request_quality, source, image)

    @imagine.autocomplete("model")
    async def _model_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        ids = self.bot.model_catalog.ids() or []
        needle = current.lower()
        return [
            app_commands.Choice(name=model, value=model)
            for model in ids
            if is_image_model(model)
            and needle in model.lower()
            and (ctx.settings is None or ctx.settings.is_model_allowed(model))
        ][:25]

    @imagine.autocomplete("size")
    async def _size_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        model = getattr(interaction.namespace, "model", None) or ctx.model or ""
        return [app_commands.Choice(name=size, value=size) for size in size_choices(model, current)]

    # -- checks (nothing spent yet) -------------------------------------------------------------

    def _check(self, ctx: InteractionContext) -> ImagineSettings:
        settings = ctx.require_feature("view_channel", "send_messages", "attach_files")
        assert isinstance(settings, ImagineSettings) and ctx.guild_id is not None
        remaining = self.cooldowns.remaining(ctx.guild_id, ctx.interaction.user.id)
        if remaining > 0:
            raise Cooldown(remaining)
        return settings

    def _model(self, ctx: InteractionContext, settings: ImagineSettings, model: str | None) -> str:
        chosen = model or ctx.model
        assert chosen is not None, "imagine declares a default model setting"
        if not settings.is_model_allowed(chosen):
            raise ModelNotAllowed(chosen, settings.allowed_models)
        available = self.bot.model_catalog.ids()
        if model is not None and available is not None and model not in available:
            raise NotAnImageModel(model)
        return chosen

    def _check_image(self, model: str, image: discord.Attachment, locale: str) -> None:
        family = family_of(model)
        if not family.edits:
            raise CannotEdit(model)
        kind = _attachment_type(image)
        if family.name == "gpt-image":
            if kind not in _GPT_INPUT_TYPES or image.size > GPT_IMAGE_INPUT_BYTES:
                raise BadAttachment(image.filename, t("imagine.rule.gpt_image_input", locale))
        elif kind != "image/png" or image.size > DALLE_INPUT_BYTES:
            raise BadAttachment(image.filename, t("imagine.rule.dalle_input", locale))

    def _check_mask(self, mask: discord.Attachment, locale: str) -> None:
        if _attachment_type(mask) != "image/png" or mask.size > MASK_BYTES:
            raise BadAttachment(mask.filename, t("imagine.rule.mask", locale))

    async def _download_source(
        self,
        interaction: discord.Interaction[Any],
        image: discord.Attachment,
        mask: discord.Attachment | None,
        locale: str,
    ) -> Source | None:
        """The attachments' bytes, fetched now (Discord's CDN URLs expire); None after telling why not."""
        try:
            data = await image.read()
            mask_data = await mask.read() if mask is not None else None
        except discord.HTTPException as exc:
            log.info("Could not fetch an /imagine attachment: %s", exc.status)
            await self._say(interaction, t("imagine.error.source_gone", locale))
            return None
        if mask_data is not None and (
            image_dimensions(data) is None or image_dimensions(mask_data) != image_dimensions(data)
        ):
            await self._say(interaction, t("imagine.error.mask_dimensions", locale))
            return None
        return Source(
            ImageFile(data, image.filename, _attachment_type(image) or None),
            ImageFile(mask_data, mask.filename, "image/png") if mask is not None and mask_data else None,
        )

    @staticmethod
    async def _say(interaction: discord.Interaction[Any], text: str) -> None:
        """Replace the acknowledged placeholder with a short notice."""
        try:
            await interaction.edit_original_response(content=f"⚠️ {text}")
        except discord.HTTPException as exc:
            log.info("Could not deliver an /imagine notice: %s", exc.status)

    # -- running --------------------------------------------------------------------------------

    async def _run(
        self,
        ctx: InteractionContext,
        settings: ImagineSettings,
        model: str,
        prompt: str,
        n: int,
        size: str,
        quality: str,
        source: Source | None,
        source_attachment: discord.Attachment | None,
    ) -> None:
        reservation = await self._reserve(ctx, model, n, size, quality)
        if reservation is None:
            return
        try:
            await self._run_reserved(
                ctx, settings, model, prompt, n, size, quality, source, source_attachment
            )
        finally:
            try:
                await self.bot.budgets.release(reservation)
            except Exception:
                log.exception("Could not release budget reservation %s (it expires)", reservation.id)

    async def _reserve(
        self, ctx: InteractionContext, model: str, n: int, size: str, quality: str
    ) -> Reservation | None:
        """Hold the request's worst case (n images at this size and quality); None when refused."""
        worst = self.bot.pricing.cost(
            model,
            images=n,
            # "auto" lets the model choose: the pricing table then charges its dearest image.
            image_size=None if size == "auto" else size,
            image_quality=None if quality == "auto" else quality,
        )
        try:
            return await ctx.reserve(self.bot.budgets, worst)
        except BudgetExceeded as refusal:
            text = budget_refusal_text(refusal, ctx.locale)
            if ctx.interaction.type is discord.InteractionType.component:
                await reply_privately(ctx.interaction, text)  # the button's message keeps its images
            else:
                await self._say(ctx.interaction, text)
            return None

    async def _run_reserved(
        self,
        ctx: InteractionContext,
        settings: ImagineSettings,
        model: str,
        prompt: str,
        n: int,
        size: str,
        quality: str,
        source: Source | None,
        source_attachment: discord.Attachment | None,
    ) -> None:
        interaction = ctx.interaction
        assert ctx.guild_id is not None and interaction.channel_id is not None
        guild_id, user_id = ctx.guild_id, interaction.user.id
        request = await self.requests.create(
            guild_id=guild_id,
            channel_id=interaction.channel_id,
            user_id=user_id,
            model=model,
            prompt=prompt,
            n=n,
            size=size,
            quality=quality,
            source_url=source_attachment.url if source_attachment is not None else None,
        )
        # Started before the request runs so a double click cannot start two; a refusal gives it back.
        self.cooldowns.start(guild_id, user_id, settings.cooldown_seconds)
        posted = False
        try:
            default = ctx.model
            can_vary = family_of(model).edits or (
                default is not None and family_of(default).edits and settings.is_model_allowed(default)
            )
            posted = await self.new_job(interaction, request, ctx.locale, source, can_vary=can_vary).run()
        finally:
            if not posted:
                self.cooldowns.cancel(guild_id, user_id)

    def new_job(
        self,
        interaction: discord.Interaction[Any],
        request: ImagineRequest,
        locale: str,
        source: Source | None,
        *,
        can_vary: bool,
    ) -> ImageJob:
        return ImageJob(
            self.bot,
            interaction,
            request,
            locale,
            source,
            download_cap=self.download_cap,
            pause=self.pause,
            can_vary=can_vary,
        )

    async def report_error(self, interaction: discord.Interaction[Any], error: BaseException) -> None:
        await handle_app_command_error(interaction, error, await self.bot.contexts.locale(interaction))

    # -- Edit image (message context menu) -------------------------------------------------------

    async def _edit_menu(self, interaction: discord.Interaction[Any], message: discord.Message) -> None:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        settings = self._check(ctx)
        self._edit_model(ctx, settings, None)  # refuse now rather than after the form
        if self._first_image(message) is None:
            raise NoImageInMessage()
        await interaction.response.send_modal(EditImageModal(self, message, ctx.locale))

    def _edit_model(self, ctx: InteractionContext, settings: ImagineSettings, preferred: str | None) -> str:
        """The model for an edit: `preferred` when it can edit, else the server's default; both must be
        allowed here."""
        for candidate in (preferred, ctx.model):
            if candidate and family_of(candidate).edits and settings.is_model_allowed(candidate):
                return candidate
        raise CannotEdit(preferred or ctx.model or "?")

    @staticmethod
    def _first_image(message: discord.Message) -> discord.Attachment | None:
        for attachment in message.attachments:
            if _attachment_type(attachment).startswith("image/"):
                return attachment
        return None

    async def edit_message_image(
        self, interaction: discord.Interaction[Any], message: discord.Message, prompt: str
    ) -> None:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        settings = self._check(ctx)
        model = self._edit_model(ctx, settings, None)
        attachment = self._first_image(message)
        if attachment is None:
            raise NoImageInMessage()
        self._check_image(model, attachment, ctx.locale)
        await interaction.response.defer(thinking=True)
        source = await self._download_source(interaction, attachment, None, ctx.locale)
        if source is None:
            return
        size = default_size(model)
        quality = check_quality(model, "auto", settings.allowed_qualities)
        await self._run(ctx, settings, model, prompt, 1, size, quality, source, attachment)

    # -- buttons --------------------------------------------------------------------------------

    async def on_button(
        self, interaction: discord.Interaction[Any], action: Action, request_id: int, index: int
    ) -> None:
        try:
            await self._on_button(interaction, action, request_id, index)
        except Exception as exc:  # buttons have no tree handler; route them through the same one
            await self.report_error(interaction, exc)

    async def _on_button(
        self, interaction: discord.Interaction[Any], action: Action, request_id: int, index: int
    ) -> None:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        locale = ctx.locale
        request = None
        if interaction.guild_id is not None:
            request = await self.requests.get(interaction.guild_id, request_id)
        if request is None:
            await reply_privately(interaction, t("imagine.button.expired", locale))
            return
        is_requester = interaction.user.id == request.user_id
        if action == "del":
            if not (is_requester or interaction.permissions.manage_messages):
                await reply_privately(interaction, t("imagine.button.delete_refused", locale))
                return
            await interaction.response.defer()
            await interaction.delete_original_response()
            return
        if not is_requester:
            await reply_privately(
                interaction, t("imagine.button.not_yours", locale, user=f"<@{request.user_id}>")
            )
            return
        settings = self._check(ctx)
        if action == "regen":
            await self._regenerate(ctx, settings, request)
        else:
            await self._variation(ctx, settings, request, index)

    async def _regenerate(
        self, ctx: InteractionContext, settings: ImagineSettings, request: ImagineRequest
    ) -> None:
        interaction = ctx.interaction
        if not settings.is_model_allowed(request.model):
            raise ModelNotAllowed(request.model, settings.allowed_models)
        await interaction.response.send_message(t("imagine.note.drawing", ctx.locale))
        source = None
        if request.source_url is not None:
            try:
                data = await self.bot.http.get_from_cdn(request.source_url)
            except (discord.HTTPException, discord.NotFound) as exc:
                log.info("/imagine source of request %s is gone: %s", request.id, exc)
                await self._say(interaction, t("imagine.error.source_gone", ctx.locale))
                return
            source = Source(
                ImageFile(data, request.source_url.rsplit("/", 1)[-1].split("?")[0] or "image.png")
            )
        await self._run(
            ctx,
            settings,
            request.model,
            request.prompt,
            request.n,
            request.size,
            request.quality,
            source,
            None,
        )

    async def _variation(
        self, ctx: InteractionContext, settings: ImagineSettings, request: ImagineRequest, index: int
    ) -> None:
        interaction = ctx.interaction
        message = interaction.message
        images = (
            [a for a in message.attachments if _attachment_type(a).startswith("image/")] if message else []
        )
        if index >= len(images):
            await reply_privately(interaction, t("imagine.button.expired", ctx.locale))
            return
        attachment = images[index]
        model = self._edit_model(ctx, settings, request.model)
        self._check_image(model, attachment, ctx.locale)
        await interaction.response.send_message(t("imagine.note.drawing", ctx.locale))
        source = await self._download_source(interaction, attachment, None, ctx.locale)
        if source is None:
            return
        size = request.size
        try:
            size = check_size(model, size)
        except UserFacingError:
            size = default_size(model)
        quality = request.quality if request.quality in family_of(model).qualities else "auto"
        await self._run(ctx, settings, model, request.prompt, 1, size, quality, source, attachment)
