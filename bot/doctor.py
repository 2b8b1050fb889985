"""`python -m bot check`: proves the settings, database, Discord token and API work, one line each.

Exit code 0 only when every check passes (a feature's missing model fails only with --strict), so
it can gate a deployment script. Network checks wait at most 5 s and say on stderr what they wait for.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import TextIO

import aiohttp

from bot.clients import build_api_client
from bot.db import Database
from bot.discord_api import INTENT_LABELS, DiscordAnswerError, DiscordRest, enabled_intents
from bot.features import PRIVILEGED_INTENTS, Feature, FeatureRegistry
from bot.openai_api import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    OpenAIClient,
    OpenAIError,
)
from bot.settings import Settings, secrets_of
from bot.usage import PricingTable

#: Seconds each network check waits: long enough for a far server, short enough to notice a hang.
CHECK_TIMEOUT = 5.0
_MAX_DETAIL = 300

_TOKEN_HELP = (
    "in the Discord developer portal open your application, go to Bot, press 'Reset Token' and put "
    "the new token in DISCORD_TOKEN"
)


class _Failed(Exception):
    """A check failed; the message says what to do."""


class _Warned(Exception):
    """A check found something that disables one feature, not the bot."""


def _check_client(settings: Settings) -> OpenAIClient:
    """The API client for checks: short timeout, no retries (a retry would only hide the problem)."""
    return build_api_client(settings, timeout=CHECK_TIMEOUT, max_retries=0)


def _looks_like_json(text: str) -> bool:
    return text.lstrip().startswith(("{", "["))


def describe_api_error(exc: OpenAIError, base_url: str) -> str:
    """What went wrong with GET /models, and what to do about it, in one line."""
    url = f"{base_url}/models"
    name = type(exc).__name__
    if isinstance(exc, APITimeoutError):
        return (
            f"{name}: no answer from {url} within {CHECK_TIMEOUT:.0f} s; "
            "is the server up and OPENAI_BASE_URL right?"
        )
    if isinstance(exc, APIConnectionError):
        return (
            f"{name}: {url} could not be reached ({exc.message}); "
            "is the server running and OPENAI_BASE_URL right?"
        )
    if isinstance(exc, APIResponseValidationError):
        return (
            f"{name}: {url} did not answer with a model list: this is not an OpenAI-compatible API; "
            "check OPENAI_BASE_URL"
        )
    if not isinstance(exc, APIStatusError):
        return f"{name}: {exc}"
    body = exc.message.removeprefix(f"HTTP {exc.status}").lstrip(": ")
    raw = exc.type is None and exc.code is None and exc.message.startswith(f"HTTP {exc.status}")
    advice: list[str] = []
    if exc.status == 404 and not base_url.endswith("/v1"):
        advice.append(f"OpenAI-compatible servers serve the API under /v1: try OPENAI_BASE_URL={base_url}/v1")
    if raw and not _looks_like_json(body):
        shape = "an empty body" if "empty body" in exc.message else "HTML or other non-JSON"
        advice.insert(0, f"HTTP {exc.status} with {shape}: this is not an OpenAI-compatible API")
        return f"{name}: {url} answered " + "; ".join(advice)
    if exc.status == 401:
        advice.append("the server refused OPENAI_API_KEY; check the key")
    elif exc.status == 403:
        advice.append("the key may not list models (OPENAI_ORGANIZATION / OPENAI_PROJECT?)")
    return f"{name}: {exc}" + (f"; {'; '.join(advice)}" if advice else "")


def _one_line(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


def default_registry() -> FeatureRegistry:
    """The features `python -m bot` would load, read without starting the bot."""
    from bot.app import EXTENSIONS

    return FeatureRegistry.from_extensions(EXTENSIONS)


async def run_checks(
    settings: Settings,
    out: TextIO = sys.stdout,
    *,
    strict: bool = False,
    registry: FeatureRegistry | None = None,
    progress: TextIO = sys.stderr,
) -> int:
    """Run every check; return 0 (all passed), or 1 (a check failed, or a model is missing and strict)."""
    secrets = secrets_of(settings)
    failures = 0
    warnings = 0
    if registry is None:
        registry = default_registry()
    # Features that run unless a server turns them off: the ones whose models and intents matter.
    features = [f for f in registry if f.settings().enabled]

    def report(status: str, name: str, detail: str) -> None:
        out.write(f"{status:<6} {name}: {_one_line(detail, secrets)}\n")
        out.flush()

    def waiting(name: str, what: str) -> None:
        progress.write(f"{name}: waiting for {what} (up to {CHECK_TIMEOUT:.0f} s)\n")
        progress.flush()

    async def attempt(name: str, check: Callable[[], Awaitable[str]]) -> bool:
        nonlocal failures, warnings
        try:
            report("ok", name, await check())
            return True
        except _Warned as exc:
            warnings += 1
            report("WARN", name, str(exc))
        except _Failed as exc:
            failures += 1
            report("FAILED", name, str(exc))
        except Exception as exc:  # the doctor reports every failure instead of crashing on the first
            failures += 1
            report("FAILED", name, f"{type(exc).__name__}: {exc}")
        return False

    report("ok", "settings", f"loaded; API at {settings.base_url}; Discord at {settings.discord_api_url}")

    async def database() -> str:
        try:
            db = await Database.open(settings.database_path)
        except Exception as exc:
            raise _Failed(
                f"DATABASE_PATH {settings.database_path} could not be opened ({type(exc).__name__}: {exc}); "
                "point DATABASE_PATH at a writable SQLite file"
            ) from None
        try:
            return f"{settings.database_path} at schema version {db.schema_version}"
        finally:
            await db.close()

    await attempt("database", database)

    async def pricing() -> str:
        table = PricingTable.load(settings.pricing_path)
        # On OpenAI an unpriced default model is recorded at $0 and no budget can hold it; a
        # compatible server (Ollama, vLLM) usually costs nothing per token, so it is not asked.
        unpriced = [
            f"{getattr(settings, f.model_setting)} ({f.model_setting.upper()})"
            for f in features
            if f.model_setting is not None and not table.knows(str(getattr(settings, f.model_setting)))
        ]
        if unpriced and settings.openai_hosted:
            raise _Warned(
                f"no price for {', '.join(unpriced)}: their cost is recorded as $0 and budgets cannot "
                "hold them; add them to a pricing file named by PRICING_PATH"
            )
        return f"{len(table.models)} models priced"

    await attempt("pricing", pricing)

    async with aiohttp.ClientSession() as session:
        await _check_discord(settings, session, features, attempt, report, waiting)

    available: set[str] = set()
    async with _check_client(settings) as client:

        async def models() -> str:
            waiting("api", f"GET {settings.base_url}/models")
            try:
                listing = await client.models.list()
            except OpenAIError as exc:
                raise _Failed(describe_api_error(exc, settings.base_url)) from None
            available.update(model.id for model in listing.data)
            return f"the key works; {len(available)} models available"

        api_ok = await attempt("api", models)

    for feature in features:
        if feature.model_setting is None:
            continue
        variable = feature.model_setting.upper()
        model = str(getattr(settings, feature.model_setting))
        name = f"model for {feature.name}"
        if not api_ok:
            report("skip", name, f"{model} ({variable}): not checked, the API check failed")
            continue

        async def has_model(
            model: str = model, variable: str = variable, feature_name: str = feature.name
        ) -> str:
            if model in available:
                return f"{model} ({variable})"
            raise _Warned(
                f"{model} is not offered by {settings.base_url}, so the {feature_name} feature will not "
                f"work; set {variable} to one of its models"
            )

        await attempt(name, has_model)
    if failures:
        return 1
    if warnings and strict:
        return 1
    return 0


async def _check_discord(
    settings: Settings,
    session: aiohttp.ClientSession,
    features: list[Feature],
    attempt: Callable[[str, Callable[[], Awaitable[str]]], Awaitable[bool]],
    report: Callable[[str, str, str], None],
    waiting: Callable[[str, str], None],
) -> None:
    """The token (GET /users/@me), then the privileged intents loaded features need (/applications/@me)."""
    rest = DiscordRest(
        session, settings.discord_api_url, settings.discord_token.get_secret_value(), CHECK_TIMEOUT
    )

    async def get(name: str, path: str) -> dict[str, object]:
        url = settings.discord_api_url + path
        waiting(name, f"GET {url}")
        try:
            return await rest.get(path)
        except DiscordAnswerError as exc:
            if exc.status == 401:
                raise _Failed(f"Discord refused DISCORD_TOKEN (HTTP 401); {_TOKEN_HELP}") from None
            raise _Failed(f"{url} answered HTTP {exc.status}: {exc}") from None
        except TimeoutError:
            raise _Failed(
                f"no answer from {url} within {CHECK_TIMEOUT:.0f} s; check the network or DISCORD_API_BASE"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise _Failed(
                f"Discord could not be reached at {url} ({str(exc) or type(exc).__name__}); "
                "check the network or DISCORD_API_BASE"
            ) from None

    async def token() -> str:
        me = await get("discord", "/users/@me")
        return f"the token works; logged in as {me.get('username')} (id {me.get('id')})"

    if not await attempt("discord", token):
        report("skip", "intents", "not checked, the Discord token check failed")
        return

    needed: dict[str, list[str]] = {}
    wanted: dict[str, list[str]] = {}  # optional intents: the feature runs in a reduced mode without
    for feature in features:
        for intent in sorted(feature.privileged_intents):
            needed.setdefault(intent, []).append(feature.name)
        for intent in sorted(feature.optional_intents & PRIVILEGED_INTENTS):
            wanted.setdefault(intent, []).append(feature.name)

    async def intents() -> str:
        app = await get("intents", "/applications/@me")
        flags = app.get("flags")
        enabled = enabled_intents(flags if isinstance(flags, int) else 0)
        missing = {intent: names for intent, names in needed.items() if intent not in enabled}
        reduced = {intent: names for intent, names in wanted.items() if intent not in enabled}
        parts = [f"{INTENT_LABELS[i]} is off and {', '.join(n)} need it" for i, n in missing.items()]
        parts += [
            f"{INTENT_LABELS[i]} is off, so {', '.join(n)} run in a reduced mode" for i, n in reduced.items()
        ]
        if parts:
            # The bot still starts without it, with just these features off or reduced: a warning.
            raise _Warned(
                "; ".join(parts)
                + "; until it is on, the bot starts with those features off or reduced. Turn "
                "it on in the Discord developer portal (your application > Bot > Privileged Gateway Intents) "
                "and save"
            )
        if not needed and not wanted:
            return "no loaded feature needs a privileged intent"
        return ", ".join(f"{INTENT_LABELS[i]} is on" for i in {**needed, **wanted})

    await attempt("intents", intents)
