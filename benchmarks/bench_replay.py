"""Cache replay against a slow server: a `--fresh` rerun of a finished run, whole process, vs the first run.

One loopback fake OpenAI-compatible server with 0.25 s latency per reply. Each repeat runs
`synthloom run generate` over 10,000 distinct prompts with 64 in flight into a new OUTDIR (every request goes to
the server: ideal 256 req/s, about 39 s), then the same command with --fresh into the finished OUTDIR (journal
discarded, every answer from the response cache in OUTDIR/.state; the server must see no request). Both are timed
as whole processes (interpreter start-up included), with the replay's CPU time (user + system) beside its wall
time: on a loaded machine the CPU-bound replay waits for a core while the latency-bound first run does not. The
target (issue 17): replay wall time <= 1/20 of the first run's, i.e. a ratio first/replay >= 20, median of the
repeats.

    .venv/bin/python benchmarks/bench_replay.py                 # 3 repeats (about 2.5 minutes)
    .venv/bin/python benchmarks/bench_replay.py --requests 2000 --repeats 1

Writes benchmarks/results/replay.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR / "peers"))
sys.path.insert(0, str(BENCH_DIR))

from bench_io import LoopbackServer, write_prompts  # noqa: E402
from bench_throughput import REPO, Scenario, run_synthloom, synthloom_ready, synthloom_startup_s  # noqa: E402


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=10_000)
    p.add_argument("--latency", type=float, default=0.25)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--replays", type=int, default=1, help="--fresh replays after each first run")
    p.add_argument("--max-tokens", type=int, default=16)
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--output", type=Path, default=BENCH_DIR / "results" / "replay.json")
    args = p.parse_args()
    # a normal install has byte-compiled modules; without this, every process recompiles the files changed since
    # the last compile (this machine sets PYTHONDONTWRITEBYTECODE)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    problem = synthloom_ready()
    if problem:
        sys.exit(f"cannot run synthloom: {problem}")
    scenario = Scenario("replay", args.latency, args.concurrency, args.requests, 0, 0)
    work = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    runs: list[dict] = []
    try:
        prompts = write_prompts(work / "prompts.jsonl", args.requests)
        out_dir = work / "out"
        with LoopbackServer(REPO / ".venv" / "bin" / "python", args.latency) as server:
            for repeat in range(args.repeats):
                shutil.rmtree(out_dir, ignore_errors=True)
                server.reset_stats()
                load = os.getloadavg()[0]
                first = run_synthloom("synthloom", prompts, server.url, scenario, args.max_tokens, out_dir, args.timeout)
                asked = server.api_requests()
                if first.error or (asked is not None and asked < args.requests):
                    sys.exit(f"first run failed: {first.error or f'server answered {asked} requests'}")
                for _ in range(args.replays):
                    server.reset_stats()
                    cpu_before = cpu_of_children()
                    replay = run_synthloom("synthloom_replay", prompts, server.url, scenario, args.max_tokens, out_dir,
                                           args.timeout)
                    replay_cpu = cpu_of_children() - cpu_before
                    asked = server.api_requests()
                    if replay.error or asked:
                        sys.exit(f"replay failed: {replay.error or f'server answered {asked} requests'}")
                    ratio = first.wall_s / replay.wall_s
                    runs.append({"repeat": repeat, "first_wall_s": first.wall_s, "first_elapsed_s": first.seconds,
                                 "replay_wall_s": replay.wall_s, "replay_elapsed_s": replay.seconds,
                                 "replay_cpu_s": replay_cpu, "ratio_wall": ratio,
                                 "ratio_wall_to_replay_cpu": first.wall_s / replay_cpu, "load_avg_1m": round(load, 2)})
                    print(f"[{repeat + 1}/{args.repeats}] first {first.wall_s:6.2f} s (run {first.seconds:.2f} s)  "
                          f"replay {replay.wall_s:5.2f} s (run {replay.seconds:.2f} s, CPU {replay_cpu:.2f} s)  "
                          f"first/replay {ratio:5.1f}x  "
                          f"load {load:.2f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    startup = synthloom_startup_s()
    summary = {
        "requests": args.requests, "latency_s": args.latency, "concurrency": args.concurrency,
        "median_first_wall_s": statistics.median(r["first_wall_s"] for r in runs),
        "median_replay_wall_s": statistics.median(r["replay_wall_s"] for r in runs),
        "median_replay_elapsed_s": statistics.median(r["replay_elapsed_s"] for r in runs),
        "median_ratio_wall": statistics.median(r["ratio_wall"] for r in runs),
        "median_replay_cpu_s": statistics.median(r["replay_cpu_s"] for r in runs),
        "median_ratio_wall_to_replay_cpu": statistics.median(r["ratio_wall_to_replay_cpu"] for r in runs),
        "cli_import_s": startup, "target_ratio": 20, "runs": runs,
    }
    summary["met"] = summary["median_ratio_wall"] >= 20
    print(f"median first/replay {summary['median_ratio_wall']:.1f}x (target >= 20x: "
          f"{'met' if summary['met'] else 'NOT met'}); replay {summary['median_replay_wall_s']:.2f} s wall, "
          f"{summary['median_replay_elapsed_s']:.2f} s run, {summary['median_replay_cpu_s']:.2f} s CPU "
          f"(first wall / replay CPU {summary['median_ratio_wall_to_replay_cpu']:.1f}x); CLI import {startup:.2f} s")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
