"""Tabular generators side by side: MALLM-GAN (on the embedded model unless ``--model``), the Gaussian copula
and CART, on bundled scikit-learn datasets, each run as a user runs it (``synthloom run RECIPE``) and evaluated
against the real rows it never saw (``synthloom.tabular.evaluate``).

For every dataset, repeat and generator (round-robin, so a change in machine load hits all alike) it runs the
built-in recipe in-process into a fresh run directory (no cached responses) with ``real=sklearn:DATASET``,
``rows``, ``seed=REPEAT`` and records the run's elapsed seconds (``run.json``: the generator and validation,
not the evaluation), the process CPU seconds (all threads, llama.cpp's included; unlike wall time they hardly
move with the load other processes put on the machine), the 1-minute load average before the run, the rows
kept and rejected, and the evaluation of the kept rows against the run's ``tables/train.parquet`` and
``tables/holdout.parquet``: TSTR and TRTR (macro F1 of a random forest on the holdout), C2ST AUC, median DCR
(synthetic → train) and its ratio to the holdout's, exact copies of training rows, membership-inference AUC.
Times are medians over the repeats, CPU time also as a ratio to the Gaussian copula's on the same dataset;
quality numbers are medians over the repeats.

    .venv/bin/python benchmarks/bench_tabular.py                              # iris and wine, 3 repeats
    .venv/bin/python benchmarks/bench_tabular.py --datasets iris --repeats 1 --generators copula,cart
    .venv/bin/python benchmarks/bench_tabular.py --markdown                   # the results file as a table

Results: ``benchmarks/results/tabular.json`` (every run, the medians, the load average before each run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "tabular.json"
RECIPES = {"mallm-gan": "mallm-gan", "copula": "table-copula", "cart": "table-cart"}
REFERENCE = "copula"
METRICS = ("tstr", "trtr", "c2st_auc", "dcr_synthetic_median", "dcr_ratio", "exact_copies_share", "membership_auc")


def run_generator(generator: str, dataset: str, rows: int, seed: int, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One recipe run and the evaluation of its rows."""
    from typer.testing import CliRunner

    from synthloom.cli.main import app
    from synthloom.tabular.evaluate.evaluation import evaluate_table
    from synthloom.tabular.evaluate.inputs import resolve_inputs

    out = workdir / f"{generator}-{dataset}-{seed}"
    cli = ["run", RECIPES[generator], "-o", str(out), "--fresh", "--quiet", "--set", f"real=sklearn:{dataset}",
           "--set", f"rows={rows}", "--set", f"seed={seed}"]
    if generator == "mallm-gan":
        cli += ["--set", f"rounds={args.rounds}", "--set", f"rows_per_round={args.rows_per_round}",
                "--set", f"few_shot={args.few_shot}"]
        if args.model:
            cli += ["--model", args.model]
    load = os.getloadavg()[0]
    cpu, wall = time.process_time(), time.perf_counter()
    result = CliRunner().invoke(app, cli)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if result.exit_code != 0:
        return {"generator": generator, "dataset": dataset, "seed": seed, "error": result.output[-500:], "load_before": load}
    run = json.loads((out / "run.json").read_text())
    tables = resolve_inputs(str(out), str(out))
    row = {"generator": generator, "dataset": dataset, "seed": seed, "load_before": load, "elapsed_s": run["elapsed_s"],
           "wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "kept": run["rows"]["data"], "rejected": run["rows"]["rejected"]}
    if len(tables.synth):
        summary = evaluate_table(tables.real, tables.synth, holdout=tables.holdout, target=tables.target)["summary"]
        row.update({k: summary.get(k) for k in METRICS})
    if generator == "mallm-gan":
        rounds = json.loads((out / "mallm_gan" / "synthesize" / "rounds.json").read_text())
        row["rounds"] = [{"round": r["round"], "accuracy": r["accuracy"], "valid": r["valid"], "invalid": r["invalid"]}
                         for r in rounds["rounds"]]
    return row


def medians(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per (dataset, generator): median time and quality over the runs, and the time ratio to the reference."""
    out: dict[str, dict[str, Any]] = {}
    for run in runs:
        if "error" in run:
            continue
        key = f"{run['dataset']}/{run['generator']}"
        out.setdefault(key, {"dataset": run["dataset"], "generator": run["generator"], "runs": []})["runs"].append(run)
    for entry in out.values():
        rs = entry.pop("runs")
        entry["repeats"] = len(rs)
        for field in ("elapsed_s", "cpu_s", "kept", "rejected", "load_before", *METRICS):
            values = [r[field] for r in rs if r.get(field) is not None]
            entry[field] = statistics.median(values) if values else None
    for entry in out.values():
        ref = out.get(f"{entry['dataset']}/{REFERENCE}")
        entry["time_vs_copula"] = (entry["elapsed_s"] / ref["elapsed_s"]) if ref and ref["elapsed_s"] else None
        entry["cpu_vs_copula"] = (entry["cpu_s"] / ref["cpu_s"]) if ref and ref["cpu_s"] else None
    return out


def markdown(doc: dict[str, Any]) -> str:
    """The side-by-side table of a results document."""
    lines = ["| dataset | generator | rows kept / rejected | TSTR F1 (TRTR) | C2ST AUC | DCR median (ratio to holdout) | "
             "exact copies | membership AUC | run s | CPU s (× copula) | load |", "|---|---|---|---|---|---|---|---|---|---|---|"]

    def f(v: Any, digits: int = 3) -> str:
        return "—" if v is None else f"{v:.{digits}f}"

    for e in doc["medians"].values():
        lines.append(f"| {e['dataset']} | {e['generator']} | {f(e['kept'], 0)} / {f(e['rejected'], 0)} | {f(e['tstr'])} ({f(e['trtr'])}) | "
                     f"{f(e['c2st_auc'])} | {f(e['dcr_synthetic_median'])} ({f(e['dcr_ratio'], 2)}) | "
                     f"{f(100 * e['exact_copies_share'] if e['exact_copies_share'] is not None else None, 1)}% | "
                     f"{f(e['membership_auc'])} | {f(e['elapsed_s'], 1)} | {f(e['cpu_s'], 1)} ({f(e['cpu_vs_copula'], 1)}×) | "
                     f"{f(e['load_before'], 1)} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="iris,wine")
    parser.add_argument("--generators", default="copula,cart,mallm-gan")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=60, help="rows per copula / CART run")
    parser.add_argument("--mallm-rows", type=int, default=30, help="rows per MALLM-GAN run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rows-per-round", type=int, default=10)
    parser.add_argument("--few-shot", type=int, default=5)
    parser.add_argument("--model", default=None, help="model spec for MALLM-GAN (default: the embedded model)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="results file (JSON)")
    parser.add_argument("--merge", nargs="*", type=Path, default=[], help="with --markdown: also list the runs of these results files")
    parser.add_argument("--markdown", action="store_true", help="print the table of the results file and exit")
    args = parser.parse_args(argv)
    if args.markdown:
        runs = [r for path in [args.output, *args.merge] for r in json.loads(path.read_text())["runs"]]
        print(markdown({"medians": medians(runs)}))
        return 0
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-tabular-") as tmp:
        for repeat in range(args.repeats):
            for dataset in args.datasets.split(","):
                for generator in args.generators.split(","):
                    rows = args.mallm_rows if generator == "mallm-gan" else args.rows
                    run = run_generator(generator, dataset, rows, repeat, Path(tmp), args)
                    runs.append(run)
                    print(json.dumps({k: v for k, v in run.items() if k != "rounds"}), flush=True)
    doc = {"command": "benchmarks/bench_tabular.py " + " ".join(argv), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "cpus": os.cpu_count(), "settings": vars(args), "runs": runs, "medians": medians(runs)}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(doc, indent=1, default=str))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
