"""Benchmark: automatic transcription under a burst (real bot under simcord, fake OpenAI in a thread
with a fixed latency per request). 200 voice messages across 4 servers, sent round-robin.
Claim: all 200 answered, at most `concurrency_limit` transcriptions at once per server, and
fairness_ratio (slowest server's p99 over the fastest's) <= 2; also a quiet server's reply while
another server bursts, against the baseline (one voice message in an idle bot) from the same run.
Run from the repository root: `python -m bench.transcribe [--latency 0.2] [--messages 200]`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.streaming import REPO_ROOT, RealTimeClock

API_KEY = "sk-bench-transcribe-0000"
SERVERS = 4
# Messages of one server go to this many channels: Discord's 5 sends per 5 s per channel would
# otherwise measure the channel's pacing rather than the lanes.
CHANNELS_PER_SERVER = 10
TARGET_FAIRNESS = 2.0
VOICE_FLAG = 1 << 13


def _settings(database: Path, base_url: str) -> Any:
    from bot.settings import load_settings

    return load_settings(
        None,
        discord_token="simcord-fake-discord-token",
        openai_api_key=API_KEY,
        openai_base_url=base_url,
        database_path=database,
        max_retries=0,
        request_timeout=60.0,
        log_level="WARNING",
    )


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Watch:
    """Real time at which each voice message was sent and its reply reached Discord, and how many
    transcriptions each server had at the API at once (its files are named g<server>-...)."""

    def __init__(self) -> None:
        self.sent: dict[int, float] = {}
        self.answered: dict[int, float] = {}
        self.server_of: dict[int, int] = {}
        self.running: dict[int, int] = {}
        self.peak: dict[int, int] = {}

    @contextlib.contextmanager
    def installed(self, bot: Any) -> Iterator[None]:
        from simcord.http import router

        original: Callable[..., Any] = router.dispatch

        def dispatch(backend: Any, method: str, path: str, **kwargs: Any) -> Any:
            result = original(backend, method, path, **kwargs)
            body = kwargs.get("json") or {}
            reference = body.get("message_reference") if isinstance(body, dict) else None
            if method == "POST" and path.endswith("/messages") and reference:
                self.answered.setdefault(int(reference["message_id"]), time.perf_counter())
            return result

        transcribe = bot.api.audio.transcribe

        async def counted(**kwargs: Any) -> Any:
            server = int(kwargs["filename"].split("-", 1)[0].removeprefix("g"))
            self.running[server] = self.running.get(server, 0) + 1
            self.peak[server] = max(self.peak.get(server, 0), self.running[server])
            try:
                return await transcribe(**kwargs)
            finally:
                self.running[server] -= 1

        router.dispatch = dispatch
        bot.api.audio.transcribe = counted
        try:
            yield
        finally:
            router.dispatch = original
            bot.api.audio.transcribe = transcribe


def _send_voice(env: Any, channel: Any, member: Any, name: str, watch: Watch, server: int) -> None:
    backend = env.backend
    payload = b"FAKE-TRANSCRIPT:" + f"voice message {name} says hello".encode()
    (attachment,) = backend.store_attachments(channel.id, [(f"{name}.ogg", payload)])
    attachment.update(content_type="audio/ogg", duration_secs=2.0, waveform="AAAA")
    message = backend.create_message(channel.id, member.id, "", attachments=[attachment], flags=VOICE_FLAG)
    watch.sent[message.id] = time.perf_counter()
    watch.server_of[message.id] = server
    env._mark_mutation()


async def _wait_for(watch: Watch, ids: list[int], deadline_s: float) -> None:
    end = time.perf_counter() + deadline_s
    while time.perf_counter() < end and not all(i in watch.answered for i in ids):
        await asyncio.sleep(0.02)


async def _run(args: argparse.Namespace, base_url: str) -> dict[str, Any]:
    import simcord

    from bot.app import create_bot
    from cogs.transcribe import FEATURE
    from cogs.transcribe.cog import CONCURRENCY_PER_SERVER

    watch = Watch()
    with tempfile.TemporaryDirectory() as tmp:
        bot = create_bot(_settings(Path(tmp) / "bench.db", base_url))
        try:
            async with simcord.run(bot) as env:
                env.settle_timeout = 0.0
                servers = []
                for index in range(SERVERS + 1):  # the last one stays quiet but for one message
                    guild = env.create_guild(name=f"server-{index}")
                    channels = [guild.create_text_channel(f"voice-{c}") for c in range(CHANNELS_PER_SERVER)]
                    member = guild.add_member(env.create_user(f"member-{index}"))
                    servers.append((guild, channels, member))
                    await bot.feature_settings.update(guild.id, FEATURE, auto_all_channels=True)
                with watch.installed(bot), RealTimeClock(env):
                    # Baseline: one voice message in an idle bot (three; the first warms up).
                    _quiet_guild, quiet_channels, quiet_member = servers[SERVERS]
                    baseline = []
                    for n in range(3):
                        _send_voice(
                            env, quiet_channels[n], quiet_member, f"g{SERVERS}-base{n}", watch, SERVERS
                        )
                        ids = [max(watch.sent)]
                        await _wait_for(watch, ids, 30)
                        baseline.append(watch.answered[ids[0]] - watch.sent[ids[0]])
                    baseline_s = statistics.median(baseline[1:])
                    burst_ids = []
                    started = time.perf_counter()
                    for n in range(args.messages):
                        server = n % SERVERS
                        _guild, channels, member = servers[server]
                        channel = channels[(n // SERVERS) % CHANNELS_PER_SERVER]
                        _send_voice(env, channel, member, f"g{server}-m{n}", watch, server)
                        burst_ids.append(max(watch.sent))
                        if args.stagger:
                            await asyncio.sleep(args.stagger)
                    # While the 4 servers are busy, a fifth server's one voice message.
                    await asyncio.sleep(args.latency)
                    _send_voice(env, quiet_channels[3], quiet_member, f"g{SERVERS}-quiet", watch, SERVERS)
                    quiet_id = max(watch.sent)
                    await _wait_for(watch, [*burst_ids, quiet_id], args.deadline)
                    all_done_s = time.perf_counter() - started
                env.errors  # noqa: B018 - acknowledged so leaving simcord does not raise
        finally:
            await bot.close()
    per_server: dict[int, list[float]] = {s: [] for s in range(SERVERS)}
    for message_id in burst_ids:
        if message_id in watch.answered:
            per_server[watch.server_of[message_id]].append(
                watch.answered[message_id] - watch.sent[message_id]
            )
    latencies = [v for values in per_server.values() for v in values]
    p99s = {s: _pct(v, 0.99) for s, v in per_server.items() if v}
    quiet_s = watch.answered[quiet_id] - watch.sent[quiet_id] if quiet_id in watch.answered else None
    return {
        "answered": len(latencies),
        "messages": args.messages,
        "servers": SERVERS,
        "latency_s": args.latency,
        "max_concurrent_per_server": max((watch.peak.get(s, 0) for s in range(SERVERS)), default=0),
        "concurrency_limit": CONCURRENCY_PER_SERVER,
        "p50_s": round(_pct(latencies, 0.5), 3) if latencies else None,
        "p99_s": round(_pct(latencies, 0.99), 3) if latencies else None,
        "per_server_p99_s": {str(s): round(v, 3) for s, v in p99s.items()},
        "fairness_ratio": round(max(p99s.values()) / min(p99s.values()), 3) if len(p99s) == SERVERS else None,
        "baseline_s": round(baseline_s, 3),
        "quiet_server_s": round(quiet_s, 3) if quiet_s is not None else None,
        "quiet_vs_baseline": round(quiet_s / baseline_s, 3) if quiet_s is not None else None,
        "all_done_s": round(all_done_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.2, help="fake API seconds per request (0.2)")
    parser.add_argument("--messages", type=int, default=200, help="voice messages in the burst (200)")
    parser.add_argument("--stagger", type=float, default=0.0, help="seconds between two messages (0)")
    parser.add_argument("--deadline", type=float, default=180.0, help="seconds to wait for all replies")
    args = parser.parse_args()
    os.chdir(REPO_ROOT)
    from tests.fakes.openai_server import FakeOpenAI, Fault

    with FakeOpenAI.threaded(api_key=API_KEY) as fake:
        fake.add_fault(Fault(path="/v1/audio/transcriptions", delay=args.latency, times=None))
        result = asyncio.run(_run(args, fake.base_url))
    ok = (
        result["answered"] == result["messages"]
        and result["max_concurrent_per_server"] <= result["concurrency_limit"]
        and result["fairness_ratio"] is not None
        and result["fairness_ratio"] <= TARGET_FAIRNESS
    )
    result["meets_targets"] = ok
    rows = [
        ("answered", f"{result['answered']} of {result['messages']}"),
        ("API latency (fixed)", f"{result['latency_s']:.3f} s"),
        (
            "max concurrent / server",
            f"{result['max_concurrent_per_server']} (limit {result['concurrency_limit']})",
        ),
        ("p50 / p99", f"{result['p50_s']} s / {result['p99_s']} s"),
        ("p99 per server", ", ".join(f"{k}: {v} s" for k, v in result["per_server_p99_s"].items())),
        ("fairness ratio", f"{result['fairness_ratio']} (target <= {TARGET_FAIRNESS})"),
        ("baseline (idle, 1 msg)", f"{result['baseline_s']} s"),
        ("quiet server in burst", f"{result['quiet_server_s']} s ({result['quiet_vs_baseline']}x baseline)"),
        ("all done", f"{result['all_done_s']} s"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(json.dumps(result, sort_keys=True))
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
