"""Behaviour of t(), locale normalization, reply_locale, the loader and BotTranslator."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.i18n import (
    SUPPORTED_LOCALES,
    BotTranslator,
    CatalogError,
    catalogs,
    load_catalogs,
    normalize_locale,
    reply_locale,
    t,
)
from bot.i18n import translate as translate_mod
from bot.i18n import translator as translator_mod

FAKE = {
    "en-US": {"greet": "Hello {name}", "only.en": "English only", "plain": "50% {{literal}}"},
    "zh-CN": {"greet": "你好 {name}", "plain": "百分之五十 {{literal}}"},
}


@pytest.fixture
def fake_catalogs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(translate_mod, "catalogs", lambda: FAKE)
    monkeypatch.setattr(translate_mod, "_reported", set())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("zh-CN", "zh-CN"),
        ("zh-TW", "zh-CN"),
        ("zh", "zh-CN"),
        ("zh_cn", "zh-CN"),
        ("en-GB", "en-US"),
        ("en", "en-US"),
        ("EN-us", "en-US"),
        ("fr", "en-US"),
        ("", "en-US"),
        (None, "en-US"),
        (discord.Locale.chinese, "zh-CN"),
        (discord.Locale.taiwan_chinese, "zh-CN"),
        (discord.Locale.british_english, "en-US"),
        (discord.Locale.japanese, "en-US"),
    ],
)
def test_normalize_locale(value: Any, expected: str) -> None:
    assert normalize_locale(value) == expected
    assert normalize_locale(value) in SUPPORTED_LOCALES


def test_t_formats_in_requested_locale(fake_catalogs: None) -> None:
    assert t("greet", "zh-CN", name="Ann") == "你好 Ann"
    assert t("greet", discord.Locale.taiwan_chinese, name="Ann") == "你好 Ann"
    assert t("greet", "en-GB", name="Ann") == "Hello Ann"
    assert t("greet", "de", name="Ann") == "Hello Ann"
    assert t("greet", None, name="Ann") == "Hello Ann"
    assert t("plain", "en-US") == "50% {literal}"


def test_t_falls_back_to_english_and_logs_once(fake_catalogs: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.i18n"):
        assert t("only.en", "zh-CN") == "English only"
        assert t("only.en", "zh-CN") == "English only"
    warnings = [r for r in caplog.records if "only.en" in r.getMessage()]
    assert len(warnings) == 1
    assert "zh-CN" in warnings[0].getMessage()


def test_t_missing_everywhere_returns_key_and_logs_once(
    fake_catalogs: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.i18n"):
        assert t("no.such.key", "en-US") == "no.such.key"
        assert t("no.such.key", "zh-CN", x=1) == "no.such.key"
    assert len([r for r in caplog.records if "no.such.key" in r.getMessage()]) == 1


def test_t_format_error_returns_template(fake_catalogs: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.i18n"):
        assert t("greet", "en-US") == "Hello {name}"
        assert t("greet", "zh-CN", wrong=1) == "你好 {name}"
    assert any("could not be formatted" in r.getMessage() for r in caplog.records)


def test_shipped_catalogs_are_loaded_once() -> None:
    first = catalogs()
    assert catalogs() is first
    assert set(SUPPORTED_LOCALES) <= set(first)
    assert t("error.generic", "zh-CN") == "出了点问题。"
    assert t("error.cooldown", "en-US", seconds=5) == "Slow down a little: try again in 5 s."


def _write(path: Path, data: object | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")


def test_loader_merges_files_of_a_locale(tmp_path: Path) -> None:
    _write(tmp_path / "en-US" / "a.json", {"a.one": "1"})
    _write(tmp_path / "en-US" / "b.json", {"b.two": "2"})
    _write(tmp_path / "zh-CN" / "a.json", {"a.one": "一"})
    (tmp_path / "README.md").write_text("not a locale")
    (tmp_path / "en-US" / "notes.txt").write_text("ignored")
    assert load_catalogs(tmp_path) == {"en-US": {"a.one": "1", "b.two": "2"}, "zh-CN": {"a.one": "一"}}


def test_loader_rejects_key_defined_in_two_files(tmp_path: Path) -> None:
    _write(tmp_path / "en-US" / "core.json", {"x.title": "A"})
    _write(tmp_path / "en-US" / "write.json", {"x.title": "B"})
    with pytest.raises(CatalogError, match=r"x\.title.*core\.json.*write\.json"):
        load_catalogs(tmp_path)


def test_loader_rejects_duplicate_key_in_one_file(tmp_path: Path) -> None:
    _write(tmp_path / "en-US" / "core.json", '{"k": "a", "k": "b"}')
    with pytest.raises(CatalogError, match="twice"):
        load_catalogs(tmp_path)


@pytest.mark.parametrize("content", ['{"k": 1}', '["k"]', "{not json"])
def test_loader_rejects_malformed_files(tmp_path: Path, content: str) -> None:
    _write(tmp_path / "en-US" / "core.json", content)
    with pytest.raises(CatalogError, match=r"core\.json"):
        load_catalogs(tmp_path)


def _interaction(
    user: discord.Locale, guild_locale: discord.Locale | None, guild: Any = None
) -> discord.Interaction:
    return SimpleNamespace(locale=user, guild_locale=guild_locale, guild=guild)  # type: ignore[return-value]


def test_reply_locale_order() -> None:
    zh, en, ja = discord.Locale.chinese, discord.Locale.american_english, discord.Locale.japanese
    # An admin's override beats everything.
    assert reply_locale(_interaction(en, en), "zh-CN") == "zh-CN"
    assert reply_locale(_interaction(zh, zh), "en-US") == "en-US"
    # Then the user's own client language when we support it.
    assert reply_locale(_interaction(discord.Locale.taiwan_chinese, en), None) == "zh-CN"
    assert reply_locale(_interaction(discord.Locale.british_english, zh), None) == "en-US"
    # Then the guild's preferred locale.
    assert reply_locale(_interaction(ja, zh), None) == "zh-CN"
    assert reply_locale(_interaction(ja, None, SimpleNamespace(preferred_locale=zh)), None) == "zh-CN"
    # Then English.
    assert reply_locale(_interaction(ja, discord.Locale.french), None) == "en-US"
    assert reply_locale(_interaction(ja, None), None) == "en-US"


async def test_translator_uses_key_for_chinese(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        translator_mod, "catalogs", lambda: {"zh-CN": {"cmd.write.description": "写作"}, "en-US": {}}
    )
    tr = BotTranslator()
    ctx = app_commands.TranslationContext(app_commands.TranslationContextLocation.other, None)
    keyed = app_commands.locale_str("Write text", key="cmd.write.description")
    assert await tr.translate(keyed, discord.Locale.chinese, ctx) == "写作"
    assert await tr.translate(keyed, discord.Locale.taiwan_chinese, ctx) == "写作"
    assert await tr.translate(keyed, discord.Locale.american_english, ctx) is None
    assert await tr.translate(keyed, discord.Locale.french, ctx) is None
    unkeyed = app_commands.locale_str("Write text")
    assert await tr.translate(unkeyed, discord.Locale.chinese, ctx) is None
    missing = app_commands.locale_str("Other", key="cmd.other.description")
    assert await tr.translate(missing, discord.Locale.chinese, ctx) is None


async def test_translator_localizes_a_command_payload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        translator_mod,
        "catalogs",
        lambda: {
            "en-US": {},
            "zh-CN": {
                "cmd.demo.name": "演示",
                "cmd.demo.description": "演示命令",
                "cmd.demo.opt.text.description": "文本",
            },
        },
    )

    @app_commands.command(
        name=app_commands.locale_str("demo", key="cmd.demo.name"),
        description=app_commands.locale_str("A demo", key="cmd.demo.description"),
    )
    @app_commands.describe(text=app_commands.locale_str("Text", key="cmd.demo.opt.text.description"))
    async def demo(interaction: discord.Interaction, text: str) -> None:
        pass

    tree = app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))
    payload = await demo.get_translated_payload(tree, BotTranslator())
    assert payload["name"] == "demo"
    assert payload["name_localizations"] == {"zh-CN": "演示", "zh-TW": "演示"}
    assert payload["description_localizations"]["zh-CN"] == "演示命令"
    assert payload["options"][0]["description_localizations"]["zh-CN"] == "文本"
