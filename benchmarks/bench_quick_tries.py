"""Quick tries: every built-in recipe with ``-n 3`` on the embedded model, as a new user would run it.

Each recipe runs as ``synthloom run NAME -n 3 -o TMP --fresh --quiet`` in its own subprocess (a fresh run
directory, so no cached responses), one after another, with a wall-clock timeout. For each it records the exit
code, wall seconds, CPU seconds of the run and everything it waited for (user + sys; unlike wall time this hardly
moves with the load other processes put on the machine), the load average before and after, the rows kept /
rejected / errors and the model requests and completion tokens per step (from ``run.json``). The target of
issue 16 is every recipe exiting 0 within 180 s on 2 cores.

    .venv/bin/python benchmarks/bench_quick_tries.py                        # every built-in recipe
    .venv/bin/python benchmarks/bench_quick_tries.py --only agent-instruct,orca-math
    .venv/bin/python benchmarks/bench_quick_tries.py --timeout 400 --keep   # keep the run directories
    .venv/bin/python benchmarks/bench_quick_tries.py --only demo -- --set models.default.n_threads=1

A run past ``--timeout`` gets SIGTERM (it stops cleanly and its ``run.json`` says what it did), SIGKILL 30 s later.

Results go to ``benchmarks/results/quick_tries.json`` (a run with ``--only`` updates those recipes' entries and
keeps the others) and a table is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "quick_tries.json"
TARGET_S = 180.0


def synthloom_command() -> list[str]:
    """The ``synthloom`` entry point of the interpreter running this script."""
    exe = Path(sys.executable).parent / "synthloom"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "synthloom.cli.main"]


def recipe_names() -> list[str]:
    """Every built-in recipe, in catalogue order."""
    from synthloom.recipes.build import builtin_catalogue

    return [entry["name"] for entry in builtin_catalogue()]


def run_one(name: str, n: int, timeout_s: float, workdir: Path, extra: list[str]) -> dict[str, Any]:
    """Run one recipe in a subprocess and return its measurements."""
    out = workdir / name
    cmd = [*synthloom_command(), "run", name, "-n", str(n), "-o", str(out), "--fresh", "--quiet", *extra]
    log_path = workdir / f"{name}.log"
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    with open(log_path, "wb") as log:
        pid = os.posix_spawn(cmd[0], cmd, os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, log.fileno(), 1), (os.POSIX_SPAWN_DUP2, log.fileno(), 2),
        ], setsid=True)
    timed_out = False
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.perf_counter() - start > timeout_s:
            timed_out = True
            _, status, usage = stop(pid)
            break
        time.sleep(0.2)
    wall = time.perf_counter() - start
    result: dict[str, Any] = {
        "recipe": name, "exit_code": os.waitstatus_to_exitcode(status), "timed_out": timed_out,
        "wall_s": round(wall, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
        "max_rss_mb": round(usage.ru_maxrss / 1024),
    }
    result.update(read_run_json(out / "run.json"))
    tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    result["last_line"] = tail[-1][:300] if tail else ""
    return result


def stop(pid: int, grace_s: float = 30.0) -> tuple[int, int, Any]:
    """SIGTERM (the run stops cleanly and writes ``run.json`` with what it did), then SIGKILL after ``grace_s``."""
    os.killpg(pid, signal.SIGTERM)
    deadline = time.perf_counter() + grace_s
    while time.perf_counter() < deadline:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return done, status, usage
        time.sleep(0.2)
    os.killpg(pid, signal.SIGKILL)
    return os.wait4(pid, 0)


def read_run_json(path: Path) -> dict[str, Any]:
    """Rows, status and model usage per step from a run's ``run.json`` (empty when there is none)."""
    if not path.exists():
        return {"status": None}
    info = json.loads(path.read_text(encoding="utf-8"))
    rows = info.get("rows") or {}
    usage = info.get("usage") or {}
    total = usage.get("total") or {}
    return {
        "status": info.get("status"),
        "engine_elapsed_s": info.get("elapsed_s"),
        "kept": rows.get("data", 0), "rejected": rows.get("rejected", 0), "errors": rows.get("errors", 0),
        "requests": total.get("requests", 0), "completion_tokens": total.get("completion_tokens", 0),
        "by_step": {s["step"]: {"requests": s["requests"], "completion_tokens": s["completion_tokens"]}
                    for s in usage.get("by_step") or []},
    }


def load_results(path: Path) -> dict[str, Any]:
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    return {"runs": {}}


def print_table(runs: list[dict[str, Any]]) -> None:
    print(f"\n{'recipe':<24}{'exit':>5}{'wall s':>8}{'cpu s':>8}{'load':>6}{'kept':>6}{'rej':>5}{'err':>5}{'reqs':>6}{'tokens':>8}")
    for r in runs:
        flag = "  TIMEOUT" if r["timed_out"] else ("  SLOW" if r["wall_s"] > TARGET_S else "")
        print(f"{r['recipe']:<24}{r['exit_code']:>5}{r['wall_s']:>8.1f}{r['cpu_s']:>8.1f}{r['load_before']:>6.1f}"
              f"{r.get('kept', 0):>6}{r.get('rejected', 0):>5}{r.get('errors', 0):>5}{r.get('requests', 0):>6}"
              f"{r.get('completion_tokens', 0):>8}{flag}")


def markdown_table(results: dict[str, Any]) -> str:
    """The results file as a markdown table (recipe, wall seconds, CPU seconds, exit code, kept rows, requests, load)."""
    lines = ["| recipe | seconds | CPU s | exit | kept | rejected | errors | requests | load |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in sorted(results["runs"]):
        r = results["runs"][name]
        flag = " (stopped)" if r["timed_out"] else ""
        lines.append(f"| {name} | {r['wall_s']:.0f}{flag} | {r['cpu_s']:.0f} | {r['exit_code']} | {r.get('kept', 0)} | "
                     f"{r.get('rejected', 0)} | {r.get('errors', 0)} | {r.get('requests', 0)} | {r['load_before']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated recipe names (default: every built-in recipe)")
    parser.add_argument("--skip", default="", help="comma-separated recipe names to leave out")
    parser.add_argument("-n", type=int, default=3, help="records per source (default 3)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a run is killed (default 600)")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"results JSON (default {RESULTS.relative_to(ROOT)})")
    parser.add_argument("--keep", action="store_true", help="keep the run directories and logs (printed at the end)")
    parser.add_argument("--markdown", action="store_true", help="print the results file as a markdown table and exit")
    parser.add_argument("extra", nargs="*", help="more arguments for `synthloom run` (after --)")
    args = parser.parse_args()
    if args.markdown:
        print(markdown_table(load_results(args.output)))
        return

    names = [s for s in args.only.split(",") if s] or recipe_names()
    unknown = sorted(set(names) - set(recipe_names()))
    if unknown:
        parser.error(f"--only: no built-in recipe named {', '.join(unknown)} (see `synthloom recipes`)")
    skip = {s for s in args.skip.split(",") if s}
    names = [n for n in names if n not in skip]

    results = load_results(args.output)
    results["command"] = "synthloom run NAME -n {} -o TMP --fresh --quiet {}".format(args.n, " ".join(args.extra)).strip()
    results["cpus"] = os.cpu_count()
    workdir = Path(tempfile.mkdtemp(prefix="quick_tries_"))
    done = []
    try:
        for name in names:
            r = run_one(name, args.n, args.timeout, workdir, args.extra)
            r["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            done.append(r)
            results["runs"][name] = r
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
            print(f"{name}: exit {r['exit_code']}{' (timeout)' if r['timed_out'] else ''}, {r['wall_s']} s wall, "
                  f"{r['cpu_s']} s cpu, load {r['load_before']}, kept {r.get('kept')}, requests {r.get('requests')}",
                  flush=True)
    finally:
        if args.keep:
            print(f"run directories and logs: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print_table(done)
    slow = [r["recipe"] for r in done if r["exit_code"] != 0 or r["wall_s"] > TARGET_S]
    print(f"\nover {TARGET_S:.0f} s or failed: {', '.join(slow) or 'none'}   (results: {args.output})")


if __name__ == "__main__":
    main()
