"""Side-by-side request throughput of synthloom and its peers against one loopback OpenAI-compatible server.

Two scenarios, each with one `python -m synthloom.testing.fake_server` process shared by every participant:

  zero     no server latency, 64 concurrent: raw framework overhead. synthloom runs 20,000 requests from the
           command line (recipe -> records on disk, cache on), then reruns the same command (the run is complete:
           nothing to do) and runs it once more with --fresh (journal discarded, every response a cache hit).
  latency  0.5 s per reply, 256 concurrent (ideal 512 req/s): how close each gets to the ideal.

Participants: synthloom, the peers (bespokelabs-curator, distilabel, data-designer; each in its own venv under
benchmarks/.venvs, see setup_peer_venvs.sh) and a bare asyncio socket client as the ceiling. Repeats run
round-robin (every participant once, then again) so drift in machine load hits all alike; medians are reported.

    .venv/bin/python benchmarks/bench_throughput.py                      # everything, 3 repeats
    .venv/bin/python benchmarks/bench_throughput.py --scenarios zero --participants synthloom,curator --repeats 1

Writes benchmarks/results/throughput.json (ratios synthloom/peer, per-run figures, targets met or not).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR / "peers"))

from bench_io import LoopbackServer, count_output_rows, last_json_line, read_run_elapsed, write_prompts  # noqa: E402

REPO = BENCH_DIR.parent
PEERS = ("curator", "distilabel", "datadesigner")
PARTICIPANTS = ("synthloom", *PEERS, "bare_asyncio")
CACHED_STEPS = ("synthloom_rerun", "synthloom_replay")


@dataclass(frozen=True)
class Scenario:
    """One server setting and how many requests each kind of participant sends under it."""

    name: str
    latency_s: float
    concurrency: int
    synthloom_requests: int
    peer_requests: int
    bare_requests: int

    @property
    def ideal_req_per_s(self) -> float | None:
        return self.concurrency / self.latency_s if self.latency_s > 0 else None


@dataclass
class Measurement:
    """One run of one participant: its own timing (if it reports one) and the wall clock of its process."""

    participant: str
    requests: int
    wall_s: float
    seconds: float | None = None
    ok_rows: int = 0
    server_requests: int | None = None
    load_avg_1m: float = 0.0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def req_per_s(self) -> float | None:
        """Throughput by the participant's own timer (framework work only), else by wall clock."""
        elapsed = self.seconds if self.seconds else self.wall_s
        return self.requests / elapsed if elapsed and not self.error else None

    @property
    def wall_req_per_s(self) -> float | None:
        return self.requests / self.wall_s if self.wall_s and not self.error else None


def synthloom_cli() -> Path:
    return REPO / ".venv" / "bin" / "synthloom"


def synthloom_ready() -> str | None:
    """None if `synthloom run` can be called, else why not."""
    if not synthloom_cli().exists():
        return f"{synthloom_cli()} does not exist"
    probe = subprocess.run([str(synthloom_cli()), "run", "--help"], capture_output=True, text=True, timeout=120)
    return None if probe.returncode == 0 else f"`synthloom run --help` failed: {tail(probe.stderr)}"


def synthloom_startup_s(times: int = 3) -> float:
    """Median wall clock of starting Python and importing the CLI: the floor under any `synthloom` command."""
    python = str(REPO / ".venv" / "bin" / "python")
    walls = [run_process([python, "-c", "import synthloom.cli.main"], 120, REPO)[1] for _ in range(times)]
    return statistics.median(walls)


def run_process(command: list[str], timeout_s: float, cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "OPENAI_API_KEY": "sk-bench-loopback", "PYTHONUNBUFFERED": "1"}
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, cwd=cwd, env=env)
    except subprocess.TimeoutExpired:
        done = subprocess.CompletedProcess(command, -9, "", f"killed after --timeout {timeout_s:.0f} s")
    return done, time.perf_counter() - started


def run_synthloom(step: str, prompts: Path, url: str, scenario: Scenario, max_tokens: int, out_dir: Path,
                  timeout_s: float) -> Measurement:
    """One `synthloom run generate` over the prompts file. Step `synthloom`: --fresh into a new OUTDIR;
    `synthloom_rerun`: the same command without --fresh into the finished OUTDIR; `synthloom_replay`: --fresh into
    the finished OUTDIR, so the journal starts over while the response cache in OUTDIR/.state answers everything."""
    fresh = step != "synthloom_rerun"
    command = [
        str(synthloom_cli()), "run", "generate", "--set", f"input={prompts}", "--model", f"openai:bench@{url}",
        "--set", f"concurrency={scenario.concurrency}", "--set", f"max_tokens={max_tokens}",
        "-o", str(out_dir), "--quiet",
    ] + (["--fresh"] if fresh else [])
    requests = count_lines(prompts)
    done, wall = run_process(command, timeout_s, REPO)
    if done.returncode != 0:
        return Measurement(step, requests, wall, error=f"exit {done.returncode}: {tail(done.stderr)}")
    rows = count_output_rows(out_dir)
    measurement = Measurement(step, requests, wall, seconds=read_run_elapsed(out_dir), ok_rows=rows["data"],
                              extra={"error_rows": rows["errors"], "rejected_rows": rows["rejected"]})
    if rows["data"] != requests:
        measurement.error = f"{rows['data']} output rows for {requests} prompts ({rows})"
    return measurement


def run_harness(participant: str, prompts: Path, url: str, scenario: Scenario, max_tokens: int, work_dir: Path,
                timeout_s: float) -> Measurement:
    """One peer harness (in its own venv) or the bare asyncio client (in this interpreter)."""
    if participant == "bare_asyncio":
        python = Path(sys.executable)
    else:
        python = BENCH_DIR / ".venvs" / participant / "bin" / "python"
    requests = count_lines(prompts)
    if not python.exists():
        return Measurement(participant, requests, 0.0,
                           error=f"{python} missing: run `bash benchmarks/setup_peer_venvs.sh {participant}`")
    script = BENCH_DIR / "peers" / f"{participant}_run.py"
    if participant == "bare_asyncio":
        script = BENCH_DIR / "peers" / "bare_asyncio.py"
    scratch = Path(tempfile.mkdtemp(prefix=f"{participant}-", dir=work_dir))
    command = [str(python), str(script), "--prompts", str(prompts), "--base-url", url,
               "--concurrency", str(scenario.concurrency), "--max-tokens", str(max_tokens), "--work-dir", str(scratch)]
    try:
        done, wall = run_process(command, timeout_s, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result = last_json_line(done.stdout)
    if done.returncode != 0 or result is None:
        return Measurement(participant, requests, wall, error=f"exit {done.returncode}: {tail(done.stderr)}")
    known = {"peer", "requests", "seconds", "req_per_s", "ok_rows", "failed_rows"}
    measurement = Measurement(participant, result["requests"], wall, seconds=result["seconds"],
                              ok_rows=result["ok_rows"], extra={k: v for k, v in result.items() if k not in known})
    if result["ok_rows"] != result["requests"]:
        measurement.error = f"only {result['ok_rows']} of {result['requests']} rows came back"
    return measurement


def tail(text: str, lines: int = 8) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def run_scenario(scenario: Scenario, participants: list[str], args: argparse.Namespace,
                 work_dir: Path) -> dict[str, list[Measurement]]:
    counts = {"synthloom": scenario.synthloom_requests, "bare_asyncio": scenario.bare_requests}
    prompt_files = {n: write_prompts(work_dir / f"prompts_{n}.jsonl", n)
                    for n in {counts.get(p, scenario.peer_requests) for p in participants}}
    steps: list[str] = []
    for participant in participants:
        steps.append(participant)
        if participant == "synthloom" and args.rerun and scenario.name == "zero":
            steps += ["synthloom_rerun", "synthloom_replay"]
    runs: dict[str, list[Measurement]] = {}
    with LoopbackServer(REPO / ".venv" / "bin" / "python", scenario.latency_s) as server:
        print(f"\n== {scenario.name}: latency {scenario.latency_s} s, {scenario.concurrency} concurrent, "
              f"server {server.url}", flush=True)
        for repeat in range(args.repeats):
            for step in steps:
                participant = "synthloom" if step.startswith("synthloom") else step
                prompts = prompt_files[counts.get(participant, scenario.peer_requests)]
                m = run_step(step, prompts, server, scenario, args, work_dir)
                runs.setdefault(step, []).append(m)
                print(f"  [{repeat + 1}/{args.repeats}] {describe(m, scenario)}", flush=True)
    return runs


def run_step(step: str, prompts: Path, server: LoopbackServer, scenario: Scenario, args: argparse.Namespace,
             work_dir: Path) -> Measurement:
    """One run of one participant, checked against the chat requests the server actually answered."""
    server.reset_stats()
    load = os.getloadavg()[0]
    if step.startswith("synthloom"):
        out_dir = work_dir / f"synthloom-{scenario.name}"
        if step == "synthloom":  # a new OUTDIR: --fresh alone keeps the response cache in OUTDIR/.state
            shutil.rmtree(out_dir, ignore_errors=True)
        m = run_synthloom(step, prompts, server.url, scenario, args.max_tokens, out_dir, args.timeout)
    else:
        m = run_harness(step, prompts, server.url, scenario, args.max_tokens, work_dir, args.timeout)
    m.load_avg_1m = round(load, 2)
    m.server_requests = server.api_requests()
    if m.server_requests is not None and not m.error:
        if step in CACHED_STEPS and m.server_requests > 0:
            m.error = f"{step} was not all cache hits: server answered {m.server_requests} chat requests"
        elif step not in CACHED_STEPS and m.server_requests < m.requests:
            m.error = f"server answered {m.server_requests} chat requests for {m.requests} rows"
    return m


def describe(m: Measurement, scenario: Scenario) -> str:
    if m.error:
        return f"{m.participant:<16} FAILED ({m.error[:300]})"
    text = (f"{m.participant:<16} {m.requests:>6} req  {m.req_per_s:>9.1f} req/s  wall {m.wall_s:6.2f} s"
            f" ({m.wall_req_per_s:.1f} req/s)  rows {m.ok_rows}  server saw {m.server_requests}"
            f"  load {m.load_avg_1m}")
    if scenario.ideal_req_per_s:
        text += f"  {100 * m.req_per_s / scenario.ideal_req_per_s:.1f}% of ideal"
    return text


def median_or_none(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarise(scenario: Scenario, runs: dict[str, list[Measurement]]) -> dict[str, Any]:
    participants: dict[str, Any] = {}
    for name, measurements in runs.items():
        good = [m for m in measurements if not m.error]
        entry: dict[str, Any] = {
            "requests": measurements[0].requests,
            "runs_ok": len(good),
            "runs_failed": len(measurements) - len(good),
            "median_req_per_s": median_or_none([m.req_per_s for m in good]),
            "median_wall_req_per_s": median_or_none([m.wall_req_per_s for m in good]),
            "median_seconds": median_or_none([m.seconds for m in good]),
            "median_wall_s": median_or_none([m.wall_s for m in good]),
            "runs": [asdict(m) | {"req_per_s": m.req_per_s, "wall_req_per_s": m.wall_req_per_s}
                     for m in measurements],
        }
        if scenario.ideal_req_per_s:
            # N requests through C slots take at least ceil(N/C) latency periods: the last wave runs part-empty.
            best = entry["requests"] / (math.ceil(entry["requests"] / scenario.concurrency) * scenario.latency_s)
            entry["best_possible_req_per_s"] = best
            for key in ("median_req_per_s", "median_wall_req_per_s"):
                value = entry[key]
                suffix = "_wall" if "wall" in key else ""
                entry["pct_ideal" + suffix] = 100 * value / scenario.ideal_req_per_s if value else None
                entry["pct_best_possible" + suffix] = 100 * value / best if value else None
        participants[name] = entry
    return {"scenario": asdict(scenario), "ideal_req_per_s": scenario.ideal_req_per_s,
            "participants": participants, "ratios": ratios(participants)}


def ratios(participants: dict[str, Any]) -> dict[str, Any]:
    """synthloom's throughput over each other participant's (both by synthloom's own timer and by its wall clock;
    peers always by their own in-process timer, which leaves out their import time)."""
    ours = participants.get("synthloom")
    if not ours or not ours["median_req_per_s"]:
        return {}
    out: dict[str, Any] = {}
    for name, theirs in participants.items():
        if name.startswith("synthloom") or not theirs["median_req_per_s"]:
            continue
        out[f"synthloom/{name}"] = {
            "by_run_elapsed": ours["median_req_per_s"] / theirs["median_req_per_s"],
            "by_wall_clock": ours["median_wall_req_per_s"] / theirs["median_req_per_s"],
        }
    for step in CACHED_STEPS:
        again = participants.get(step)
        if again and again["median_wall_s"]:
            out[f"synthloom_first/{step.split('_')[1]}"] = {
                "by_run_elapsed": (ours["median_seconds"] / again["median_seconds"]
                                   if ours["median_seconds"] and again["median_seconds"] else None),
                "by_wall_clock": ours["median_wall_s"] / again["median_wall_s"],
            }
    return out


def targets(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, checked by wall clock (the strict reading) and by the run's own elapsed time."""
    checks: list[dict[str, Any]] = []
    zero = summary.get("zero", {}).get("ratios", {})
    for key, threshold in (("synthloom/curator", 10), ("synthloom/distilabel", 25), ("synthloom_first/rerun", 20)):
        if key in zero:
            checks.append({"target": f"{key} >= {threshold}x", "threshold": threshold, **zero[key],
                           "met_by_wall_clock": (zero[key]["by_wall_clock"] or 0) >= threshold})
    latency = summary.get("latency", {}).get("participants", {}).get("synthloom")
    if latency:
        checks.append({"target": "synthloom latency scenario >= 97% of ideal", "threshold": 97,
                       "by_run_elapsed": latency.get("pct_ideal"), "by_wall_clock": latency.get("pct_ideal_wall"),
                       "met_by_wall_clock": (latency.get("pct_ideal_wall") or 0) >= 97,
                       "reachable_pct_ideal": 100 * latency["best_possible_req_per_s"] / latency_ideal(summary)})
    return checks


def latency_ideal(summary: dict[str, Any]) -> float:
    return summary["latency"]["ideal_req_per_s"]


def print_table(summary: dict[str, Any]) -> None:
    for name, scenario in summary.items():
        ideal = scenario["ideal_req_per_s"]
        print(f"\n{name}: latency {scenario['scenario']['latency_s']} s, "
              f"{scenario['scenario']['concurrency']} concurrent" + (f", ideal {ideal:.0f} req/s" if ideal else ""))
        print(f"  {'participant':<16} {'requests':>8} {'req/s':>10} {'wall req/s':>11} {'ok/failed runs':>15}"
              + ("  % ideal (wall)  % of best possible for N" if ideal else ""))
        for participant, p in scenario["participants"].items():
            fmt = lambda v: f"{v:.1f}" if v else "-"  # noqa: E731
            line = (f"  {participant:<16} {p['requests']:>8} {fmt(p['median_req_per_s']):>10} "
                    f"{fmt(p['median_wall_req_per_s']):>11} {p['runs_ok']:>7}/{p['runs_failed']:<7}")
            if ideal:
                line += (f"  {fmt(p.get('pct_ideal')):>5}% ({fmt(p.get('pct_ideal_wall'))}%)"
                         f"  {fmt(p.get('pct_best_possible')):>5}% of {p['best_possible_req_per_s']:.0f}")
            print(line)
        for key, value in scenario["ratios"].items():
            parts = [f"{k.replace('by_', '')} {v:.2f}x" for k, v in value.items() if v]
            print(f"  {key:<28} " + ", ".join(parts))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenarios", default="zero,latency", help="comma list of: zero, latency")
    p.add_argument("--participants", default=",".join(PARTICIPANTS), help=f"comma list of: {', '.join(PARTICIPANTS)}")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-tokens", type=int, default=16)
    p.add_argument("--zero-synthloom-requests", type=int, default=20_000)
    p.add_argument("--zero-peer-requests", type=int, default=5_000)
    p.add_argument("--zero-bare-requests", type=int, default=20_000)
    p.add_argument("--latency-synthloom-requests", type=int, default=5_000)
    p.add_argument("--latency-peer-requests", type=int, default=5_000)
    p.add_argument("--latency-bare-requests", type=int, default=5_000)
    p.add_argument("--no-rerun", dest="rerun", action="store_false", help="skip synthloom's rerun and cache replay")
    p.add_argument("--timeout", type=float, default=900, help="seconds one participant run may take")
    p.add_argument("--work-dir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    p.add_argument("--output", type=Path, default=BENCH_DIR / "results" / "throughput.json")
    args = p.parse_args()
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    args.participants = [s for s in args.participants.split(",") if s]
    for value, known, flag in ((args.scenarios, ("zero", "latency"), "--scenarios"),
                               (args.participants, PARTICIPANTS, "--participants")):
        unknown = sorted(set(value) - set(known))
        if unknown:
            p.error(f"{flag}: unknown {', '.join(unknown)}; choose from {', '.join(known)}")
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    return args


def main() -> None:
    # SIGTERM unwinds like Ctrl-C: subprocess.run kills its child, the server stops, the scratch folder goes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = parse_args()
    scenarios = {
        "zero": Scenario("zero", 0.0, 64, args.zero_synthloom_requests, args.zero_peer_requests,
                         args.zero_bare_requests),
        "latency": Scenario("latency", 0.5, 256, args.latency_synthloom_requests, args.latency_peer_requests,
                            args.latency_bare_requests),
    }
    participants = list(args.participants)
    skipped: dict[str, str] = {}
    if "synthloom" in participants and (why := synthloom_ready()):
        skipped["synthloom"] = why
        participants.remove("synthloom")
        print(f"synthloom skipped: {why}", flush=True)
    startup = synthloom_startup_s() if "synthloom" in participants else None
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="synthloom-bench-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {}
    try:
        for name in args.scenarios:
            summary[name] = summarise(scenarios[name], run_scenario(scenarios[name], participants, args, work_dir))
    finally:
        if args.work_dir is None:
            shutil.rmtree(work_dir, ignore_errors=True)
    print_table(summary)
    if startup is not None:
        print(f"  synthloom CLI start-up (python -c 'import synthloom.cli.main', median of 3): {startup:.2f} s")
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "command": sys.argv,
        "skipped": skipped,
        "synthloom_cli_startup_s": startup,
        "scenarios": summary,
        "targets": targets(summary),
    }
    for check in report["targets"]:
        print(f"  target {check['target']}: wall {check['by_wall_clock']}, run elapsed {check['by_run_elapsed']}"
              f" -> {'met' if check['met_by_wall_clock'] else 'NOT met'} (wall clock)")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
