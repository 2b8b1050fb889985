"""discord-openai-bot: the core package (settings, storage, API client, i18n, Discord I/O).

Nothing in `bot/` knows about a particular feature; features live in `cogs/`.
"""

__version__ = "0.1.0"
