"""/files (list, upload, delete) and /finetune (create, list, status, cancel) for Manage Server.

Manage Server is required twice: as the commands' default permission and again when a command
runs. Files and jobs are looked up by (server, id), so no server reaches another's.
"""

from __future__ import annotations

import io
import json
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.discord_io.mentions import NO_PINGS
from bot.openai_api import OpenAIError
from bot.openai_api.errors import APIStatusError, NotFoundError
from bot.usage.budgets import BudgetExceeded
from bot.usage.refusal import budget_refusal_text
from cogs.finetune.export import Turn, conversation_until, example_line
from cogs.finetune.feature import FEATURE, MODEL_FEATURES, FineTuningSettings
from cogs.finetune.follower import Follower
from cogs.finetune.launch import FineTuningRefused, JobLauncher, LaunchPlan, Upload
from cogs.finetune.render import job_line, report_text, status_name
from cogs.finetune.store import FineTuningStore, OwnedFile
from cogs.finetune.validate import Report, is_legacy_model, validate_bytes
from cogs.finetune.views import ConfirmView

if TYPE_CHECKING:
    from bot.app import OpenAIBot
    from bot.context import InteractionContext

log = logging.getLogger(__name__)

PURPOSES = ("fine-tune", "assistants", "batch", "user_data", "vision", "evals")
#: The bot downloads attachments into memory; larger training sets are uploaded some other way.
MAX_ATTACHMENT_BYTES = 100 * 1024 * 1024
SUFFIX_MAX = 64


def _opt(cmd: str, name: str, english: str) -> tuple[locale_str, locale_str]:
    return (
        locale_str(name, key=f"cmd.{cmd}.opt.{name}.name"),
        locale_str(english, key=f"cmd.{cmd}.opt.{name}.description"),
    )


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


class FineTuningCog(commands.Cog, name="FineTuning"):
    files = app_commands.Group(
        name=locale_str("files", key="cmd.files.name"),
        description=locale_str("This server's files at OpenAI", key="cmd.files.description"),
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    finetune = app_commands.Group(
        name=locale_str("finetune", key="cmd.finetune.name"),
        description=locale_str("Train a model on this server's examples", key="cmd.finetune.description"),
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: OpenAIBot) -> None:
        self.bot = bot
        self.store = FineTuningStore(bot.db)
        self.follower = Follower(bot, self.store)
        self.launcher = JobLauncher(bot, self.store, self.follower)
        self.export_menu = app_commands.ContextMenu(
            name=locale_str("Export for fine-tuning", key="cmd.finetune.export_menu"),
            callback=self.export_conversation,
        )
        self.export_menu.guild_only = True
        self.export_menu.default_permissions = discord.Permissions(manage_guild=True)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.export_menu)
        self.follower.start()

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.export_menu.name, type=self.export_menu.type)
        await self.follower.close()

    # -- helpers --------------------------------------------------------------------------------

    async def _admin(self, interaction: discord.Interaction[Any]) -> tuple[InteractionContext, int]:
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        if not interaction.permissions.manage_guild:
            raise app_commands.MissingPermissions(["manage_guild"])
        ctx = await self.bot.contexts.get(interaction, FEATURE.name)
        ctx.require_feature()
        return ctx, interaction.guild_id

    async def _tell(self, interaction: discord.Interaction[Any], text: str, **kwargs: Any) -> None:
        if interaction.response.is_done():
            await interaction.edit_original_response(content=text, allowed_mentions=NO_PINGS, **kwargs)
        else:
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS, **kwargs)

    async def _owned_file_choices(
        self, interaction: discord.Interaction[Any], current: str, purpose: str | None = None
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None or not interaction.permissions.manage_guild:
            return []
        needle = current.lower()
        found = await self.store.files(interaction.guild_id, purpose=purpose, limit=200)
        return [
            app_commands.Choice(name=f"{f.filename} ({f.file_id})"[:100], value=f.file_id)
            for f in found
            if needle in f.filename.lower() or needle in f.file_id.lower()
        ][:25]

    async def _file_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._owned_file_choices(interaction, current)

    async def _training_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._owned_file_choices(interaction, current, "fine-tune")

    async def _job_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None or not interaction.permissions.manage_guild:
            return []
        locale = await self.bot.contexts.locale(interaction)
        needle = current.lower()
        return [
            app_commands.Choice(
                name=f"{j.job_id} · {j.model} · {status_name(j.status, locale)}"[:100], value=j.job_id
            )
            for j in await self.store.jobs(interaction.guild_id, limit=100)
            if needle in j.job_id.lower() or needle in j.model.lower()
        ][:25]

    async def _model_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        # What the API lists, not a list kept here: the API is the judge of what it will tune.
        needle = current.lower()
        listed = self.bot.model_catalog.text_models() or []
        return [
            app_commands.Choice(name=m, value=m)
            for m in listed
            if needle in m.lower() and not m.startswith("ft:")
        ][:25]

    # -- /files ---------------------------------------------------------------------------------

    @files.command(
        name=locale_str("list", key="cmd.files.list.name"),
        description=locale_str("The files this server uploaded", key="cmd.files.list.description"),
    )
    async def files_list(self, interaction: discord.Interaction[Any]) -> None:
        ctx, guild_id = await self._admin(interaction)
        owned = await self.store.files(guild_id, limit=25)
        if not owned:
            await self._tell(interaction, ctx.t("files.list.empty"))
            return
        lines = [ctx.t("files.list.header", count=len(owned))]
        lines += [
            ctx.t(
                "files.list.row",
                id=f.file_id,
                name=discord.utils.escape_markdown(f.filename),
                size=_size(f.bytes),
                purpose=f.purpose,
                when=discord.utils.format_dt(f.created_at, "R"),
            )
            for f in owned
        ]
        await self._tell(interaction, "\n".join(lines)[:2000])

    @files.command(
        name=locale_str("upload", key="cmd.files.upload.name"),
        description=locale_str("Upload a file for this server", key="cmd.files.upload.description"),
    )
    @app_commands.rename(file=_opt("files.upload", "file", "The file")[0])
    @app_commands.describe(
        file=_opt("files.upload", "file", "The file")[1],
        purpose=_opt("files.upload", "purpose", "What the file is for (default: fine-tune)")[1],
    )
    @app_commands.choices(purpose=[app_commands.Choice(name=p, value=p) for p in PURPOSES])
    async def files_upload(
        self, interaction: discord.Interaction[Any], file: discord.Attachment, purpose: str = "fine-tune"
    ) -> None:
        ctx, guild_id = await self._admin(interaction)
        if file.size > MAX_ATTACHMENT_BYTES:
            await self._tell(interaction, ctx.t("files.error.too_big", limit=_size(MAX_ATTACHMENT_BYTES)))
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await file.read()
        tokens: int | None = None
        if purpose == "fine-tune":
            if not file.filename.endswith(".jsonl"):
                await self._tell(interaction, ctx.t("files.error.not_jsonl"))
                return
            report = self._validate(data, None, ctx)
            if not report.ok:
                # Legacy prompt/completion files train babbage-002 and davinci-002.
                legacy = self._validate(data, "babbage-002", ctx)
                report = legacy if legacy.ok else report
            if not report.ok:
                await self._tell(interaction, report_text(report, file.filename, ctx.locale))
                return
            tokens = report.tokens
        try:
            owned = await self.launcher.upload(
                guild_id, interaction.user.id, data, file.filename, purpose, tokens
            )
        except APIStatusError as exc:
            await self._tell(interaction, ctx.t("finetune.error.api", message=exc.message))
            return
        await self._tell(
            interaction, ctx.t("files.uploaded", name=owned.filename, id=owned.file_id, purpose=purpose)
        )

    @files.command(
        name=locale_str("delete", key="cmd.files.delete.name"),
        description=locale_str("Delete one of this server's files", key="cmd.files.delete.description"),
    )
    @app_commands.rename(file=_opt("files.delete", "file", "The file")[0])
    @app_commands.describe(file=_opt("files.delete", "file", "The file to delete")[1])
    @app_commands.autocomplete(file=_file_autocomplete)
    async def files_delete(self, interaction: discord.Interaction[Any], file: str) -> None:
        ctx, guild_id = await self._admin(interaction)
        owned = await self.store.file(guild_id, file)
        if owned is None:
            await self._tell(interaction, ctx.t("files.error.not_found", id=file[:80]))
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            await self.bot.api.files.delete(owned.file_id)
        except NotFoundError:
            pass  # already gone at OpenAI: forget it here too
        except APIStatusError as exc:
            await self._tell(interaction, ctx.t("finetune.error.api", message=exc.message))
            return
        await self.store.forget_file(guild_id, owned.file_id)
        await self._tell(interaction, ctx.t("files.deleted", name=owned.filename, id=owned.file_id))

    # -- /finetune create -------------------------------------------------------------------------

    def _validate(self, data: bytes, model: str | None, ctx: InteractionContext) -> Report:
        settings = ctx.settings
        assert isinstance(settings, FineTuningSettings)
        return validate_bytes(
            data,
            legacy=model is not None and is_legacy_model(model),
            context_tokens=settings.max_example_tokens,
        )

    @finetune.command(
        name=locale_str("create", key="cmd.finetune.create.name"),
        description=locale_str(
            "Check training data, show the cost, then train", key="cmd.finetune.create.description"
        ),
    )
    @app_commands.rename(
        training=_opt("finetune.create", "training", "x")[0],
        training_file=_opt("finetune.create", "training_file", "x")[0],
        validation=_opt("finetune.create", "validation", "x")[0],
        model=_opt("finetune.create", "model", "x")[0],
        suffix=_opt("finetune.create", "suffix", "x")[0],
        epochs=_opt("finetune.create", "epochs", "x")[0],
    )
    @app_commands.describe(
        training=_opt("finetune.create", "training", "Training examples (.jsonl)")[1],
        training_file=_opt("finetune.create", "training_file", "Or a file this server uploaded")[1],
        validation=_opt("finetune.create", "validation", "Validation examples (.jsonl)")[1],
        model=_opt("finetune.create", "model", "Base model to tune")[1],
        suffix=_opt("finetune.create", "suffix", "Added to the tuned model's name")[1],
        epochs=_opt("finetune.create", "epochs", "Passes over the data")[1],
    )
    @app_commands.autocomplete(model=_model_autocomplete, training_file=_training_autocomplete)
    async def finetune_create(
        self,
        interaction: discord.Interaction[Any],
        training: discord.Attachment | None = None,
        training_file: str | None = None,
        validation: discord.Attachment | None = None,
        model: app_commands.Range[str, 1, 100] | None = None,
        suffix: app_commands.Range[str, 1, SUFFIX_MAX] | None = None,
        epochs: app_commands.Range[int, 1, 50] | None = None,
    ) -> None:
        ctx, guild_id = await self._admin(interaction)
        settings = ctx.settings
        assert isinstance(settings, FineTuningSettings)
        base = model or settings.base_model
        if base is None:
            await self._tell(interaction, ctx.t("finetune.error.no_model"))
            return
        if (training is None) == (training_file is None):
            await self._tell(interaction, ctx.t("finetune.error.one_training"))
            return
        owned_training: OwnedFile | None = None
        if training_file is not None:
            owned_training = await self.store.file(guild_id, training_file)
            if owned_training is None or owned_training.purpose != "fine-tune":
                await self._tell(interaction, ctx.t("files.error.not_found", id=training_file[:80]))
                return
        for attachment in (training, validation):
            if attachment is not None and not attachment.filename.endswith(".jsonl"):
                await self._tell(interaction, ctx.t("files.error.not_jsonl"))
                return
            if attachment is not None and attachment.size > MAX_ATTACHMENT_BYTES:
                await self._tell(interaction, ctx.t("files.error.too_big", limit=_size(MAX_ATTACHMENT_BYTES)))
                return
        await interaction.response.defer(ephemeral=True, thinking=True)
        epochs = epochs or settings.default_epochs
        data: dict[str, bytes] = {}
        examples, tokens = 0, 0
        for role, attachment in (("training", training), ("validation", validation)):
            if attachment is None:
                continue
            content = await attachment.read()
            report = self._validate(content, base, ctx)
            if not report.ok:
                await self._tell(interaction, report_text(report, attachment.filename, ctx.locale))
                return
            data[role] = content
            if role == "training":
                examples, tokens = report.examples, report.tokens
        if owned_training is not None:
            # Checked when it was uploaded; OpenAI does not give fine-tune files back to read again.
            # A file checked before its tokens were kept is counted at a token per 4 bytes, more
            # than its examples hold (the JSON around them counts too): the estimate errs high.
            tokens = owned_training.tokens if owned_training.tokens is not None else owned_training.bytes // 4
            cost = self.bot.pricing.training_cost(base, tokens * epochs)
            estimate_line = ctx.t(
                "finetune.estimate.uploaded",
                name=owned_training.filename,
                total=f"{tokens * epochs:,}",
                cost=f"${cost:.2f}",
            )
        else:
            cost = self.bot.pricing.training_cost(base, tokens * epochs)
            estimate_line = ctx.t(
                "finetune.estimate.body",
                examples=f"{examples:,}",
                tokens=f"{tokens:,}",
                epochs=epochs,
                total=f"{tokens * epochs:,}",
                cost=f"${cost:.2f}",
            )
        text = "\n".join([ctx.t("finetune.estimate.header", model=base), estimate_line])
        if examples and examples < 50:
            text += "\n" + ctx.t("finetune.estimate.few", count=examples)

        plan = LaunchPlan(
            guild_id=guild_id,
            user_id=interaction.user.id,
            channel=interaction.channel if isinstance(interaction.channel, discord.abc.Messageable) else None,
            channel_id=interaction.channel_id or 0,
            locale=ctx.locale,
            model=base,
            training_file_id=None if owned_training is None else owned_training.file_id,
            training=None if training is None else Upload(data["training"], training.filename),
            validation=None if validation is None else Upload(data["validation"], validation.filename),
            suffix=suffix,
            epochs=epochs,
            tokens=tokens,
        )
        assert ctx.guild is not None  # guild-only commands
        guild_settings = ctx.guild
        role_ids = [role.id for role in getattr(interaction.user, "roles", ())]

        async def start(button: discord.Interaction[Any]) -> None:
            await button.response.edit_message(content=ctx.t("finetune.starting"), view=None)
            # The estimate is held against the budgets before anything is uploaded.
            try:
                reservation = await self.launcher.reserve(plan, guild_settings, role_ids, cost)
            except BudgetExceeded as refusal:
                await interaction.edit_original_response(content=budget_refusal_text(refusal, ctx.locale))
                return
            try:
                row = await self.launcher.start(plan, reservation)
            except BaseException:
                # No job was created: nothing will be trained, so nothing stays held.
                await self.launcher.release(reservation)
                raise
            await interaction.edit_original_response(content=ctx.t("finetune.started", job=row.job_id))

        async def start_or_explain(button: discord.Interaction[Any]) -> None:
            try:
                await start(button)
            except (FineTuningRefused, APIStatusError) as exc:
                message = exc.message if isinstance(exc, APIStatusError) else str(exc)
                await interaction.edit_original_response(content=ctx.t("finetune.error.api", message=message))
                return
            except OpenAIError:
                await interaction.edit_original_response(content=ctx.t("finetune.error.unreachable"))

        async def cancel(button: discord.Interaction[Any]) -> None:
            await button.response.edit_message(content=ctx.t("finetune.not_started"), view=None)

        view = ConfirmView(
            interaction.user.id,
            ctx.locale,
            ctx.t("finetune.button.start"),
            ctx.t("finetune.button.cancel"),
            start_or_explain,
            cancel,
        )
        await interaction.edit_original_response(content=text, view=view, allowed_mentions=NO_PINGS)

    # -- /finetune list, status, cancel -----------------------------------------------------------

    @finetune.command(
        name=locale_str("list", key="cmd.finetune.list.name"),
        description=locale_str("This server's fine-tuning jobs", key="cmd.finetune.list.description"),
    )
    async def finetune_list(self, interaction: discord.Interaction[Any]) -> None:
        ctx, guild_id = await self._admin(interaction)
        jobs = await self.store.jobs(guild_id, limit=20)
        if not jobs:
            await self._tell(interaction, ctx.t("finetune.list.empty"))
            return
        lines = [ctx.t("finetune.list.header", count=len(jobs))]
        for row in jobs:
            line = job_line(row, ctx.locale)
            if row.fine_tuned_model:
                line += f" → `{row.fine_tuned_model}`"
            lines.append(f"- {line}")
        await self._tell(interaction, "\n".join(lines)[:2000])

    @finetune.command(
        name=locale_str("status", key="cmd.finetune.status.name"),
        description=locale_str("A job's status, events and metrics", key="cmd.finetune.status.description"),
    )
    @app_commands.rename(job=_opt("finetune.status", "job", "x")[0])
    @app_commands.describe(job=_opt("finetune.status", "job", "The job")[1])
    @app_commands.autocomplete(job=_job_autocomplete)
    async def finetune_status(self, interaction: discord.Interaction[Any], job: str) -> None:
        ctx, guild_id = await self._admin(interaction)
        row = await self.store.job(guild_id, job)
        if row is None:
            await self._tell(interaction, ctx.t("finetune.error.no_job", job=job[:80]))
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            current = await self.bot.api.fine_tuning.retrieve(row.job_id)
            events = await self.bot.api.fine_tuning.list_events(row.job_id, limit=20)
        except OpenAIError:
            await self._tell(interaction, ctx.t("finetune.error.unreachable"))
            return
        lines = [
            ctx.t("finetune.status.header", job=row.job_id, model=row.model),
            ctx.t("finetune.status.state", status=status_name(current.status, ctx.locale)),
        ]
        if current.trained_tokens:
            lines.append(ctx.t("finetune.status.tokens", tokens=f"{current.trained_tokens:,}"))
        if current.fine_tuned_model:
            lines.append(ctx.t("finetune.status.model", model=current.fine_tuned_model))
        if current.error and current.error.get("message"):
            lines.append(ctx.t("finetune.status.error", reason=current.error["message"]))
        metrics = next((e.data for e in events.data if e.type == "metrics" and e.data), None)
        if metrics:
            shown = ", ".join(f"{k}={v}" for k, v in metrics.items())
            lines.append(ctx.t("finetune.status.metrics", metrics=shown))
        if events.data:
            lines.append(ctx.t("finetune.status.events"))
            lines += [f"- {discord.utils.escape_markdown(e.message)[:200]}" for e in events.data[:5]]
        await self._tell(interaction, "\n".join(lines)[:2000])

    @finetune.command(
        name=locale_str("cancel", key="cmd.finetune.cancel.name"),
        description=locale_str("Cancel a running job", key="cmd.finetune.cancel.description"),
    )
    @app_commands.rename(job=_opt("finetune.cancel", "job", "x")[0])
    @app_commands.describe(job=_opt("finetune.cancel", "job", "The job")[1])
    @app_commands.autocomplete(job=_job_autocomplete)
    async def finetune_cancel(self, interaction: discord.Interaction[Any], job: str) -> None:
        ctx, guild_id = await self._admin(interaction)
        row = await self.store.job(guild_id, job)
        if row is None:
            await self._tell(interaction, ctx.t("finetune.error.no_job", job=job[:80]))
            return
        if row.finished:
            await self._tell(
                interaction, ctx.t("finetune.cancel.finished", status=status_name(row.status, ctx.locale))
            )
            return

        async def confirm(button: discord.Interaction[Any]) -> None:
            await button.response.defer()
            try:
                await self.bot.api.fine_tuning.cancel(row.job_id)
            except APIStatusError as exc:
                await button.edit_original_response(
                    content=ctx.t("finetune.error.api", message=exc.message), view=None
                )
                return
            except OpenAIError:
                await button.edit_original_response(content=ctx.t("finetune.error.unreachable"), view=None)
                return
            # The follower notes the cancellation on its next look, which is now.
            await self.store.update_job(
                guild_id,
                row.job_id,
                status=row.status,
                fine_tuned_model=row.fine_tuned_model,
                trained_tokens=row.trained_tokens,
                error=row.error,
                poll_interval=self.follower.first_interval,
                next_poll_at=self.follower.clock(),
            )
            await button.edit_original_response(
                content=ctx.t("finetune.cancel.done", job=row.job_id), view=None
            )

        async def back(button: discord.Interaction[Any]) -> None:
            await button.response.edit_message(
                content=ctx.t("finetune.cancel.kept", job=row.job_id), view=None
            )

        view = ConfirmView(
            interaction.user.id,
            ctx.locale,
            ctx.t("finetune.button.confirm_cancel"),
            ctx.t("finetune.button.keep"),
            confirm,
            back,
        )
        await self._tell(interaction, ctx.t("finetune.cancel.confirm", job=row.job_id), view=view)

    # -- Export for fine-tuning -------------------------------------------------------------------

    async def export_conversation(
        self, interaction: discord.Interaction[Any], message: discord.Message
    ) -> None:
        ctx, guild_id = await self._admin(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        me = self.bot.user
        turns = [
            Turn(me is not None and m.author.id == me.id, m.content)
            for m in await conversation_until(message, None if me is None else me.id)
        ]
        line, report = example_line(turns)
        if line is None:
            problems = "; ".join(ctx.t(p.key, **p.params) for p in report.problems)
            await self._tell(interaction, ctx.t("finetune.export.unusable", problems=problems))
            return
        count = await self.store.add_export(guild_id, interaction.user.id, line)
        messages = len(json.loads(line)["messages"])
        await self._tell(interaction, ctx.t("finetune.export.added", messages=messages, count=count))

    @finetune.command(
        name=locale_str("export", key="cmd.finetune.export.name"),
        description=locale_str(
            "Download the examples exported from conversations", key="cmd.finetune.export.description"
        ),
    )
    @app_commands.rename(clear=_opt("finetune.export", "clear", "x")[0])
    @app_commands.describe(clear=_opt("finetune.export", "clear", "Forget them after this download")[1])
    async def finetune_export(self, interaction: discord.Interaction[Any], clear: bool = False) -> None:
        ctx, guild_id = await self._admin(interaction)
        lines = await self.store.exports(guild_id)
        if not lines:
            await self._tell(interaction, ctx.t("finetune.export.none"))
            return
        data = ("\n".join(lines) + "\n").encode()
        await interaction.response.send_message(
            ctx.t("finetune.export.file", count=len(lines)),
            file=discord.File(io.BytesIO(data), "examples.jsonl"),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )
        if clear:
            await self.store.clear_exports(guild_id)

    # -- Use in /write ----------------------------------------------------------------------------

    async def use_model(
        self, interaction: discord.Interaction[Any], job_id: str, *, make_default: bool
    ) -> None:
        """Allow the tuned model in /write and /chat for this server (and make it their default)."""
        ctx, guild_id = await self._admin(interaction)
        row = await self.store.job(guild_id, job_id)
        if row is None or row.fine_tuned_model is None:
            await self._tell(interaction, ctx.t("finetune.error.no_job", job=job_id[:80]))
            return
        tuned = row.fine_tuned_model
        changed = []
        for name in MODEL_FEATURES:
            if not self.bot.features.is_available(name):
                continue
            feature = self.bot.features[name]
            current = await self.bot.feature_settings.get(guild_id, feature)
            changes: dict[str, Any] = {}
            # An empty list allows every model already; adding one would shut the others out.
            if current.allowed_models and tuned not in current.allowed_models:
                changes["allowed_models"] = (*current.allowed_models, tuned)
            if make_default:
                changes["model"] = tuned
            if changes:
                await self.bot.feature_settings.update(guild_id, feature, **changes)
            changed.append(f"/{name}")
        key = "finetune.use.default" if make_default else "finetune.use.allowed"
        await self._tell(interaction, ctx.t(key, model=tuned, features=", ".join(changed) or "—"))
