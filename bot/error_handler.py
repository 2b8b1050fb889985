"""The one tree-level error handler: known errors become short localized ephemeral replies.

Anything unexpected is logged with command, guild and user under a short error id that the
member sees, so a report can be matched to the log line; no traceback or secret reaches Discord.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import discord
from discord import app_commands

from bot import openai_api
from bot.discord_io.replies import reply_privately
from bot.errors import Cooldown, UserFacingError
from bot.i18n import t, t_or

log = logging.getLogger(__name__)

# Checked in order: the first class the error is an instance of decides the message.
_API_ERROR_KEYS: tuple[tuple[type[openai_api.OpenAIError], str], ...] = (
    (openai_api.QuotaExceededError, "error.api_quota"),
    (openai_api.RateLimitError, "error.api_rate_limited"),
    (openai_api.ContentPolicyError, "error.content_policy"),
    (openai_api.AuthenticationError, "error.api_auth"),
    (openai_api.PermissionDeniedError, "error.api_auth"),
    (openai_api.NotFoundError, "error.api_not_found"),
    (openai_api.APIConnectionError, "error.api_unreachable"),
    (openai_api.InternalServerError, "error.api_server"),
    (openai_api.BadRequestError, "error.api_bad_request"),
    (openai_api.UnprocessableEntityError, "error.api_bad_request"),
)


def message_key(error: BaseException) -> tuple[str, dict[str, Any]] | None:
    """The catalog key and parameters for a known error, or None when it is unexpected."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, app_commands.CommandOnCooldown):
        error = Cooldown(error.retry_after)
    if isinstance(error, UserFacingError):
        return error.key, dict(error.params)
    if isinstance(error, app_commands.MissingPermissions):
        return "error.missing_permissions", {"permissions": list(error.missing_permissions)}
    if isinstance(error, app_commands.BotMissingPermissions):
        return "error.bot_missing_permissions", {"permissions": list(error.missing_permissions)}
    if isinstance(error, app_commands.NoPrivateMessage):
        return "error.guild_only", {}
    if isinstance(error, app_commands.CheckFailure):
        return "error.check_failed", {}
    if isinstance(error, discord.Forbidden):
        return "error.bot_missing_permissions", {"permissions": ["send_messages", "embed_links"]}
    for error_type, key in _API_ERROR_KEYS:
        if isinstance(error, error_type):
            return key, {}
    return None


def localize_params(params: dict[str, Any], locale: str) -> dict[str, Any]:
    """Feature and permission names as the member reads them (`feature.*`, `perm.*` catalog keys)."""
    shown = dict(params)
    if isinstance(shown.get("feature"), str):
        shown["feature"] = t_or(f"feature.{shown['feature']}", locale, shown["feature"])
    if isinstance(shown.get("permissions"), list):
        shown["permissions"] = ", ".join(
            t_or(f"perm.{flag}", locale, flag.replace("_", " ").title()) for flag in shown["permissions"]
        )
    return shown


def known_error_text(error: BaseException, locale: str) -> str | None:
    """The member's message for a known error in `locale`, or None when the error is unexpected."""
    known = message_key(error)
    if known is None:
        return None
    key, params = known
    return t(key, locale, **localize_params(params, locale))


def _describe_interaction(interaction: discord.Interaction[Any]) -> tuple[str, object, object]:
    command = interaction.command.qualified_name if interaction.command is not None else "?"
    return command, interaction.guild_id, interaction.user.id


async def handle_app_command_error(
    interaction: discord.Interaction[Any], error: BaseException, locale: str
) -> None:
    """Answer the member privately in `locale` (the interaction context's) and log what happened."""
    text = known_error_text(error, locale)
    if text is not None:
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        log.info(
            "Command %s in guild %s by user %s ended with %s",
            *_describe_interaction(interaction),
            type(original).__name__,
        )
    else:
        error_id = secrets.token_hex(4)
        command, guild_id, user_id = _describe_interaction(interaction)
        log.error(
            "Unexpected error %s in command %s (guild %s, user %s)",
            error_id,
            command,
            guild_id,
            user_id,
            exc_info=(type(error), error, error.__traceback__),
        )
        text = t("error.unexpected", locale, error_id=error_id)
    await reply_privately(interaction, text)
