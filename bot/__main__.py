"""Command line: `python -m bot` runs the bot; `python -m bot check` checks the set-up.

Configuration problems print one readable message and exit with code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import discord

from bot.settings import Settings, SettingsError, load_settings, secrets_of, warn_unknown_env_keys

log = logging.getLogger("bot")

EXIT_CONFIG = 2

_LOGIN_HELP = (
    "Discord refused the bot token. In the Discord developer portal open your application, "
    "go to Bot, press 'Reset Token', and put the new token in DISCORD_TOKEN."
)
_INTENT_HELP = (
    "The Message Content intent is not enabled for this bot. In the Discord developer portal open "
    "your application, go to Bot, turn on 'Message Content Intent' under Privileged Gateway Intents, "
    "save, and start the bot again."
)


async def _run(settings: Settings) -> int:
    from bot.app import create_bot

    bot = create_bot(settings)
    try:
        async with bot:
            await bot.start(settings.discord_token.get_secret_value())
    except discord.LoginFailure:
        log.error(_LOGIN_HELP)
        return 1
    except discord.PrivilegedIntentsRequired:
        log.error(_INTENT_HELP)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="discord-openai-bot", description=__doc__)
    parser.add_argument("command", nargs="?", choices=("run", "check"), default="run")
    parser.add_argument("--env-file", default=".env", help="settings file (default: .env)")
    args = parser.parse_args(argv)

    from bot.logging_setup import configure_logging

    try:
        settings = load_settings(args.env_file)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level, secrets_of(settings))
    warn_unknown_env_keys(args.env_file)

    if args.command == "check":
        from bot.doctor import run_checks

        return asyncio.run(run_checks(settings))
    try:
        return asyncio.run(_run(settings))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
