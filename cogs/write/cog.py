"""/write: a member's prompt, completed by the model and streamed into the channel.

Checks (feature on, cooldown, permissions, model) happen before anything is spent; errors before
the first token are private, errors after it keep the text and say the answer was interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands, tasks

from bot.cooldowns import Cooldowns
from bot.discord_io.mentions import NO_PINGS
from bot.discord_io.replies import reply_privately
from bot.error_handler import handle_app_command_error, known_error_text
from bot.errors import Cooldown, UserFacingError
from bot.i18n import t
from bot.openai_api import BadRequestError, NotFoundError, OpenAIError
from bot.retention import purge_past_retention
from bot.usage.budgets import BudgetExceeded, Reservation
from bot.usage.estimate import estimate_tokens
from bot.usage.refusal import budget_refusal_text
from cogs.write.answer import AnswerRun
from cogs.write.endpoints import AnswerStream
from cogs.write.feature import CONTINUE_CONTEXT_CHARS, FEATURE, MAX_PROMPT_CHARS, WriteSettings
from cogs.write.sessions import WriteSession, WriteSessionRepo
from cogs.write.views import Action, PromptModal

if TYPE_CHECKING:
    from bot.app import OpenAIBot
    from bot.context import InteractionContext

log = logging.getLogger(__name__)

MAX_TOKENS_OPTION = 4096
# Discord wants an answer within 3 s; waiting at most 1 s for the API keeps a wide margin for the
# acknowledgement itself while letting fast refusals (quota, 404, 400, 429) be private.
OPEN_GRACE_SECONDS = 1.0
# How long shutdown waits for stopped answers to record their usage and show their text.
SHUTDOWN_GRACE_SECONDS = 5.0
# How often sessions past their server's retention are purged.
PURGE_INTERVAL_HOURS = 6.0


def _shows_thinking(interaction: discord.Interaction[Any]) -> bool:
    """Commands and forms show a "thinking…" placeholder; buttons answer with a new message."""
    return interaction.type is not discord.InteractionType.component


class ModelNotAllowed(UserFacingError):
    key = "write.error.model_not_allowed"

    def __init__(self, model: str, allowed: tuple[str, ...]) -> None:
        super().__init__(model=model, allowed=", ".join(allowed))


@dataclass(frozen=True, slots=True)
class WriteOptions:
    prompt: str
    temperature: float | None = None
    max_tokens: int | None = None
    model: str | None = None

    def with_prompt(self, prompt: str) -> WriteOptions:
        return replace(self, prompt=prompt)


def continuation_prompt(session: WriteSession, limit: int = CONTINUE_CONTEXT_CHARS) -> str:
    """What Continue sends: the prompt and answer so far, cut to their last `limit` characters
    (at a word boundary when one is near), so a chain of Continues never outgrows the model."""
    text = session.prompt + session.output
    if len(text) <= limit:
        return text
    tail = text[-limit:]
    space = tail.find(" ", 0, 200)
    return tail[space + 1 :] if space >= 0 else tail


@dataclass(frozen=True, slots=True)
class _Request:
    """A /write request that passed every check, with what the server's settings made of it."""

    ctx: InteractionContext
    options: WriteOptions
    model: str
    max_tokens: int


class WriteCog(commands.Cog, name="Write"):
    def __init__(self, bot: OpenAIBot) -> None:
        self.bot = bot
        self.sessions = WriteSessionRepo(bot.db)
        self.cooldowns = Cooldowns()
        self.running: dict[int, AnswerRun] = {}
        self._answer_tasks: set[asyncio.Task[Any]] = set()

    async def cog_load(self) -> None:
        self._purge_old_sessions.start()

    # -- the command ----------------------------------------------------------------------------

    @app_commands.command(
        name=locale_str("write", key="cmd.write.name"),
        description=locale_str(
            "Write text with the AI model, streamed as it is generated", key="cmd.write.description"
        ),
    )
    @app_commands.guild_only()
    @app_commands.rename(
        prompt=locale_str("prompt", key="cmd.write.opt.prompt.name"),
        temperature=locale_str("temperature", key="cmd.write.opt.temperature.name"),
        max_tokens=locale_str("max_tokens", key="cmd.write.opt.max_tokens.name"),
        model=locale_str("model", key="cmd.write.opt.model.name"),
    )
    @app_commands.describe(
        prompt=locale_str(
            "What to write; leave empty for a multi-line form", key="cmd.write.opt.prompt.description"
        ),
        temperature=locale_str(
            "0 = focused, 2 = very random (default 1)", key="cmd.write.opt.temperature.description"
        ),
        max_tokens=locale_str(
            "Longest answer, in tokens (capped by the server)", key="cmd.write.opt.max_tokens.description"
        ),
        model=locale_str(
            "Model to use (the server's default if empty)", key="cmd.write.opt.model.description"
        ),
    )
    async def write(
        self,
        interaction: discord.Interaction[Any],
        prompt: app_commands.Range[str, 1, MAX_PROMPT_CHARS] | None = None,
        temperature: app_commands.Range[float, 0.0, 2.0] | None = None,
        max_tokens: app_commands.Range[int, 1, MAX_TOKENS_OPTION] | None = None,
        model: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        options = WriteOptions(prompt or "", temperature, max_tokens, model)
        if prompt is None:
            ctx = await self.bot.contexts.get(interaction, FEATURE.name)
            self._check(ctx)
            await interaction.response.send_modal(PromptModal(self, options, ctx.locale))
            return
        await self.start_answer(interaction, options)

    @write.autocomplete("model")
    async def _model_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        models = self.bot.model_catalog.text_models() or []
        needle = current.lower()
        return [
            app_commands.Choice(name=model, value=model)
            for model in models
            if needle in model.lower() and (ctx.settings is None or ctx.settings.is_model_allowed(model))
        ][:25]

    # -- running an answer ----------------------------------------------------------------------

    def _check(self, ctx: InteractionContext) -> WriteSettings:
        """Everything that can refuse a request before anything is spent."""
        settings = ctx.require_feature("view_channel", "send_messages")
        assert isinstance(settings, WriteSettings) and ctx.guild_id is not None
        remaining = self.cooldowns.remaining(ctx.guild_id, ctx.interaction.user.id)
        if remaining > 0:
            raise Cooldown(remaining)
        return settings

    async def _request(self, interaction: discord.Interaction[Any], options: WriteOptions) -> _Request:
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        settings = self._check(ctx)
        model = options.model or ctx.model
        assert model is not None, "write declares a default model setting"
        if not settings.is_model_allowed(model):
            raise ModelNotAllowed(model, settings.allowed_models)
        max_tokens = min(options.max_tokens or settings.max_tokens, settings.max_tokens)
        return _Request(ctx, options, model, max_tokens)

    async def start_answer(self, interaction: discord.Interaction[Any], options: WriteOptions) -> None:
        request = await self._request(interaction, options)
        guild_id, user_id = request.ctx.guild_id, interaction.user.id
        assert guild_id is not None
        settings = request.ctx.settings
        assert isinstance(settings, WriteSettings)
        # Starting the cooldown before any await that yields keeps a double click from starting two;
        # a refusal gives the turn back.
        self.cooldowns.start(guild_id, user_id, settings.cooldown_seconds)
        started = False
        try:
            started = await self._answer(request)
        finally:
            if not started:
                self.cooldowns.cancel(guild_id, user_id)

    async def _answer(self, request: _Request) -> bool:
        """Open the stream, acknowledge, stream the answer; False when it was refused before starting."""
        ctx, interaction = request.ctx, request.ctx.interaction
        available = self.bot.model_catalog.text_models()
        if available is not None and request.model not in available:
            await self._refuse(interaction, self._unknown_model(request.model, available, ctx.locale))
            return False
        reservation = await self._reserve(request)
        if reservation is None:
            return False
        try:
            return await self._answer_within_budget(request, available)
        finally:
            # By now the ledger holds what the answer really cost (or nothing was spent).
            try:
                await self.bot.budgets.release(reservation)
            except Exception:
                log.exception("Could not release budget reservation %s (it expires)", reservation.id)

    async def _reserve(self, request: _Request) -> Reservation | None:
        """Hold the answer's worst-case cost (the prompt in, max_tokens out); None when refused."""
        ctx = request.ctx
        worst = self.bot.pricing.cost(
            request.model,
            input_tokens=estimate_tokens(request.options.prompt),
            output_tokens=request.max_tokens,
        )
        try:
            return await ctx.reserve(self.bot.budgets, worst)
        except BudgetExceeded as refusal:
            await self._refuse(ctx.interaction, budget_refusal_text(refusal, ctx.locale))
            return None

    async def _answer_within_budget(self, request: _Request, available: list[str] | None) -> bool:
        ctx, interaction = request.ctx, request.ctx.interaction
        assert ctx.guild_id is not None and interaction.channel_id is not None
        session = await self.sessions.create(
            guild_id=ctx.guild_id,
            channel_id=interaction.channel_id,
            user_id=interaction.user.id,
            model=request.model,
            prompt=request.options.prompt,
            temperature=request.options.temperature,
            max_tokens=request.max_tokens,
        )
        run = AnswerRun(
            self.bot, interaction, session, ctx.locale, first_is_original=_shows_thinking(interaction)
        )
        stream = await self._open_within_grace(run, session, available or [], ctx.locale)
        if stream is None:
            return False
        await self._stream(run, stream)
        return True

    async def _open_within_grace(
        self, run: AnswerRun, session: WriteSession, available: list[str], locale: str
    ) -> AnswerStream | None:
        """The opened stream, acknowledged; None when the API refused (said privately) or the
        interaction expired before it could be acknowledged (what was used is recorded)."""
        interaction = run.interaction
        # Most refusals (quota, rate limit, unknown model, prompt too long) arrive within a moment:
        # waiting briefly before acknowledging lets them be private notes instead of public ones.
        opening = asyncio.create_task(run.open(), name=f"write-open-{session.id}")
        await asyncio.wait({opening}, timeout=OPEN_GRACE_SECONDS)
        if not opening.done() or opening.exception() is None:
            try:
                await self._acknowledge(interaction)
            except discord.HTTPException as exc:
                # Too late (10062 Unknown interaction): nobody can see this answer, so close the
                # stream now and record what the request used so far.
                log.warning(
                    "Could not acknowledge /write in time (%s); abandoning session %s", exc.code, session.id
                )
                with contextlib.suppress(OpenAIError):
                    await run.abandon(await opening)
                await self.sessions.finish(session.guild_id, session.id, "", None)
                return None
        try:
            return await opening
        except OpenAIError as exc:
            await self._refuse(interaction, self._api_error_text(exc, session.model, available, locale))
            return None

    async def _stream(self, run: AnswerRun, stream: AnswerStream) -> None:
        session = run.session
        self.running[session.id] = run
        task = asyncio.current_task()
        if task is not None:
            self._answer_tasks.add(task)
        try:
            outcome = await run.run(stream)
        finally:
            self.running.pop(session.id, None)
            if task is not None:
                self._answer_tasks.discard(task)
        await self.sessions.finish(session.guild_id, session.id, outcome.text, outcome.finish_reason)
        await run.finish(outcome)

    @staticmethod
    async def _acknowledge(interaction: discord.Interaction[Any]) -> None:
        if interaction.response.is_done():
            return
        if _shows_thinking(interaction):
            await interaction.response.defer(thinking=True)
        else:
            await interaction.response.defer()  # a button: the answer comes as a new message

    def _unknown_model(self, model: str, available: list[str], locale: str) -> str:
        return t("write.error.unknown_model", locale, model=model, examples=", ".join(available[:5]) or "—")

    def _api_error_text(self, exc: OpenAIError, model: str, available: list[str], locale: str) -> str:
        if isinstance(exc, BadRequestError) and exc.code == "context_length_exceeded":
            return t("write.error.context_length", locale, model=model)
        if isinstance(exc, NotFoundError) and exc.code in (None, "model_not_found"):
            return self._unknown_model(model, available, locale)
        return known_error_text(exc, locale) or t("error.api_server", locale)

    async def _refuse(self, interaction: discord.Interaction[Any], text: str) -> None:
        """Tell the member why nothing was written: privately when the interaction still allows it."""
        if interaction.response.is_done() and _shows_thinking(interaction):
            # The public "thinking…" placeholder becomes the explanation.
            try:
                await interaction.edit_original_response(content=f"⚠️ {text}", allowed_mentions=NO_PINGS)
            except discord.HTTPException as exc:
                log.info("Could not deliver a /write refusal (interaction expired?): %s", exc.status)
            return
        await reply_privately(interaction, text)

    async def report_error(self, interaction: discord.Interaction[Any], error: BaseException) -> None:
        await handle_app_command_error(interaction, error, await self.bot.contexts.locale(interaction))

    # -- data kept ------------------------------------------------------------------------------

    @tasks.loop(hours=PURGE_INTERVAL_HOURS)
    async def _purge_old_sessions(self) -> None:
        await self.purge_old_sessions(datetime.now(UTC))

    async def purge_old_sessions(self, now: datetime) -> int:
        """Delete prompts and answers past each server's retention (`keep_sessions_days`)."""
        return await purge_past_retention(
            self.bot.feature_settings,
            FEATURE,
            "keep_sessions_days",
            lambda default, days: self.sessions.purge(now, default, days),
            "/write sessions",
        )

    # -- buttons --------------------------------------------------------------------------------

    async def on_button(self, interaction: discord.Interaction[Any], action: Action, session_id: int) -> None:
        try:
            await self._on_button(interaction, action, session_id)
        except Exception as exc:  # buttons have no tree handler; route them through the same one
            await self.report_error(interaction, exc)

    async def _on_button(
        self, interaction: discord.Interaction[Any], action: Action, session_id: int
    ) -> None:
        locale = (await self.bot.contexts.get(interaction, FEATURE.name)).locale
        session = None
        if interaction.guild_id is not None:
            session = await self.sessions.get(interaction.guild_id, session_id)
        if session is None:
            await reply_privately(interaction, t("write.button.expired", locale))
            return
        if interaction.user.id != session.user_id:
            await reply_privately(
                interaction, t("write.button.not_yours", locale, user=f"<@{session.user_id}>")
            )
            return
        if action == "stop":
            run = self.running.get(session_id)
            if run is None:
                await reply_privately(interaction, t("write.button.already_done", locale))
                return
            run.stop()
            await interaction.response.defer()
            return
        prompt = continuation_prompt(session) if action == "cont" else session.prompt
        options = WriteOptions(prompt, session.temperature, session.max_tokens, session.model)
        await self.start_answer(interaction, options)

    async def cog_unload(self) -> None:
        """On shutdown, end running answers as interrupted: their usage is recorded, their text kept."""
        self._purge_old_sessions.cancel()
        for run in list(self.running.values()):
            run.stop(shutdown=True)
        if self._answer_tasks:
            _, late = await asyncio.wait(self._answer_tasks, timeout=SHUTDOWN_GRACE_SECONDS)
            if late:
                log.warning("%d /write answers did not finish before shutdown", len(late))
