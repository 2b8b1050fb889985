"""The bot factory: builds the Bot, wires its services in setup_hook, releases them in close().

Tests and `python -m bot` both go through `create_bot`, so what is tested is what runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.db import CommandSyncRepo, Database, GuildDefaults, GuildSettings, GuildSettingsRepo
from bot.discord_io.edit_scheduler import EditPacing, EditScheduler
from bot.discord_io.mentions import NO_PINGS
from bot.error_handler import handle_app_command_error
from bot.i18n import BotTranslator, reply_locale
from bot.model_catalog import ModelCatalog
from bot.openai_api import OpenAIClient
from bot.settings import Settings
from bot.usage import PricingTable, UsageLedger

log = logging.getLogger(__name__)

# Every feature cog, loaded in this order; one that fails to load is logged and skipped.
EXTENSIONS: tuple[str, ...] = ("cogs.help", "cogs.write")


class OpenAIBot(commands.Bot):
    """The bot with its services; cogs reach them as `self.bot.<service>`."""

    # Set in setup_hook; typed here so cogs see them without Optional noise.
    http_session: aiohttp.ClientSession
    db: Database
    api: OpenAIClient
    pricing: PricingTable
    ledger: UsageLedger
    guild_settings: GuildSettingsRepo
    command_sync: CommandSyncRepo
    edit_scheduler: EditScheduler
    model_catalog: ModelCatalog

    def __init__(
        self,
        settings: Settings,
        *,
        extensions: tuple[str, ...] = EXTENSIONS,
        edit_pacing: EditPacing | None = None,
    ) -> None:
        intents = discord.Intents.default()
        # Privileged: moderation and transcription read message content and attachments.
        intents.message_content = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=NO_PINGS,
            help_command=None,
        )
        self.settings = settings
        self.extensions_to_load = extensions
        self.edit_pacing = edit_pacing  # None: Discord's limits (tests pass shorter intervals)
        self.failed_extensions: dict[str, str] = {}
        self.commands_synced = False
        self._opened: list[str] = []
        self.tree.error(self._on_tree_error)

    async def setup_hook(self) -> None:
        settings = self.settings
        self.http_session = aiohttp.ClientSession()
        self._opened.append("http_session")
        self.db = await Database.open(settings.database_path)
        self._opened.append("db")
        self.pricing = PricingTable.load(settings.pricing_path)
        self.ledger = UsageLedger(self.db, self.pricing)
        await self.ledger.start()
        self._opened.append("ledger")
        self.guild_settings = GuildSettingsRepo(self.db, GuildDefaults(models=settings.default_models()))
        self.command_sync = CommandSyncRepo(self.db)
        self.api = OpenAIClient(
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.base_url,
            organization=settings.openai_organization,
            project=settings.openai_project,
            timeout=settings.request_timeout,
            max_retries=settings.max_retries,
            session=self.http_session,
        )
        self._opened.append("api")
        self.model_catalog = ModelCatalog(self.api, openai_hosted=settings.openai_hosted)
        self.edit_scheduler = EditScheduler(self.edit_pacing)
        self._opened.append("edit_scheduler")
        await self.tree.set_translator(BotTranslator())
        for extension in self.extensions_to_load:
            try:
                await self.load_extension(extension)
            except Exception as exc:  # one broken feature must not take the others down
                self.failed_extensions[extension] = type(exc).__name__
                log.exception("Could not load extension %s; the other features still load", extension)
        self.commands_synced = await self.sync_commands_if_changed()

    async def close(self) -> None:
        # Features first: their unload hooks may still record usage and finish messages, which
        # needs the services below and the Discord connection.
        for extension in tuple(self.extensions):
            try:
                await self.unload_extension(extension)
            except Exception:
                log.exception("Error while unloading %s", extension)
        # Then release in reverse order of opening; each step guarded so one failure frees the rest.
        for name in reversed(self._opened):
            try:
                if name == "edit_scheduler":
                    await self.edit_scheduler.close()
                elif name == "api":
                    await self.api.close()
                elif name == "ledger":
                    await self.ledger.close()
                elif name == "db":
                    await self.db.close()
                elif name == "http_session":
                    await self.http_session.close()
            except Exception:
                log.exception("Error while closing %s", name)
        self._opened.clear()
        await super().close()

    # -- command sync ---------------------------------------------------------------------------

    async def command_tree_hash(self, guild: discord.abc.Snowflake | None) -> str:
        """A digest of what Discord would receive on sync, localizations included."""
        translator = self.tree.translator
        payload: list[dict[str, Any]] = []
        for command in sorted(self.tree.get_commands(guild=guild), key=lambda c: c.name):
            if translator is not None:
                payload.append(await command.get_translated_payload(self.tree, translator))
            else:
                payload.append(command.to_dict(self.tree))
        encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(encoded.encode()).hexdigest()

    async def sync_commands_if_changed(self) -> bool:
        """Sync the tree only when it differs from the last sync recorded for this application."""
        guild: discord.Object | None = None
        if self.settings.dev_guild_id is not None:
            guild = discord.Object(self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
        scope = f"{self.application_id}:{'global' if guild is None else f'guild:{guild.id}'}"
        digest = await self.command_tree_hash(guild)
        if await self.command_sync.get_hash(scope) == digest:
            log.info("Command tree unchanged since the last sync (%s); not syncing", scope)
            return False
        synced = await self.tree.sync(guild=guild)
        await self.command_sync.set_hash(scope, digest)
        log.info("Synced %d commands (%s)", len(synced), scope)
        return True

    # -- shared helpers for cogs ----------------------------------------------------------------

    async def settings_for(self, guild_id: int | None) -> GuildSettings | None:
        if guild_id is None:
            return None
        return await self.guild_settings.get(guild_id)

    async def locale_for(self, interaction: discord.Interaction[Any]) -> str:
        """The language to answer this interaction in (see `bot.i18n.reply_locale`)."""
        override: str | None = None
        if interaction.guild_id is not None:
            try:
                override = (await self.guild_settings.get(interaction.guild_id)).reply_locale
            except Exception:
                log.exception("Could not read guild settings for the reply language")
        return reply_locale(interaction, override)

    async def _on_tree_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await handle_app_command_error(self, interaction, error)


def create_bot(
    settings: Settings, *, extensions: tuple[str, ...] = EXTENSIONS, edit_pacing: EditPacing | None = None
) -> OpenAIBot:
    """Build the bot without touching the network; services open in `setup_hook`."""
    return OpenAIBot(settings, extensions=extensions, edit_pacing=edit_pacing)
