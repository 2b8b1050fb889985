"""`python -m bot check`: proves the settings, the database and the API key work, one line each.

Exit code 0 only when every check passes, so it can gate a deployment script.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from bot.clients import build_api_client
from bot.db import Database
from bot.openai_api import OpenAIError
from bot.settings import Settings
from bot.usage import PricingTable


async def run_checks(settings: Settings, out: TextIO = sys.stdout) -> int:
    failures = 0

    def report(name: str, ok: bool, detail: str) -> None:
        nonlocal failures
        failures += 0 if ok else 1
        out.write(f"{'ok    ' if ok else 'FAILED'} {name}: {detail}\n")

    async def attempt(name: str, check: Callable[[], Awaitable[str]]) -> bool:
        try:
            report(name, True, await check())
            return True
        except OpenAIError as exc:
            report(name, False, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # the doctor reports every failure instead of crashing on the first
            report(name, False, f"{type(exc).__name__}: {exc}")
        return False

    report("settings", True, f"loaded; API at {settings.base_url}")

    async def database() -> str:
        db = await Database.open(settings.database_path)
        try:
            return f"{settings.database_path} at schema version {db.schema_version}"
        finally:
            await db.close()

    await attempt("database", database)

    async def pricing() -> str:
        table = PricingTable.load(settings.pricing_path)
        return f"{len(table.models)} models priced"

    await attempt("pricing", pricing)

    available: set[str] = set()
    timeout = min(settings.request_timeout, 20.0)
    async with build_api_client(settings, timeout=timeout, max_retries=1) as client:

        async def models() -> str:
            listing = await client.models.list()
            available.update(model.id for model in listing.data)
            return f"the key works; {len(available)} models available"

        api_ok = await attempt("api", models)

    for feature, model in settings.default_models().items():
        if not api_ok:
            report(f"model for {feature}", False, f"{model}: not checked, the API check failed")
        elif model in available:
            report(f"model for {feature}", True, model)
        else:
            report(f"model for {feature}", False, f"{model} is not offered by {settings.base_url}")
    return 0 if failures == 0 else 1
