"""Streaming-memory benchmark: N records through source -> LLM map -> filter -> dataset, in bounded memory.

Each run streams ``--records`` generated records (``{"prompt": "item <i>"}``, or the same rows from a JSONL file
with ``--source file``) through an LLM map step answered by the loopback fake OpenAI server (zero latency, its own
process) and a filter that rejects every prompt containing a ``7`` (46.9 % of 0..999,999), into Parquet shards on
disk. The pipeline runs in a child process of its own, so its peak RSS is the engine's alone (the server is a
separate process and is not counted). Reported per run: records/s (by the run's own ``elapsed_s`` and by the child's
wall clock), peak RSS (the child's ``ru_maxrss``), RSS sampled along the run (to show it does not grow with the
records done), rows out/rejected/errors, and an accounting check:

  * every step: rows in = ok + rejected + errors, and the source/LLM/filter chain hands on exactly what it keeps;
  * the filter rejects exactly the records whose prompt contains a ``7`` (computed independently here);
  * the Parquet rows on disk (data/ and rejected/) equal what the run reported.

    .venv/bin/python benchmarks/bench_stream.py                               # 1,000,000 records, cache on
    .venv/bin/python benchmarks/bench_stream.py --records 100000,1000000 --modes cache,no-cache
    .venv/bin/python benchmarks/bench_stream.py --records 20000 --modes cache,rerun   # quick; rerun = all cache hits
    .venv/bin/python benchmarks/bench_stream.py --engines local,ray --repeats 3        # the Ray engine's overhead

With ``--engines local,ray`` every run is made once per engine (interleaved within each of ``--repeats``) and the
report ends with the median records/s of each and their ratio; the Ray runs start a local Ray instance on this
machine's CPUs (peak RSS is the driver's alone, not its workers').

Prints one JSON line per run and writes benchmarks/results/stream.json (every run, the load average around it,
the machine, the command).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results" / "stream.json"
MODES = ("cache", "no-cache", "rerun")
RSS_TARGET_MB = 500.0
SAMPLE_EVERY_S = 0.5


# -- the child: one run of the pipeline --------------------------------------------------------------------------

def prompt_of(i: int) -> str:
    return f"item {i}"


def expected_rejected(n: int) -> int:
    """How many of the first ``n`` prompts contain a 7 (the filter's rule), counted independently of the engine."""
    return sum(1 for i in range(n) if "7" in prompt_of(i))


def write_jsonl(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            handle.write(f'{{"prompt": "{prompt_of(i)}"}}\n')


def build_pipeline(n: int, url: str, concurrency: int, source: str, input_file: Path | None) -> Any:
    from synthloom import FilterStep, LLMStep, LoadStep, Pipeline, RecordsSource, parse_model_spec

    if source == "file":
        assert input_file is not None
        src: Any = LoadStep("seeds", path=str(input_file))
    else:
        src = RecordsSource("seeds", factory=lambda: ({"prompt": prompt_of(i)} for i in range(n)),
                            columns=["prompt"], count=n)
    answer = LLMStep("answer", prompt=lambda r: r["prompt"], parse=lambda r, resp: {**r, "answer": resp.text},
                     reads=["prompt"], writes=["answer"], temperature=0.0, max_tokens=8)

    class NoSevens(FilterStep):
        """Rejects prompts containing a 7 (a deterministic 46.9 % of 0..999,999)."""

        def check(self, record: dict[str, Any]) -> tuple[bool, str]:
            return "7" not in record["prompt"], "has a seven"

    model = parse_model_spec(f"openai:fake@{url}", name="default", max_in_flight=concurrency)
    return Pipeline([src, answer, NoSevens("keep", reads=["prompt"])], models={"default": model},
                    name="bench_stream")


def child_main(args: argparse.Namespace) -> None:
    """Run the pipeline once and write what happened to ``args.result_file`` as JSON."""
    from synthloom import RunOptions, run_pipeline

    os.environ.setdefault("OPENAI_API_KEY", "sk-bench-loopback")
    pipe = build_pipeline(args.n, args.url, args.concurrency, args.source,
                          Path(args.input_file) if args.input_file else None)
    options = RunOptions(progress="quiet", log=lambda m: None, fresh=True, use_cache=args.mode != "no-cache",
                         engine=args.engine or "local")
    profiler = None
    if args.profile_to:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started, main_cpu = time.perf_counter(), time.thread_time()
    result = run_pipeline(pipe, args.out, options)
    seconds, main_cpu = time.perf_counter() - started, time.thread_time() - main_cpu
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile_to)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    Path(args.result_file).write_text(json.dumps({
        "status": result.status,
        "message": result.message,
        "elapsed_s": result.elapsed_s,
        "run_pipeline_s": seconds,
        "rows": result.rows,
        "counts": {name: c.to_dict() for name, c in result.counts.items()},
        "usage_total": result.usage.get("total", {}),
        "ru_maxrss_kb": usage.ru_maxrss,
        "cpu_user_s": usage.ru_utime,
        "cpu_sys_s": usage.ru_stime,
        "cpu_main_thread_s": main_cpu,
    }))


# -- the parent: server, child process, RSS sampling, checks -----------------------------------------------------

def read_rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def committed_partitions(journal: Path) -> int:
    try:
        with journal.open("rb") as handle:
            return sum(1 for line in handle if b'"part"' in line)
    except OSError:
        return 0


class RssSampler(threading.Thread):
    """Samples a process's RSS (and the partitions its run has committed) until it exits."""

    def __init__(self, pid: int, journal: Path) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.journal = journal
        self.samples: list[tuple[float, int, int]] = []  # (seconds, rss_kb, committed partitions)
        self._stop_event = threading.Event()

    def run(self) -> None:
        started = time.perf_counter()
        while not self._stop_event.wait(SAMPLE_EVERY_S):
            rss = read_rss_kb(self.pid)
            if rss is None:
                return
            self.samples.append((time.perf_counter() - started, rss, committed_partitions(self.journal)))

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


def rss_profile(samples: list[tuple[float, int, int]], partitions: int) -> dict[str, Any]:
    """RSS at 10 %, 25 %, 50 %, 75 % and 90 % of the committed partitions: flat means memory does not grow with N."""
    out: dict[str, Any] = {}
    for pct in (10, 25, 50, 75, 90):
        want = partitions * pct / 100
        hit = next((s for s in samples if s[2] >= want), None)
        if hit is not None:
            out[f"{pct}%"] = round(hit[1] / 1024, 1)
    if samples:
        out["max_sampled"] = round(max(s[1] for s in samples) / 1024, 1)
    return out


def count_parquet_rows(folder: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(p).num_rows for p in folder.rglob("*.parquet")) if folder.is_dir() else 0


def check_accounting(n: int, child: dict[str, Any], out: Path) -> list[str]:
    """Everything that does not add up, as sentences (empty: all checks passed)."""
    problems = []
    counts = child["counts"]
    for step, c in counts.items():
        if c["in"] != c["ok"] + c["rejected"] + c["errors"]:
            problems.append(f"step {step}: in {c['in']} != ok {c['ok']} + rejected {c['rejected']} + errors {c['errors']}")
    seeds, answer, keep = counts.get("seeds"), counts.get("answer"), counts.get("keep")
    if not (seeds and answer and keep):
        return problems + [f"missing step counts: {sorted(counts)}"]
    if seeds["out"] != n:
        problems.append(f"source emitted {seeds['out']} records, expected {n}")
    if answer["in"] != seeds["out"]:
        problems.append(f"LLM step got {answer['in']} records, the source emitted {seeds['out']}")
    if keep["in"] != answer["out"]:
        problems.append(f"filter got {keep['in']} records, the LLM step emitted {answer['out']}")
    rejected = expected_rejected(n)
    if keep["rejected"] != rejected:
        problems.append(f"filter rejected {keep['rejected']}, expected {rejected}")
    rows = child["rows"]
    errors = sum(c["errors"] for c in counts.values())
    if rows["data"] != n - rejected - errors:
        problems.append(f"{rows['data']} output rows, expected N - rejected - errors = {n - rejected - errors}")
    on_disk = {"data": count_parquet_rows(out / "data"), "rejected": count_parquet_rows(out / "rejected")}
    for kind, found in on_disk.items():
        if found != rows[kind]:
            problems.append(f"{found} {kind} rows on disk, the run reported {rows[kind]}")
    return problems


def run_child(n: int, mode: str, url: str, out: Path, args: argparse.Namespace, input_file: Path | None,
              cprofile: Path | None, engine: str = "local") -> dict[str, Any]:
    result_file = out.parent / f"{out.name}.result.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--n", str(n), "--url", url,
               "--out", str(out), "--mode", mode, "--concurrency", str(args.concurrency), "--source", args.source,
               "--result-file", str(result_file), "--engine", engine]
    if input_file is not None:
        command += ["--input-file", str(input_file)]
    if cprofile is not None:
        command += ["--profile-to", str(cprofile)]
    load_before = os.getloadavg()
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE, text=True)
    sampler = RssSampler(proc.pid, out / ".state" / "journal.jsonl")
    sampler.start()
    try:
        stderr = proc.communicate(timeout=args.timeout)[1]
    except subprocess.TimeoutExpired:
        proc.kill()
        stderr = f"abandoned after --timeout {args.timeout:g} s\n" + proc.communicate()[1]
    wall = time.perf_counter() - started
    sampler.stop()
    load_after = os.getloadavg()
    record: dict[str, Any] = {
        "records": n, "mode": mode, "engine": engine, "source": args.source, "concurrency": args.concurrency,
        "load_avg_before": [round(x, 2) for x in load_before], "load_avg_after": [round(x, 2) for x in load_after],
        "wall_s": round(wall, 2),
    }
    if proc.returncode != 0 or not result_file.exists():
        record["error"] = f"child exit {proc.returncode}: {stderr.strip()[-2000:]}"
        return record
    child = json.loads(result_file.read_text())
    result_file.unlink()
    partitions = -(-n // 1000)
    problems = check_accounting(n, child, out) if child["status"] == "completed" else [child["message"]]
    record.update({
        "status": child["status"],
        "elapsed_s": round(child["elapsed_s"], 2),
        "records_per_s": round(n / child["elapsed_s"], 1),
        "records_per_s_wall": round(n / wall, 1),
        "peak_rss_mb": round(child["ru_maxrss_kb"] / 1024, 1),
        "rss_target_mb": RSS_TARGET_MB,
        "rss_ok": child["ru_maxrss_kb"] / 1024 < RSS_TARGET_MB,
        "rss_mb_at_progress": rss_profile(sampler.samples, partitions),
        "rss_timeline": [[round(t, 1), round(kb / 1024, 1), parts] for t, kb, parts in sampler.samples[::10]],
        "cpu_s": round(child["cpu_user_s"] + child["cpu_sys_s"], 1),
        "cpu_main_thread_s": round(child["cpu_main_thread_s"], 1),
        "rows_out": child["rows"]["data"],
        "rows_rejected": child["rows"]["rejected"],
        "rows_errors": child["rows"]["errors"],
        "counts": child["counts"],
        "usage_total": child["usage_total"],
        "accounting_ok": not problems,
        "accounting_problems": problems,
        "cache_bytes": (out / ".state" / "cache.sqlite").stat().st_size if (out / ".state" / "cache.sqlite").exists()
        else 0,
    })
    return record


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--records", default="1000000", help="comma-separated record counts, e.g. 100000,1000000")
    p.add_argument("--modes", default="cache", help=f"comma-separated, from {', '.join(MODES)} "
                   "(rerun: the cache run's command again in the same folder, every answer a cache hit)")
    p.add_argument("--source", choices=("records", "file"), default="records",
                   help="records: a Python generator (RecordsSource); file: the same rows from a JSONL file (load)")
    p.add_argument("--concurrency", type=int, default=64, help="the model's max_in_flight")
    p.add_argument("--work-dir", help="where run folders go (default: a temporary folder, removed afterwards)")
    p.add_argument("--keep", action="store_true", help="keep the run folders")
    p.add_argument("--cprofile", action="store_true", help="cProfile each child; .prof files go to benchmarks/results")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds before a run is abandoned")
    p.add_argument("--results", default=str(RESULTS), help="JSON file to write")
    p.add_argument("--engines", default="local", help="comma-separated, from local, ray: each run made on each engine")
    p.add_argument("--repeats", type=int, default=1, help="repeat every run this many times (medians reported)")
    p.add_argument("--engine", help=argparse.SUPPRESS)
    # the child's own arguments
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--mode", help=argparse.SUPPRESS)
    p.add_argument("--input-file", help=argparse.SUPPRESS)
    p.add_argument("--result-file", help=argparse.SUPPRESS)
    p.add_argument("--profile-to", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def run_modes(n: int, modes: list[str], engine: str, server: Any, work: Path, args: argparse.Namespace) -> list[dict]:
    """Every mode of one record count on one engine (a rerun replays the cache run's folder)."""
    runs = []
    input_file = None
    if args.source == "file":
        input_file = work / f"prompts-{n}.jsonl"
        write_jsonl(input_file, n)
    for mode in modes:
        folder = "cache" if mode == "rerun" else mode
        out = work / f"run-{n}-{engine}-{folder}"
        if mode == "rerun" and not (out / ".state" / "cache.sqlite").exists():
            print(f"skipping rerun for {n}: run mode 'cache' first (--modes cache,rerun)", file=sys.stderr)
            continue
        if mode == "rerun":  # the rerun starts its journal afresh; drop the old one so sampling sees progress
            (out / ".state" / "journal.jsonl").unlink(missing_ok=True)
        server.reset_stats()
        prof = BENCH_DIR / "results" / f"stream-{n}-{engine}-{mode}.prof" if args.cprofile else None
        if prof is not None:
            prof.parent.mkdir(parents=True, exist_ok=True)
        record = run_child(n, mode, server.url, out, args, input_file, prof, engine)
        record["server_requests"] = server.stats().get("by_path", {}).get("/v1/chat/completions", 0)
        runs.append(record)
        print(json.dumps({k: v for k, v in record.items() if k not in ("counts", "usage_total", "rss_timeline")}),
              flush=True)
        if not args.keep and mode != "cache":
            shutil.rmtree(out, ignore_errors=True)
    if not args.keep:
        shutil.rmtree(work / f"run-{n}-{engine}-cache", ignore_errors=True)
    return runs


def engine_summary(runs: list[dict]) -> dict[str, Any]:
    """Median records/s per (records, mode, engine), and Ray's time over the local engine's."""
    import statistics

    groups: dict[tuple, list[float]] = {}
    for r in runs:
        if r.get("records_per_s"):
            groups.setdefault((r["records"], r["mode"], r.get("engine", "local")), []).append(r["records_per_s"])
    out: dict[str, Any] = {}
    for (n, mode, engine), rates in sorted(groups.items()):
        out[f"{n}/{mode}/{engine}"] = {"median_records_per_s": round(statistics.median(rates), 1), "runs": len(rates)}
        local = groups.get((n, mode, "local"))
        if engine == "ray" and local:
            out[f"{n}/{mode}/ray"]["overhead_vs_local"] = round(statistics.median(local) / statistics.median(rates) - 1, 3)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child_main(args)
        return 0
    from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig

    counts = [int(x) for x in args.records.split(",") if x.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not counts or min(counts) < 1:
        print(f"--modes takes {', '.join(MODES)}; --records takes positive integers", file=sys.stderr)
        return 2
    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="bench-stream-"))
    work.mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, Any]] = []
    try:
        engines = [e.strip() for e in args.engines.split(",") if e.strip()]
        with FakeOpenAIServer(FakeServerConfig(latency_s=0.0)) as server:
            for _ in range(args.repeats):
                for engine in engines:
                    for n in counts:
                        runs += run_modes(n, modes, engine, server, work, args)
    finally:
        if not args.keep and not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    report = {
        "benchmark": "stream",
        "command": " ".join([".venv/bin/python", "benchmarks/bench_stream.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "rss_target_mb": RSS_TARGET_MB,
        "summary": engine_summary(runs),
        "runs": runs,
    }
    print(json.dumps({"summary": report["summary"]}, indent=1))
    results = Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(report, indent=2) + "\n")
    failed = [r for r in runs if r.get("error") or not r.get("accounting_ok")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
