"""Localization: catalogs (en-US, zh-CN), t(), and the app_commands Translator."""
