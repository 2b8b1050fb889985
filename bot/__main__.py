"""Command line: `python -m bot` runs the bot; `python -m bot check` checks the set-up.

Every start-up failure prints one readable message, never a traceback: configuration problems
exit with code 2, Discord refusing or unreachable with 1. SIGTERM and Ctrl-C shut down cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import discord

from bot.discord_api import apply_discord_api_base, silence_voice_warnings, use_gateway_of
from bot.numeric_threads import limit_numeric_threads
from bot.settings import Settings, SettingsError, load_settings, secrets_of, warn_unknown_env_keys

log = logging.getLogger("bot")

EXIT_CONFIG = 2
EXIT_FAILED = 1
#: After SIGTERM the bot finishes running answers (the write feature waits at most 5 s for them);
#: this bounds the whole close so `docker stop`'s 10 s never ends in SIGKILL.
SHUTDOWN_SECONDS = 8.0

_LOGIN_HELP = (
    "Discord refused the bot token. In the Discord developer portal open your application, "
    "go to Bot, press 'Reset Token', and put the new token in DISCORD_TOKEN."
)
_INTENT_HELP = (
    "The Message Content intent is not enabled for this bot. In the Discord developer portal open "
    "your application, go to Bot, turn on 'Message Content Intent' under Privileged Gateway Intents, "
    "save, and start the bot again."
)


def _install_shutdown_signals(
    current_bot: Callable[[], discord.Client], closing: list[asyncio.Task[None]]
) -> None:
    """SIGTERM (docker stop, systemd) and SIGINT (Ctrl-C) close the running bot the orderly way."""
    loop = asyncio.get_running_loop()

    def shut_down(name: str) -> None:
        if closing:
            return  # already closing; a second Ctrl-C must not start a second close
        log.info("%s received: finishing running answers, then closing", name)
        closing.append(loop.create_task(current_bot().close(), name="shutdown"))

    for sig in (signal.SIGTERM, signal.SIGINT):
        # Windows has no loop signal handlers; Ctrl-C still raises KeyboardInterrupt there.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, shut_down, sig.name)


async def _run(settings: Settings) -> int:
    from bot.app import OpenAIBot, create_bot, run_with_granted_intents

    silence_voice_warnings()
    apply_discord_api_base(settings.discord_api_url)
    # A bot Discord refuses a privileged intent is replaced by one without it (see
    # run_with_granted_intents); signals close whichever is running.
    bots: list[OpenAIBot] = []

    def make_bot(refused_intents: frozenset[str]) -> OpenAIBot:
        bots.append(create_bot(settings, refused_intents=refused_intents))
        return bots[-1]

    async def run(bot: OpenAIBot) -> None:
        async with bot:
            await bot.start(token)

    closing: list[asyncio.Task[None]] = []
    _install_shutdown_signals(lambda: bots[-1], closing)
    status = 0
    token = settings.discord_token.get_secret_value()
    try:
        await use_gateway_of(settings.discord_api_url, token)
        await run_with_granted_intents(make_bot, run)
    except discord.LoginFailure:
        log.error(_LOGIN_HELP)
        status = EXIT_FAILED
    except discord.PrivilegedIntentsRequired:
        log.error(_INTENT_HELP)
        status = EXIT_FAILED
    except discord.GatewayNotFound:
        log.error("Discord could not be reached at %s: it gave no gateway address", settings.discord_api_url)
        status = EXIT_FAILED
    except discord.DiscordServerError as exc:
        log.error(
            "Discord at %s answered HTTP %d; it is having trouble, try again later",
            settings.discord_api_url,
            exc.status,
        )
        status = EXIT_FAILED
    except (aiohttp.ClientError, OSError) as exc:  # DNS, refused, reset, TLS: TimeoutError is an OSError
        log.error(
            "Discord could not be reached at %s: %s", settings.discord_api_url, str(exc) or type(exc).__name__
        )
        status = EXIT_FAILED
    except sqlite3.Error as exc:
        log.error("The database at DATABASE_PATH (%s) could not be used: %s", settings.database_path, exc)
        status = EXIT_CONFIG
    if closing:
        _, late = await asyncio.wait(closing, timeout=SHUTDOWN_SECONDS)
        if late:
            log.warning("Shutdown took longer than %.0f s; exiting anyway", SHUTDOWN_SECONDS)
        else:
            log.info("Shut down cleanly")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="discord-openai-bot", description=__doc__)
    parser.add_argument("command", nargs="?", choices=("run", "check"), default="run")
    parser.add_argument("--env-file", default=None, help="settings file (default: .env, if present)")
    parser.add_argument(
        "--strict", action="store_true", help="check: also fail when a feature's model is missing"
    )
    args = parser.parse_args(argv)
    # Before any feature loads numpy (the knowledge base does, when the bot starts).
    limit_numeric_threads()

    from bot.logging_setup import configure_logging

    if args.env_file is not None and not Path(args.env_file).is_file():
        print(f"--env-file {args.env_file}: no such file", file=sys.stderr)
        return EXIT_CONFIG
    env_file = args.env_file or ".env"
    try:
        settings = load_settings(env_file)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level, secrets_of(settings))
    warn_unknown_env_keys(env_file)

    if args.command == "check":
        from bot.doctor import run_checks

        return asyncio.run(run_checks(settings, strict=args.strict))
    try:
        return asyncio.run(_run(settings))
    except KeyboardInterrupt:  # only where signal handlers are unavailable (Windows)
        return 0


if __name__ == "__main__":
    sys.exit(main())
