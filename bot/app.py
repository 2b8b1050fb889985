"""The bot factory: builds the Bot, wires its services in setup_hook, releases them in close().

Tests and `python -m bot` both go through `create_bot`, so what is tested is what runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.clients import build_api_client
from bot.context import ContextBuilder
from bot.db import CommandSyncRepo, Database, FeatureSettingsRepo, GuildSettingsRepo, WalCheckpoints
from bot.discord_io.edit_scheduler import EditPacing, EditScheduler
from bot.discord_io.limits import DiscordLimits
from bot.discord_io.mentions import NO_PINGS
from bot.error_handler import handle_app_command_error
from bot.features import PRIVILEGED_INTENTS, FeatureRegistry
from bot.i18n import BotTranslator
from bot.model_catalog import ModelCatalog
from bot.openai_api import OpenAIClient
from bot.output_review import OutputReview
from bot.settings import Settings
from bot.usage import PricingTable, UsageLedger
from bot.usage.budgets import Budgets

log = logging.getLogger(__name__)

# Every feature cog, loaded in this order; one that fails to load is logged and skipped.
EXTENSIONS: tuple[str, ...] = (
    "cogs.help",
    "cogs.write",
    "cogs.chat",
    "cogs.imagine",
    "cogs.transcribe",
    "cogs.moderation",
    "cogs.config",
    "cogs.usage",
    "cogs.finetune",
    "cogs.knowledge",
)


class OpenAIBot(commands.Bot):
    """The bot with its services; cogs reach them as `self.bot.<service>`."""

    # Set in setup_hook; typed here so cogs see them without Optional noise.
    http_session: aiohttp.ClientSession
    db: Database
    api: OpenAIClient
    pricing: PricingTable
    ledger: UsageLedger
    budgets: Budgets
    guild_settings: GuildSettingsRepo
    feature_settings: FeatureSettingsRepo
    contexts: ContextBuilder
    command_sync: CommandSyncRepo
    edit_scheduler: EditScheduler
    model_catalog: ModelCatalog

    def __init__(
        self,
        settings: Settings,
        *,
        extensions: tuple[str, ...] = EXTENSIONS,
        refused_intents: frozenset[str] = frozenset(),
        edit_pacing: EditPacing | None = None,
    ) -> None:
        # What the listed features declare decides the intents; refused ones are left out and the
        # features needing them are turned off rather than the bot refusing to start.
        self.features = FeatureRegistry.from_extensions(extensions)
        turned_off = self.features.mark_unavailable(refused_intents)
        if turned_off:
            log.warning(
                "Discord refused the privileged intents %s: these features are off until they are "
                "enabled in the developer portal: %s",
                sorted(refused_intents),
                ", ".join(turned_off),
            )
        intents = self.features.intents()
        for name in refused_intents:
            setattr(intents, name, False)
        # Discord's global REST limits; the invalid-request counter traces discord.py's own HTTP
        # session, which is made at login (before setup_hook), so it is handed over here.
        self.discord_limits = DiscordLimits(settings.discord_rest_per_second)
        super().__init__(
            http_trace=self.discord_limits.http_trace,
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
        self._services = contextlib.AsyncExitStack()
        # A feature that judges text (moderation) plugs in here; features posting AI output ask it.
        self.output_review = OutputReview()
        self.tree.error(self._on_tree_error)

    def invite_url(self) -> str:
        """The invite link asking for exactly what the loaded features need."""
        return discord.utils.oauth_url(
            self.application_id or 0,
            permissions=self.features.permissions(),
            scopes=("bot", "applications.commands"),
        )

    async def on_ready(self) -> None:
        log.info("Ready as %s in %d servers; invite link: %s", self.user, len(self.guilds), self.invite_url())

    @property
    def requested_privileged_intents(self) -> frozenset[str]:
        return frozenset(name for name in PRIVILEGED_INTENTS if getattr(self.intents, name))

    async def setup_hook(self) -> None:
        settings = self.settings
        self.discord_limits.install(self)
        services = self._services
        # Each service is released in reverse order of opening, each step guarded by the stack.
        self.http_session = await services.enter_async_context(aiohttp.ClientSession())
        self.db = await Database.open(settings.database_path)
        services.push_async_callback(self.db.close)
        checkpoints = WalCheckpoints(self.db)
        checkpoints.start()
        services.push_async_callback(checkpoints.close)
        self.pricing = PricingTable.load(settings.pricing_path)
        self.ledger = UsageLedger(self.db, self.pricing)
        await self.ledger.start()
        services.push_async_callback(self.ledger.close)
        self.budgets = Budgets(self.db)
        self.guild_settings = GuildSettingsRepo(self.db)
        self.feature_settings = FeatureSettingsRepo(self.db)
        self.contexts = ContextBuilder(settings, self.features, self.guild_settings, self.feature_settings)
        self.command_sync = CommandSyncRepo(self.db)
        self.api = build_api_client(settings, session=self.http_session)
        services.push_async_callback(self.api.close)
        self.model_catalog = ModelCatalog(self.api, openai_hosted=settings.openai_hosted)
        self.model_catalog.start()
        services.push_async_callback(self.model_catalog.close)
        self.edit_scheduler = EditScheduler(self.edit_pacing)
        services.push_async_callback(self.edit_scheduler.close)
        await self.tree.set_translator(BotTranslator())
        for extension in self.extensions_to_load:
            await self._load_feature(extension)
        self.commands_synced = await self.sync_commands_if_changed()

    async def _load_feature(self, extension: str) -> None:
        """Create the feature's tables, then load its cog; a failure is logged, the others still load."""
        feature = self.features.for_extension(extension)
        try:
            if feature is not None and feature.migrations is not None:
                await self.db.migrate_feature(feature.name, feature.migrations)
            await self.load_extension(extension)
        except Exception as exc:  # one broken feature must not take the others down
            self.failed_extensions[extension] = type(exc).__name__
            if feature is not None:
                self.features.remove(feature.name)
            log.exception("Could not load extension %s; the other features still load", extension)

    async def close(self) -> None:
        # Features first: their unload hooks may still record usage and finish messages, which
        # needs the services below and the Discord connection.
        for extension in tuple(self.extensions):
            try:
                await self.unload_extension(extension)
            except Exception:
                log.exception("Error while unloading %s", extension)
        try:
            await self._services.aclose()
        except Exception:
            log.exception("Error while releasing the bot's services")
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

    async def _on_tree_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await handle_app_command_error(interaction, error, await self.contexts.locale(interaction))


def create_bot(
    settings: Settings,
    *,
    extensions: tuple[str, ...] = EXTENSIONS,
    refused_intents: frozenset[str] = frozenset(),
    edit_pacing: EditPacing | None = None,
) -> OpenAIBot:
    """Build the bot without touching the network; services open in `setup_hook`."""
    return OpenAIBot(
        settings, extensions=extensions, refused_intents=refused_intents, edit_pacing=edit_pacing
    )


async def run_with_granted_intents(
    make_bot: Callable[[frozenset[str]], OpenAIBot], run: Callable[[OpenAIBot], Awaitable[None]]
) -> OpenAIBot:
    """Run a bot; when Discord refuses its privileged intents, run a new one without them.

    Discord closes the gateway (4014) without saying which privileged intent is missing, so all
    that were requested are dropped and the features that need them are turned off, once.
    """
    refused: frozenset[str] = frozenset()
    while True:
        bot = make_bot(refused)
        try:
            await run(bot)
            return bot
        except discord.PrivilegedIntentsRequired:
            requested = bot.requested_privileged_intents
            if not requested - refused:
                raise
            refused |= requested
