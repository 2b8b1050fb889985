"""Benchmark: bot start-up time to READY under simcord (cold and warm database) and idle RSS.
Claim: ready in under 1 s and idle RSS under 80 MB; baseline: a process importing the same libraries."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Heavy imports (discord.py, simcord, the bot) happen inside functions so a child process can time
# them; this module itself imports only the standard library.

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGET_READY_S = 1.0
TARGET_RSS_MB = 80.0
CHILD_TIMEOUT_S = 60.0


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _status_mb(field: str) -> float:
    """A memory line of /proc/self/status (VmRSS, VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _import_libraries() -> None:
    """What both the bot child and the baseline child import: the bot's code and simcord."""
    import simcord  # noqa: F401

    import bot.app
    import bot.settings  # noqa: F401


def _settings(database: Path, base_url: str, api_key: str) -> Any:
    # Mirrors tests/conftest.py::make_settings; importing it would drag pytest into the measured RSS.
    from bot.settings import load_settings

    return load_settings(
        None,
        discord_token="simcord-fake-discord-token",
        openai_api_key=api_key,
        openai_base_url=base_url,
        database_path=database,
        max_retries=0,
        request_timeout=10.0,
        log_level="INFO",
    )


def _time_setup_hook(bot: Any) -> list[float]:
    """Wraps this bot's setup_hook to record its duration: the bot's own share of start-up.

    The rest of create -> READY is discord.py's login/READY handling and simcord settling its loop.
    """
    durations: list[float] = []
    original = bot.setup_hook

    async def timed() -> None:
        start = time.perf_counter()
        await original()
        durations.append(time.perf_counter() - start)

    bot.setup_hook = timed
    return durations


async def _start_once(settings: Any, *, expect_sync: bool) -> tuple[float, float]:
    """create_bot(settings) -> READY under simcord and its setup_hook, in seconds; closes the bot."""
    import simcord

    from bot.app import create_bot

    gc.collect()
    start = time.perf_counter()
    bot = create_bot(settings)
    hook = _time_setup_hook(bot)
    try:
        async with simcord.run(bot) as env:
            elapsed = time.perf_counter() - start
            _check_ready(env.bot, expect_sync=expect_sync)
    finally:
        # simcord detaches the bot without closing it; release its database and HTTP session.
        await bot.close()
    return elapsed, sum(hook)


def _check_ready(bot: Any, *, expect_sync: bool) -> None:
    if not bot.is_ready():
        raise RuntimeError("bot is not ready inside simcord.run()")
    if bot.failed_extensions:
        raise RuntimeError(f"extensions failed to load: {bot.failed_extensions}")
    if bot.commands_synced != expect_sync:
        raise RuntimeError(f"commands_synced is {bot.commands_synced}, expected {expect_sync}")


# -- child processes ---------------------------------------------------------------------------------


def _child(args: argparse.Namespace) -> None:
    """One fresh process: import (not for bare), then (bot) create -> READY; read RSS; one JSON line."""
    t0 = time.perf_counter()
    if args.child != "bare":
        _import_libraries()
    result: dict[str, Any] = {"import_s": time.perf_counter() - t0}
    if args.child == "bot":
        result.update(asyncio.run(_child_bot(args)))
    else:
        gc.collect()
        result["rss_mb"] = _status_mb("VmRSS")
    result["hwm_mb"] = _status_mb("VmHWM")
    print(json.dumps(result), flush=True)


async def _child_bot(args: argparse.Namespace) -> dict[str, Any]:
    import simcord

    from bot.app import create_bot

    settings = _settings(Path(args.db), args.base_url, args.api_key)
    start = time.perf_counter()
    bot = create_bot(settings)
    hook = _time_setup_hook(bot)
    try:
        async with simcord.run(bot) as env:
            ready_s = time.perf_counter() - start
            # Wall clock, comparable across processes: from the parent's spawn to READY here.
            spawn_to_ready_s = time.time() - args.spawned_at
            _check_ready(env.bot, expect_sync=args.expect_sync)
            gc.collect()
            rss_mb = _status_mb("VmRSS")
    finally:
        await bot.close()
    return {
        "ready_s": ready_s,
        "setup_hook_s": sum(hook),
        "spawn_to_ready_s": spawn_to_ready_s,
        "rss_mb": rss_mb,
    }


def _spawn(mode: str, database: Path, fake: Any, *, expect_sync: bool = False) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.startup", "--child", mode, "--db", str(database)]
    cmd += ["--base-url", fake.base_url, "--api-key", fake.api_key]
    if expect_sync:
        cmd.append("--expect-sync")
    cmd += ["--spawned-at", repr(time.time())]
    proc = subprocess.run(
        cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {mode} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# -- the parent ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def _fake_server() -> Iterator[Any]:
    from tests.fakes.openai_server import FakeOpenAI

    with FakeOpenAI.threaded() as fake:
        yield fake


async def _in_process(runs: int, fake: Any, directory: Path) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"cold": [], "warm": [], "cold_hook": [], "warm_hook": []}
    # One unmeasured start first: the first bot in a process pays lazy imports and caches.
    await _start_once(_settings(directory / "warmup.db", fake.base_url, fake.api_key), expect_sync=True)
    for i in range(runs):
        settings = _settings(directory / f"in_process_{i}.db", fake.base_url, fake.api_key)
        for kind, expect_sync in (("cold", True), ("warm", False)):
            ready, hook = await _start_once(settings, expect_sync=expect_sync)
            out[kind].append(ready)
            out[f"{kind}_hook"].append(hook)
    return out


def _subprocesses(runs: int, fake: Any, directory: Path) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {
        key: []
        for key in (
            "cold_spawn",
            "warm_spawn",
            "cold_ready",
            "warm_ready",
            "cold_hook",
            "warm_hook",
            "import",
            "rss_cold",
            "rss_warm",
            "hwm",
            "rss_base",
            "rss_bare",
        )
    }
    for i in range(runs):
        database = directory / f"process_{i}.db"
        cold = _spawn("bot", database, fake, expect_sync=True)
        warm = _spawn("bot", database, fake)
        base = _spawn("baseline", database, fake)
        bare = _spawn("bare", database, fake)
        out["cold_spawn"].append(cold["spawn_to_ready_s"])
        out["warm_spawn"].append(warm["spawn_to_ready_s"])
        out["cold_ready"].append(cold["ready_s"])
        out["warm_ready"].append(warm["ready_s"])
        out["cold_hook"].append(cold["setup_hook_s"])
        out["warm_hook"].append(warm["setup_hook_s"])
        out["import"] += [cold["import_s"], warm["import_s"]]
        out["rss_cold"].append(cold["rss_mb"])
        out["rss_warm"].append(warm["rss_mb"])
        out["hwm"] += [cold["hwm_mb"], warm["hwm_mb"]]
        out["rss_base"].append(base["rss_mb"])
        out["rss_bare"].append(bare["rss_mb"])
    return out


def run(runs: int, process_runs: int) -> dict[str, Any]:
    results: dict[str, Any] = {"runs": runs, "process_runs": process_runs}
    with tempfile.TemporaryDirectory() as tmp, _fake_server() as fake:
        directory = Path(tmp)
        in_proc = asyncio.run(_in_process(runs, fake, directory))
        procs = _subprocesses(process_runs, fake, directory)
    for name, values in (
        ("cold_ready", in_proc["cold"]),
        ("warm_ready", in_proc["warm"]),
        ("cold_setup_hook", in_proc["cold_hook"]),
        ("warm_setup_hook", in_proc["warm_hook"]),
        ("proc_cold_ready", procs["cold_ready"]),
        ("proc_warm_ready", procs["warm_ready"]),
        ("proc_cold_setup_hook", procs["cold_hook"]),
        ("proc_warm_setup_hook", procs["warm_hook"]),
        ("proc_cold_spawn_to_ready", procs["cold_spawn"]),
        ("proc_warm_spawn_to_ready", procs["warm_spawn"]),
        ("proc_import", procs["import"]),
    ):
        results[f"{name}_p50_ms"] = _pct(values, 50) * 1000
        results[f"{name}_p99_ms"] = _pct(values, 99) * 1000
    for name, values in (
        ("rss_cold", procs["rss_cold"]),
        ("rss_warm", procs["rss_warm"]),
        ("rss_baseline", procs["rss_base"]),
        ("rss_bare", procs["rss_bare"]),
        ("peak_rss", procs["hwm"]),
    ):
        results[f"{name}_p50_mb"] = _pct(values, 50)
        results[f"{name}_max_mb"] = max(values, default=0.0)
    results["rss_bot_share_mb"] = results["rss_warm_p50_mb"] - results["rss_baseline_p50_mb"]
    worst_ready = max(results["proc_cold_spawn_to_ready_p99_ms"], results["proc_warm_spawn_to_ready_p99_ms"])
    results["ready_target_met"] = worst_ready < TARGET_READY_S * 1000
    results["rss_target_met"] = max(results["rss_cold_max_mb"], results["rss_warm_max_mb"]) < TARGET_RSS_MB
    return results


def _table(r: dict[str, Any]) -> str:
    def ms(name: str) -> str:
        return f"{r[name + '_p50_ms']:8.1f} / {r[name + '_p99_ms']:8.1f} ms"

    def mb(name: str) -> str:
        return f"{r[name + '_p50_mb']:6.1f} / {r[name + '_max_mb']:6.1f} MiB"

    rows = [
        (f"in-process, create_bot -> READY ({r['runs']} runs)", "p50 / p99"),
        ("  cold (new database: migrations + sync)", ms("cold_ready")),
        ("  warm (same database: sync skipped)", ms("warm_ready")),
        ("    of which setup_hook, cold", ms("cold_setup_hook")),
        ("    of which setup_hook, warm", ms("warm_setup_hook")),
        (f"fresh process per start ({r['process_runs']} runs)", "p50 / p99"),
        ("  imports (bot.app, simcord)", ms("proc_import")),
        ("  create_bot -> READY, cold", ms("proc_cold_ready")),
        ("  create_bot -> READY, warm", ms("proc_warm_ready")),
        ("    of which setup_hook, cold", ms("proc_cold_setup_hook")),
        ("    of which setup_hook, warm", ms("proc_warm_setup_hook")),
        ("  spawn -> READY, cold", ms("proc_cold_spawn_to_ready")),
        ("  spawn -> READY, warm", ms("proc_warm_spawn_to_ready")),
        ("idle RSS after READY (VmRSS)", "p50 / max"),
        ("  bot, cold start", mb("rss_cold")),
        ("  bot, warm start", mb("rss_warm")),
        ("  baseline: same imports, no bot", mb("rss_baseline")),
        ("  interpreter + this script's stdlib imports", mb("rss_bare")),
        ("  bot's own share (warm p50 - baseline p50)", f"{r['rss_bot_share_mb']:6.1f} MiB"),
        ("  peak RSS of bot processes (VmHWM)", mb("peak_rss")),
        (
            f"target: spawn -> READY p99 < {TARGET_READY_S:g} s",
            "met" if r["ready_target_met"] else "NOT met",
        ),
        (f"target: idle RSS < {TARGET_RSS_MB:g} MB", "met" if r["rss_target_met"] else "NOT met"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="in-process cold+warm starts (default 15)")
    parser.add_argument(
        "--process-runs",
        type=int,
        default=None,
        help="fresh-process rounds: a cold start, a warm start and two baselines each (default: --runs)",
    )
    # Internal: what a child process does.
    parser.add_argument("--child", choices=("bot", "baseline", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--api-key", help=argparse.SUPPRESS)
    parser.add_argument("--expect-sync", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--spawned-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    process_runs = args.runs if args.process_runs is None else args.process_runs
    if process_runs < 1:
        parser.error("--process-runs must be at least 1")
    os.chdir(REPO_ROOT)
    results = run(args.runs, process_runs)
    print(_table(results))
    print(
        json.dumps(
            {
                "bench": "startup",
                **{k: round(v, 3) if isinstance(v, float) else v for k, v in results.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
