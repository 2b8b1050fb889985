"""Benchmark: validating a 50 MB JSONL file of chat examples before a fine-tuning upload.
Claim: lines_per_s >= 50,000 and peak_rss_mb <= 100 above idle (streamed, never loaded whole)."""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_LINES_PER_S = 50_000
TARGET_PEAK_RSS_MB = 100.0
BATCH = 10_000  # lines per timed batch (the p99 is over batches)


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def write_sample(path: Path, size_mb: float, seed: int = 7) -> int:
    """A JSONL file of chat examples of varied length, about `size_mb` MB; returns its line count."""
    rng = random.Random(seed)
    words = ["the", "ship", "sails", "north", "at", "dawn", "while", "crew", "sing", "of", "old", "storms"]
    target = int(size_mb * 1024 * 1024)
    written = lines = 0
    with path.open("wb") as out:
        while written < target:
            question = " ".join(rng.choices(words, k=rng.randint(5, 40)))
            answer = " ".join(rng.choices(words, k=rng.randint(10, 120)))
            example = {
                "messages": [
                    {"role": "system", "content": "You are a ship's captain."},
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": answer},
                ]
            }
            data = json.dumps(example).encode() + b"\n"
            out.write(data)
            written += len(data)
            lines += 1
    return lines


def child(mode: str, path: str) -> dict[str, Any]:
    """Run one measurement in this (fresh) process and return its figures."""
    from cogs.finetune.validate import validate_bytes, validate_lines

    # Reset the peak (VmHWM) to the current RSS, so the peak measured is this mode's, not the imports'.
    Path("/proc/self/clear_refs").write_text("5")
    idle = _status_mb("VmRSS")
    batch_seconds: list[float] = []
    start = time.perf_counter()
    if mode == "streamed":

        def timed(handle: Any) -> Any:
            # Batches of lines, timed between batches, so the timing costs little per line.
            mark = time.perf_counter()
            while chunk := list(itertools.islice(handle, BATCH)):
                yield from chunk
                now = time.perf_counter()
                batch_seconds.append(now - mark)
                mark = now

        with open(path, "rb") as handle:
            report = validate_lines(timed(handle))
        lines, ok = report.examples + len(report.problems), report.ok
    elif mode == "loaded_whole":
        report = validate_bytes(Path(path).read_bytes())
        lines, ok = report.examples + len(report.problems), report.ok
    else:  # json_only: parsing each line and nothing else, the floor any validator pays
        lines, ok = 0, True
        with open(path, "rb") as handle:
            for line in handle:
                json.loads(line)
                lines += 1
    elapsed = time.perf_counter() - start
    return {
        "mode": mode,
        "lines": lines,
        "ok": ok,
        "seconds": elapsed,
        "lines_per_s": lines / elapsed,
        "peak_rss_mb": _status_mb("VmHWM") - idle,
        "batch_seconds": batch_seconds,
    }


def _run_child(mode: str, path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)], check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=float, default=50.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.jsonl"
        total_lines = write_sample(path, args.size_mb)
        runs: dict[str, list[dict[str, Any]]] = {"streamed": [], "loaded_whole": [], "json_only": []}
        for _ in range(args.runs):
            for mode in runs:
                runs[mode].append(_run_child(mode, path))

    def med(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[mode])

    streamed_batches = [1 / s * BATCH for r in runs["streamed"] for s in r["batch_seconds"] if s > 0]
    result = {
        "bench": "finetune_validate",
        "file_mb": args.size_mb,
        "lines": total_lines,
        "runs": args.runs,
        "lines_per_s": round(med("streamed", "lines_per_s")),
        "lines_per_s_p1_batch": round(_pct(streamed_batches, 1)),
        "peak_rss_mb": round(med("streamed", "peak_rss_mb"), 1),
        "baseline_json_only_lines_per_s": round(med("json_only", "lines_per_s")),
        "baseline_loaded_whole_peak_rss_mb": round(med("loaded_whole", "peak_rss_mb"), 1),
        "speed_vs_json_only": round(med("streamed", "lines_per_s") / med("json_only", "lines_per_s"), 3),
        "rss_vs_loaded_whole": round(med("streamed", "peak_rss_mb") / med("loaded_whole", "peak_rss_mb"), 3),
        "all_valid": all(r["ok"] for r in runs["streamed"]),
        "meets_lines_per_s": med("streamed", "lines_per_s") >= TARGET_LINES_PER_S,
        "meets_peak_rss_mb": med("streamed", "peak_rss_mb") <= TARGET_PEAK_RSS_MB,
    }
    print(f"{'mode':<14} {'lines/s (median)':>18} {'peak RSS above idle MB (median)':>33}")
    for mode in runs:
        print(f"{mode:<14} {med(mode, 'lines_per_s'):>18,.0f} {med(mode, 'peak_rss_mb'):>33.1f}")
    print(f"slowest 1% of {BATCH:,}-line batches (streamed): {result['lines_per_s_p1_batch']:,} lines/s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
