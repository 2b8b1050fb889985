"""/config through the real bot in simcord: show, set, channel, role, reset after confirmation, history;
Manage Server checked at run time; every refusal localized; values read back from storage."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import discord
import pytest

from bot.app import OpenAIBot
from bot.i18n import t
from cogs.write import FEATURE as WRITE
from tests.cogs.conftest import assert_errors


class World:
    def __init__(self, env: Any) -> None:
        self.env = env
        self.guild = env.create_guild()
        self.channel = self.guild.create_text_channel("general")
        self.admins = self.guild.create_role("admins", permissions=discord.Permissions(manage_guild=True))
        self.helpers = self.guild.create_role("helpers")
        self.admin = self.guild.add_member(env.create_user("ada"), roles=[self.admins])
        self.member = self.guild.add_member(env.create_user("bob"))

    @property
    def bot(self) -> OpenAIBot:
        bot: OpenAIBot = self.env.bot
        return bot

    async def config(self, sub: str, member: Any = None, **options: Any) -> Any:
        return await (member or self.admin).slash(self.channel, f"config {sub}", **options)


@pytest.fixture
def world(simcord_env: Any) -> World:
    return World(simcord_env)


def _field(result: Any, name_part: str) -> str:
    embed = result.response.embeds[0]
    return next(f.value for f in embed.fields if name_part in f.name)


async def test_show_lists_every_features_settings_from_the_registry_with_defaults_marked(
    world: World,
) -> None:
    await world.bot.feature_settings.update(world.guild.id, WRITE, max_tokens=300)
    result = await world.config("show")
    assert result.ephemeral
    embed = result.response.embeds[0]
    assert embed.title == "Settings of this server"
    # Every loaded feature appears, in load order, without /config naming any of them.
    assert [f.name for f in embed.fields] == [
        "Server (server)",
        *(f"{t('feature.' + f.name, 'en-US')} ({f.name})" for f in world.bot.features if f.name != "config"),
    ]
    assert "Usage reports (usage)" in [f.name for f in embed.fields]
    # A feature that uses no model offers no model settings.
    assert _field(result, "(usage)") == "`enabled` · on"
    write = _field(result, "(write)").splitlines()
    assert "✏️ `max_tokens` · 300" in write
    assert "`cooldown_seconds` · 5" in write
    assert "`model` · `gpt-3.5-turbo-instruct` (bot default)" in write
    assert "`enabled` · on" in write
    server = _field(result, "(server)").splitlines()
    assert "`monthly_budget_usd` · none" in server
    # /config does not offer to turn itself off.
    assert all("(config)" not in f.name for f in embed.fields)


async def test_set_validates_stores_audits_and_answers_in_the_members_language(
    world: World, user_locale: Callable[[str], None]
) -> None:
    result = await world.config("set", feature="write", setting="max_tokens", value="300")
    assert result.ephemeral
    assert result.response.content == "Saved: Text writing (write) · `max_tokens` 1,024 → 300"
    assert (await world.bot.feature_settings.get(world.guild.id, WRITE)).max_tokens == 300  # type: ignore[attr-defined]

    await world.config("set", feature="server", setting="monthly_budget_usd", value="25.5")
    assert (await world.bot.guild_settings.get(world.guild.id)).monthly_budget_usd == Decimal("25.5")

    user_locale("zh-CN")
    refused = await world.config("set", feature="write", setting="max_tokens", value="0")
    assert refused.ephemeral
    assert refused.response.content == "⚠️ 未保存：`max_tokens` 不能小于 1。"
    assert (await world.bot.feature_settings.get(world.guild.id, WRITE)).max_tokens == 300  # type: ignore[attr-defined]

    history = await world.config("history")
    lines = history.response.embeds[0].description.splitlines()
    assert len(lines) == 2  # the refused value was not recorded
    assert lines[0].endswith(f"<@{world.admin.id}> · `server.monthly_budget_usd` 无 → `25.5`")
    assert lines[1].endswith("· `write.max_tokens` `1024` → `300`")
    assert "年" in lines[0]  # the date is written as a zh-CN reader writes it


@pytest.mark.parametrize(
    ("feature", "setting", "value", "message"),
    [
        ("server", "monthly_budget_usd", "-5", "⚠️ Not saved: `monthly_budget_usd` must be at least 0."),
        ("write", "cooldown_seconds", "soon", "⚠️ Not saved: `cooldown_seconds` must be a number."),
        ("write", "enabled", "sometimes", "⚠️ Not saved: `enabled` must be on or off."),
        ("write", "max_tokens", "2.5", "⚠️ Not saved: `max_tokens` must be a whole number."),
        ("server", "reply_locale", "fr", "⚠️ Not saved: `reply_locale` must be one of 'en-US' or 'zh-CN'."),
        ("write", "telepathy", "on", "⚠️ There is no setting `telepathy` for this command here."),
        ("telepathy", "enabled", "on", "⚠️ There is no feature `telepathy` here."),
        ("write", "model", "gpt-nonexistent", "⚠️ Not saved: the AI service does not list `gpt-nonexistent`."),
    ],
)
async def test_each_invalid_value_gets_a_clear_message_and_stores_nothing(
    world: World, feature: str, setting: str, value: str, message: str
) -> None:
    await world.bot.model_catalog.refresh()
    result = await world.config("set", feature=feature, setting=setting, value=value)
    assert result.ephemeral
    assert result.response.content.startswith(message)
    assert await world.bot.feature_settings.overrides(world.guild.id, "write") == {}
    assert await world.bot.guild_settings.get(world.guild.id) == type(await world.bot.guild_settings.get(0))()


async def test_model_is_checked_against_the_catalog_and_offered_by_autocomplete(world: World) -> None:
    await world.bot.model_catalog.refresh()
    choices = await world.admin.autocomplete(
        world.channel, "config set", "value", "", feature="write", setting="model"
    )
    offered = [c["value"] for c in choices]
    assert "gpt-3.5-turbo-instruct" in offered and "none" in offered
    assert all("embedding" not in c for c in offered)
    await world.config("set", feature="write", setting="model", value="davinci-002")
    assert (await world.bot.feature_settings.get(world.guild.id, WRITE)).model == "davinci-002"
    await world.config(
        "set", feature="write", setting="allowed_models", value="davinci-002, gpt-3.5-turbo-instruct"
    )
    assert (await world.bot.feature_settings.get(world.guild.id, WRITE)).allowed_models == (
        "davinci-002",
        "gpt-3.5-turbo-instruct",
    )
    # "none" empties the list: every model is allowed again.
    await world.config("set", feature="write", setting="allowed_models", value="none")
    assert (await world.bot.feature_settings.get(world.guild.id, WRITE)).allowed_models == ()


async def test_feature_and_setting_names_autocomplete_from_the_registry(world: World) -> None:
    features = await world.admin.autocomplete(world.channel, "config set", "feature", "")
    loaded = [f.name for f in world.bot.features if f.name != "config"]
    assert [c["value"] for c in features] == ["server", *loaded]
    assert {"write", "usage"} <= set(loaded)
    settings = await world.admin.autocomplete(world.channel, "config set", "setting", "", feature="write")
    assert [c["value"] for c in settings] == [
        "enabled",
        "model",
        "allowed_models",
        "cooldown_seconds",
        "max_tokens",
        "keep_sessions_days",
    ]
    roles = await world.admin.autocomplete(world.channel, "config role", "setting", "", feature="server")
    assert [c["value"] for c in roles] == ["budget_exempt_role_ids"]


async def test_channel_and_role_settings_use_discords_own_options(world: World) -> None:
    logs = world.guild.create_text_channel("bot-log")
    result = await world.config("channel", feature="server", setting="log_channel_id", channel=logs)
    assert result.response.content == f"Saved: Server (server) · `log_channel_id` none → <#{logs.id}>"
    assert (await world.bot.guild_settings.get(world.guild.id)).log_channel_id == logs.id

    await world.config("role", feature="server", setting="budget_exempt_role_ids", role=world.helpers)
    await world.config("role", feature="server", setting="budget_exempt_role_ids", role=world.admins)
    await world.config(
        "role", feature="server", setting="budget_exempt_role_ids", role=world.helpers, remove=True
    )
    assert (await world.bot.guild_settings.get(world.guild.id)).budget_exempt_role_ids == (world.admins.id,)

    # A typed value for a channel setting is refused: channels are picked, not typed.
    typed = await world.config("set", feature="server", setting="log_channel_id", value="123")
    assert typed.response.content.startswith("⚠️ There is no setting `log_channel_id` for this command here.")


async def test_a_channel_the_bot_cannot_see_is_refused(world: World) -> None:
    me = world.guild.me
    assert me is not None
    hidden = world.guild.create_text_channel(
        "secret", overwrites={me: discord.PermissionOverwrite(view_channel=False)}
    )
    result = await world.config("channel", feature="server", setting="log_channel_id", channel=hidden)
    assert result.response.content.startswith(f"⚠️ Not saved: I cannot see <#{hidden.id}>.")
    assert (await world.bot.guild_settings.get(world.guild.id)).log_channel_id is None


async def test_reset_asks_first_then_restores_defaults_and_audits(world: World) -> None:
    await world.config("set", feature="write", setting="max_tokens", value="300")
    await world.config("set", feature="write", setting="cooldown_seconds", value="9")
    asked = await world.config("reset", feature="write")
    assert asked.ephemeral
    assert asked.response.content == "Put Text writing (write) back to the defaults? This cannot be undone."
    # Nothing happens before the confirmation.
    assert await world.bot.feature_settings.overrides(world.guild.id, "write") == {
        "cooldown_seconds": 9.0,
        "max_tokens": 300,
    }
    done = await world.admin.click(asked.response, label="Reset")
    assert done.acknowledged
    assert await world.bot.feature_settings.overrides(world.guild.id, "write") == {}
    history = (await world.config("history", feature="write")).response.embeds[0].description.splitlines()
    assert history[0].endswith("`write.max_tokens` `300` → `1024`")
    assert history[1].endswith("`write.cooldown_seconds` `9.0` → `5.0`")


async def test_reset_cancel_changes_nothing(world: World) -> None:
    await world.config("set", feature="write", setting="max_tokens", value="300")
    asked = await world.config("reset")
    assert "every setting of this server" in asked.response.content
    await world.admin.click(asked.response, label="Cancel")
    assert await world.bot.feature_settings.overrides(world.guild.id, "write") == {"max_tokens": 300}


async def test_commands_require_manage_server_by_default(world: World) -> None:
    puts = [r for r in world.env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]
    config = next(c for c in puts[-1].json if c["name"] == "config")
    assert int(config["default_member_permissions"]) == discord.Permissions(manage_guild=True).value
    assert config["name_localizations"]["zh-CN"] == "设置"


async def test_a_member_without_manage_server_is_refused_even_when_the_server_allows_the_command(
    world: World,
) -> None:
    commands = await world.bot.tree.fetch_commands()
    config = next(c for c in commands if c.name == "config")
    # The server gave /config to everyone in its integration settings: Discord lets the member run it.
    world.guild.set_command_permissions(config, {world.member: True})
    for sub, options in (
        ("show", {}),
        ("set", {"feature": "write", "setting": "max_tokens", "value": "5"}),
        ("history", {}),
        ("reset", {}),
    ):
        result = await world.config(sub, world.member, **options)
        assert result.ephemeral
        assert result.response.content == "You need these permissions to do that: Manage Server."
    assert_errors(
        world.env, "MissingPermissions", "MissingPermissions", "MissingPermissions", "MissingPermissions"
    )
    assert await world.bot.feature_settings.overrides(world.guild.id, "write") == {}


async def test_reply_language_and_feature_switch_are_settings_like_any_other(
    world: World, user_locale: Callable[[str], None]
) -> None:
    await world.config("set", feature="server", setting="reply_locale", value="zh-CN")
    shown = await world.config("show", feature="server")
    # The server's language now applies to the admin's own replies too.
    assert shown.response.embeds[0].title == "本服务器的设置"
    assert "✏️ `reply_locale` · `zh-CN`" in _field(shown, "(server)").splitlines()
    await world.config("set", feature="server", setting="reply_locale", value="auto")
    assert (await world.bot.guild_settings.get(world.guild.id)).reply_locale is None

    await world.config("set", feature="write", setting="enabled", value="off")
    refused = await world.member.slash(world.channel, "write", prompt="hi")
    assert refused.ephemeral and "turned off in this server" in refused.response.content
    assert_errors(world.env, "FeatureDisabled")
    choices = await world.admin.autocomplete(
        world.channel, "config set", "value", "", feature="write", setting="enabled"
    )
    assert [c["value"] for c in choices] == ["on", "off"]


async def test_moderation_is_configured_through_config_like_any_feature(world: World) -> None:
    """Channels and roles with Discord's pickers, thresholds as key=value pairs, rules as JSON."""
    moderation = world.bot.features["moderation"]
    offtopic = world.guild.create_text_channel("off-topic")
    await world.config("channel", feature="moderation", setting="exclude_channel_ids", channel=offtopic)
    await world.config("role", feature="moderation", setting="exempt_role_ids", role=world.helpers)
    await world.config(
        "set", feature="moderation", setting="thresholds", value="harassment=0.4, violence=0.8"
    )
    rules = '[{"categories": ["harassment"], "min_score": 0.7, "delete": true, "timeout_minutes": 5}]'
    saved = await world.config("set", feature="moderation", setting="rules", value=rules)
    assert saved.response.content.startswith("Saved: ")

    stored: Any = await world.bot.feature_settings.get(world.guild.id, moderation)
    assert stored.exclude_channel_ids == (offtopic.id,)
    assert stored.exempt_role_ids == (world.helpers.id,)
    assert stored.thresholds == {"harassment": 0.4, "violence": 0.8}
    (rule,) = stored.rules
    assert (rule.categories, rule.min_score, rule.delete, rule.timeout_minutes) == (
        ("harassment",),
        0.7,
        True,
        5,
    )

    for value, reason in (
        ("harassment", "must be key=value pairs separated by commas"),
        ("{not json", "must be JSON"),
        ("harassment=lots", "must be a number"),
    ):
        refused = await world.config("set", feature="moderation", setting="thresholds", value=value)
        assert refused.response.content.startswith("⚠️ Not saved: `thresholds` "), value
        assert reason in refused.response.content, refused.response.content
    assert (await world.bot.feature_settings.get(world.guild.id, moderation)).thresholds == {  # type: ignore[attr-defined]
        "harassment": 0.4,
        "violence": 0.8,
    }
    assert_errors(world.env)  # refusals are answered by /config itself, not errors


async def test_set_and_reset_tell_listening_cogs_which_settings_changed(world: World) -> None:
    heard: list[tuple[int | None, str, frozenset[str]]] = []

    async def listener(interaction: discord.Interaction[Any], feature: str, names: frozenset[str]) -> None:
        heard.append((interaction.guild_id, feature, names))

    world.bot.add_listener(listener, "on_feature_settings_changed")
    try:
        await world.config("set", feature="write", setting="max_tokens", value="300")
        await world.config("set", feature="write", setting="max_tokens", value="300")  # no change
        await world.config("set", feature="write", setting="max_tokens", value="0")  # refused
        await world.config("role", feature="server", setting="budget_exempt_role_ids", role=world.helpers)
        await world.config("set", feature="write", setting="cooldown_seconds", value="9")
        asked = await world.config("reset", feature="write")
        await world.admin.click(asked.response, label="Reset")
    finally:
        world.bot.remove_listener(listener, "on_feature_settings_changed")
    guild = world.guild.id
    assert heard == [
        (guild, "write", frozenset({"max_tokens"})),
        (guild, "server", frozenset({"budget_exempt_role_ids"})),
        (guild, "write", frozenset({"cooldown_seconds"})),
        (guild, "write", frozenset({"max_tokens", "cooldown_seconds"})),
    ]
