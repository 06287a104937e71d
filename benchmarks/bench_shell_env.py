"""Shell environment (issue "Agentic data III", item 2): shell actions per second through the environment vs the raw
sandbox running the same command, in the same process.

* **Environment** — one action is what the shell agent does per turn: ``session.run(command)`` on a live episode
  (one sandbox run through the ``ToolExecutor``: unpack the work dir, run the command with bash, kill its processes,
  pack the work dir back through the hidden dump calls) plus ``format_run`` (the observation). ``--sessions`` episodes
  act concurrently, ``--steps`` commands each.
* **Raw sandbox** — the same commands, each as one ``SandboxPool.run`` of a Python snippet that runs it with
  ``bash -c`` in the jail's work dir holding the same files (shipped with ``files=``, nothing carried between runs),
  with the same number of runs in flight and warm workers.

The ratio environment / raw is the price of the environment's state carrying and trusted per-call results.

    .venv/bin/python benchmarks/bench_shell_env.py [--steps 30] [--sessions 2] [--repeats 3]

Writes benchmarks/results/bench_shell_env.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from synthloom.envs.shell import ShellEnvironment, format_run
from synthloom.sandbox import SandboxPool
from synthloom.tools.executor import ToolExecutor

FILES = {"logs/app.log": "".join(f"{'ERROR' if i % 7 == 0 else 'INFO'} event {i}\n" for i in range(200)),
         "access.log": "".join(f"10.0.0.{i % 13} GET /page/{i % 5}\n" for i in range(300)),
         "sales.csv": "region,amount\n" + "".join(f"{r},{i}\n" for i, r in enumerate(["north", "south", "east"] * 20))}
TASK = {"instruction": "benchmark", "setup": {"files": FILES, "script": ""}, "solution": "true", "checker": "true"}
COMMANDS = ["grep -c ERROR logs/app.log", "cut -d' ' -f1 access.log | sort | uniq -c | sort -rn | head -3",
            "tail -n +2 sales.csv | awk -F, '{s[$1]+=$2} END {for (r in s) print r, s[r]}' | sort",
            "mkdir -p out && sed 's/INFO/info/' logs/app.log > out/app.log && wc -l out/app.log",
            "tar -czf logs.tgz logs && tar -tzf logs.tgz", "ls -la; wc -c access.log sales.csv"]
RAW_SNIPPET = """import subprocess, sys
p = subprocess.run(["/bin/bash", "-c", {command!r}], capture_output=True, stdin=subprocess.DEVNULL, timeout=3)
sys.stdout.write(p.stdout.decode("utf-8", "replace")[:4000])
sys.exit(p.returncode)
"""


async def env_actions(executor: ToolExecutor, sessions: int, steps: int) -> dict:
    env = ShellEnvironment()
    codes: dict[str, int] = {}

    async def one(s: int) -> None:
        session = await env.open(dict(TASK), executor)
        for i in range(steps):
            run = await session.run(COMMANDS[(s + i) % len(COMMANDS)])
            format_run(run)
            codes[str(run.get("exit_code"))] = codes.get(str(run.get("exit_code")), 0) + 1

    t = time.perf_counter()
    await asyncio.gather(*(one(s) for s in range(sessions)))
    elapsed = time.perf_counter() - t  # includes each episode's setup run (sessions of them)
    return {"actions": sessions * steps, "elapsed_s": elapsed, "actions_per_s": sessions * steps / elapsed, "exit_codes": codes}


def raw_actions(pool: SandboxPool, sessions: int, steps: int) -> dict:
    statuses: dict[str, int] = {}

    def one(s: int) -> None:
        for i in range(steps):
            result = pool.run(RAW_SNIPPET.format(command=COMMANDS[(s + i) % len(COMMANDS)]), files=FILES)
            statuses[result.status] = statuses.get(result.status, 0) + 1

    t = time.perf_counter()
    with ThreadPoolExecutor(sessions) as threads:
        list(threads.map(one, range(sessions)))
    elapsed = time.perf_counter() - t
    return {"actions": sessions * steps, "elapsed_s": elapsed, "actions_per_s": sessions * steps / elapsed, "statuses": statuses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--sessions", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    load = os.getloadavg()
    runs = []
    with ToolExecutor(workers=args.sessions, timeout=10.0) as executor, \
            SandboxPool(args.sessions, timeout=10.0) as pool:
        asyncio.run(env_actions(executor, args.sessions, 2))  # warm both: jails started, modules compiled
        raw_actions(pool, args.sessions, 2)
        for r in range(args.repeats):
            env = asyncio.run(env_actions(executor, args.sessions, args.steps))
            raw = raw_actions(pool, args.sessions, args.steps)
            runs.append({"env": env, "raw": raw, "ratio": env["actions_per_s"] / raw["actions_per_s"]})
            print(f"run {r + 1}: environment {env['actions_per_s']:.1f} actions/s, raw sandbox {raw['actions_per_s']:.1f} runs/s, "
                  f"ratio {runs[-1]['ratio']:.2f}  (exit codes {env['exit_codes']}, raw {raw['statuses']})", flush=True)
    summary = {"env_actions_per_s": statistics.median(r["env"]["actions_per_s"] for r in runs),
               "raw_runs_per_s": statistics.median(r["raw"]["actions_per_s"] for r in runs),
               "ratio": statistics.median(r["ratio"] for r in runs)}
    print(f"median: environment {summary['env_actions_per_s']:.1f} actions/s, raw {summary['raw_runs_per_s']:.1f} runs/s, "
          f"ratio {summary['ratio']:.2f}")
    out = Path(__file__).parent / "results" / "bench_shell_env.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "load_avg_start": load, "machine": platform.machine(),
                               "cpus": os.cpu_count(), "runs": runs, "median": summary}, indent=1))


if __name__ == "__main__":
    main()
