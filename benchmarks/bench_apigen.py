"""End-to-end APIGen rows per second (issue "Agentic data I"): the built-in ``apigen`` recipe run by the engine
(``synthloom run apigen``) — sampling, generation, the format check, execution of every call in the sandbox, the
semantic check and the final answer — with the model's side made free, so what is measured is synthloom's own
cost per row: prompts, schemas, parsing, the checks, the sandbox runs, the engine, the run directory.

Two scenarios, both against the loopback test server (``synthloom.testing.fake_server``):

* ``scripted``: a scripted model (``synthloom.testing.scripted``, the engine's ``openai`` backend swapped for a
  reply function, as the golden recipe tests do; the server only answers the pre-flight check) that writes a
  valid query and calls for the offered tools, passes the semantic check and writes an answer, so every row goes
  through every stage. The tools are a small numeric tools file (written by this script), all four forms.
* ``http``: the real ``openai`` backend over HTTP to the fake server, whose schema-constrained replies are minimal
  schema instances (one call with the required arguments, ``passes: false``): rows go through generation, format
  and execution and end at the semantic check.

    .venv/bin/python benchmarks/bench_apigen.py [--rows 400] [--concurrency 32] [--repeats 3]

Writes benchmarks/results/bench_apigen.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig
from synthloom.testing.recipe_runs import run_recipe
from synthloom.testing.scripted import install_scripted_backend, user_text

TOOLS = '''"""Numeric tools for the APIGen benchmark."""
from typing import Literal

CATEGORY = "bench"


def scale(value: float, factor: float = 2.0) -> float:
    """Multiply a value.

    Args:
        value: the value.
        factor: the factor.

    Returns:
        The product.
    """
    return value * factor


def power(base: float, exponent: int = 2) -> float:
    """Raise to a power.

    Args:
        base: the base.
        exponent: the exponent.

    Returns:
        The power.
    """
    return base ** exponent


def total(values: list[float]) -> float:
    """Add numbers.

    Args:
        values: the numbers.

    Returns:
        The sum.
    """
    return sum(values)


def convert(value: float, unit: Literal["m", "km", "mile"] = "m") -> float:
    """Convert a length to metres.

    Args:
        value: the length.
        unit: its unit.

    Returns:
        Metres.
    """
    return value * {"m": 1.0, "km": 1000.0, "mile": 1609.344}[unit]
'''


def value_for(schema: dict, i: int) -> object:
    if schema.get("enum"):
        return schema["enum"][i % len(schema["enum"])]
    kind = schema.get("type")
    if kind == "array":
        return [i + 1, i + 2, i + 3]
    if kind == "integer":
        return i + 2
    if kind == "string":
        return f"text {i}"
    return float(i + 3)


def scripted_reply(req):
    """Generator: valid calls of the offered tools for the asked form. Checker: passes. Answer: a sentence."""
    text = user_text(req)
    if req.json_schema and req.json_schema.get("type") == "array":
        functions = [json.loads(line) for line in text.splitlines() if line.startswith('{"name": ')]
        answers_schema = req.json_schema["items"]["properties"]["answers"]
        count = answers_schema["minItems"]
        picked = [functions[0]] * count if len(functions) == 1 else [functions[j % len(functions)] for j in range(max(count, 1))]
        if answers_schema["maxItems"] == 1:
            picked = picked[:1]
        calls = [{"name": f["name"], "arguments": {k: value_for(p, j) for k, p in f["parameters"]["properties"].items()}}
                 for j, f in enumerate(picked)]
        return json.dumps([{"query": f"Please work out {', '.join(c['name'] for c in calls)}.", "answers": calls}])
    if req.json_schema:
        return json.dumps({"thought": "", "passes": True})
    return "Here are your results."


def one_run(scenario: str, server: FakeOpenAIServer, tools_file: str, rows: int, concurrency: int, out: Path) -> dict:
    class _Patch:
        def setitem(self, d, k, v):
            d[k] = v

    spec = install_scripted_backend(_Patch(), scripted_reply, server.url) if scenario == "scripted" else f"openai:fake@{server.url}"
    t = time.perf_counter()
    run = run_recipe("apigen", out, f"n={rows}", f"concurrency={concurrency}", f"tools_file={tools_file}",
                     extra_cli_args=("--model", spec, "--no-cache"))
    elapsed = time.perf_counter() - t
    c = run["counts"]
    kept = run["rows"]["data"]
    return {"scenario": scenario, "elapsed_s": elapsed, "rows_generated": c["generate"]["out"],
            "rows_executed": c["execution"]["in"], "rows_checked": c["semantics"]["in"], "rows_kept": kept,
            "generated_rows_per_s": c["generate"]["out"] / elapsed, "kept_rows_per_s": kept / elapsed,
            "counts": {s: [v["in"], v["ok"], v["rejected"], v["errors"]] for s, v in c.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=400, help="examples sampled (one prompt, one query each)")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--scenarios", default="scripted,http")
    args = ap.parse_args()
    from synthloom.llm import client

    backend = client.BACKEND_CLASSES["openai"]
    results = []
    with FakeOpenAIServer(FakeServerConfig()) as server, tempfile.TemporaryDirectory() as tmp:
        tools_file = Path(tmp) / "bench_tools.py"
        tools_file.write_text(TOOLS)
        for r in range(args.repeats):
            for scenario in args.scenarios.split(","):
                client.BACKEND_CLASSES["openai"] = backend
                row = one_run(scenario, server, str(tools_file), args.rows, args.concurrency, Path(tmp) / f"{scenario}-{r}")
                row["repeat"] = r + 1
                results.append(row)
                print(f"repeat {r + 1} {scenario}: {row['rows_generated']} rows in {row['elapsed_s']:.1f} s = "
                      f"{row['generated_rows_per_s']:.1f} rows/s generated and checked, {row['kept_rows_per_s']:.1f} kept rows/s; "
                      f"counts {row['counts']}", flush=True)
    medians = {s: {k: statistics.median(x[k] for x in results if x["scenario"] == s)
                   for k in ("elapsed_s", "generated_rows_per_s", "kept_rows_per_s")}
               for s in args.scenarios.split(",")}
    print("median: " + json.dumps(medians))
    out = Path(__file__).resolve().parent / "results" / "bench_apigen.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                           "load_before": os.getloadavg()},
                               "rows": args.rows, "concurrency": args.concurrency, "runs": results, "median": medians}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
