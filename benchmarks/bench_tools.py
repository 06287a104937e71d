"""Executed tool calls per second through the sandbox (issue "Agentic data I"): real calls of the
bundled catalogue (arithmetic, units, finance, dates, text, statistics, geography tables, SQL over the
bundled databases, hashing, geometry) through ``ToolExecutor``'s warm workers, against two references
measured in the same run:

* one fresh ``python -I -c`` subprocess per call that loads the tool's module file and calls it (what a
  simple pipeline that "executes" calls out of process does; an address-space rlimit only, NOT isolated),
* the same calls made in this process (the ceiling: no isolation at all).

Two workloads (one call per run, and APIGen's row mix: one run per generated row, its 1-4 calls together), each
through ``ToolExecutor.arun`` as a step makes them (64 runs awaiting), with one jail row per run (``pack=1``: what
a stateful or user tool gets) and with the catalogue's stateless runs packed up to ``--pack`` per row (the default).

    .venv/bin/python benchmarks/bench_tools.py [--calls 1200] [--workers 4] [--repeats 3]

Target: >= 200 executed tool calls/s on 2 cores with warm workers. Writes
benchmarks/results/bench_tools.json.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from synthloom.tools import Invocation, ToolExecutor, call_problem, load_catalogue

CALLS = [
    ("add_numbers", {"numbers": [1.5, 2, 3.25]}),
    ("convert_length", {"value": 12, "from_unit": "mile", "to_unit": "kilometer"}),
    ("compound_interest", {"principal": 1000, "annual_rate_percent": 5, "years": 10, "compounding": "monthly"}),
    ("days_between", {"start_date": "2024-01-01", "end_date": "2024-12-25"}),
    ("convert_timezone", {"local_datetime": "2024-07-01T09:30", "from_zone": "Europe/Paris", "to_zone": "Asia/Tokyo"}),
    ("word_count", {"text": "The quick brown fox jumps over the lazy dog."}),
    ("slugify", {"text": "Hello, World: Tool Calls!"}),
    ("mean", {"values": [3, 5, 8, 13, 21]}),
    ("country_info", {"country": "Japan"}),
    ("distance_between_capitals", {"country_a": "France", "country_b": "Germany", "unit": "km"}),
    ("element_info", {"element": "Fe"}),
    ("run_sql_query", {"database": "bookstore", "query": "SELECT COUNT(*) AS n FROM books"}),
    ("hash_text", {"text": "synthloom", "algorithm": "sha256"}),
    ("polygon_area", {"xs": [0, 4, 4, 0], "ys": [0, 0, 3, 3]}),
    ("loan_payment", {"principal": 250000, "annual_rate_percent": 4.5, "years": 30}),
    ("levenshtein_distance", {"first": "kitten", "second": "sitting"}),
    ("is_prime", {"n": 1000003}),
    ("currency_convert", {"amount": 100, "from_currency": "USD", "to_currency": "EUR"}),
]
#: calls per generated row in APIGen's mix of forms (simple, multiple, parallel, parallel-multiple)
ROW_SIZES = [1, 1, 2, 3, 1, 1, 4, 2]


def workload(n: int) -> list[tuple[str, dict]]:
    return [CALLS[i % len(CALLS)] for i in range(n)]


def in_process(calls: list[tuple[str, dict]]) -> float:
    cat = load_catalogue()
    fns = {}
    for name, _ in CALLS:
        tool = cat.get(name)
        module = importlib.import_module(f"synthloom.tools.catalogue.{tool.module.name}")
        fns[name] = getattr(module, tool.entry)
    t = time.perf_counter()
    for name, args in calls:
        fns[name](**args)
    return len(calls) / (time.perf_counter() - t)


def subprocess_per_call(calls: list[tuple[str, dict]], threads: int) -> float:
    cat = load_catalogue()
    src = str(Path(__file__).resolve().parents[1] / "src")

    def one(item: tuple[str, dict]) -> None:
        name, args = item
        tool = cat.get(name)
        path = Path(src) / "synthloom" / "tools" / "catalogue" / f"{tool.module.name}.py"
        code = ("import importlib.util, json, resource, sys\n"
                "resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))\n"
                f"spec = importlib.util.spec_from_file_location({tool.module.name!r}, {str(path)!r})\n"
                "m = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(m)\n"
                f"print(json.dumps(m.{tool.entry}(**json.loads(sys.argv[1]))))")
        subprocess.run([sys.executable, "-I", "-c", code, json.dumps(args)], check=True, capture_output=True, timeout=30)

    t = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, calls))
    return len(calls) / (time.perf_counter() - t)


def through_executor(ex: ToolExecutor, calls: list[tuple[str, dict]], sizes: list[int], in_flight: int) -> tuple[float, int]:
    """Calls grouped into runs (``sizes`` calls per run, cycling) made through ``ToolExecutor.arun`` with
    ``in_flight`` runs awaiting at once, as a pipeline step makes them; calls/s and the number of runs."""
    cat = load_catalogue()
    runs, i = [], 0
    while i < len(calls):
        size = sizes[len(runs) % len(sizes)]
        runs.append(calls[i: i + size])
        i += size

    async def go() -> int:
        gate = asyncio.Semaphore(in_flight)

        async def one(run: list[tuple[str, dict]]) -> int:
            async with gate:
                tools = [cat.get(name) for name, _ in run]
                results = await ex.arun(tools, [Invocation(f"c{j}", name, args) for j, (name, args) in enumerate(run)])
            bad = [r for r in results if not r.ok]
            if bad:
                raise RuntimeError(f"a benchmark call failed after {ex.runs} runs: {bad[0]} in run {[n for n, _ in run]}")
            return len(results)

        return sum(await asyncio.gather(*(one(r) for r in runs)))

    t = time.perf_counter()
    done = asyncio.run(go())
    return done / (time.perf_counter() - t), len(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=1200)
    ap.add_argument("--workers", type=int, default=4, help="warm sandbox workers")
    ap.add_argument("--pack", type=int, default=16, help="stateless runs packed into one jail row")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--subprocess-calls", type=int, default=300, help="calls for the subprocess reference (slow)")
    args = ap.parse_args()
    cat = load_catalogue()
    for name, arguments in CALLS:
        problem = call_problem({"name": name, "arguments": arguments}, cat.mapping())
        if problem:
            raise SystemExit(f"benchmark workload out of date: {problem}")
    calls = workload(args.calls)
    rows = []
    with ToolExecutor(timeout=10.0, workers=args.workers, pack=1) as alone, \
            ToolExecutor(timeout=10.0, workers=args.workers, pack=args.pack) as packed:
        through_executor(alone, calls[:100], [1], 64)  # warm the workers
        through_executor(packed, calls[:100], [1], 64)
        for r in range(args.repeats):
            single, _ = through_executor(alone, calls, [1], 64)
            mixed, n_runs = through_executor(alone, calls, ROW_SIZES, 64)
            packed_single, _ = through_executor(packed, calls, [1], 64)
            packed_mixed, _ = through_executor(packed, calls, ROW_SIZES, 64)
            sub = subprocess_per_call(workload(args.subprocess_calls), args.workers)
            local = in_process(calls)
            row = {"repeat": r + 1, "row_per_run_one_call": single, "row_per_run_apigen_mix": mixed,
                   "packed_one_call": packed_single, "packed_apigen_mix": packed_mixed,
                   "apigen_rows_per_s_packed": packed_mixed * n_runs / len(calls), "subprocess_per_call": sub,
                   "in_process": local, "ratio_packed_mix_vs_subprocess": packed_mixed / sub,
                   "ratio_row_per_run_one_call_vs_subprocess": single / sub}
            rows.append(row)
            print(f"repeat {r + 1}: one row per run: {single:.1f} calls/s (1 call), {mixed:.1f} (APIGen mix); "
                  f"packed stateless runs: {packed_single:.1f} calls/s (1 call), {packed_mixed:.1f} (APIGen mix, "
                  f"{row['apigen_rows_per_s_packed']:.1f} rows/s); subprocess per call {sub:.1f}/s; in process {local:.0f}/s",
                  flush=True)
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "repeat"}
    print("median: " + ", ".join(f"{k} {v:.1f}" for k, v in med.items()))
    out = Path(__file__).resolve().parent / "results" / "bench_tools.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                           "load_before": os.getloadavg()},
                               "calls": args.calls, "workers": args.workers, "runs": rows, "median": med}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
