"""Prefix-aware scheduling against a real server: llama.cpp's (`python -m llama_cpp.server`) on the embedded model.

Workload: judge-style chat prompts that share a ~280-token rubric (each with its own short item) interleaved one
for one with other prompts (distinct, ~36 tokens), greedy, a few output tokens, all submitted at once through the
model's usual layers (limits and retries; no cache) with `max_in_flight` slots. llama-cpp-python's server answers
one request at a time and keeps the previous prompt's KV cache for the prefix the next prompt shares, so the order
requests reach it decides how often the rubric is prefilled again. Runs alternate scheduling off / on; requests/s
are medians, and every run's answers are checked to be the same. The prompt tokens the server evaluated in each run
(summed from its `prompt eval time` log lines) measure the work saved independently of the machine's load.

    .venv/bin/python benchmarks/bench_prefix_scheduling.py                        # 64 + 64 requests, 3 repeats
    .venv/bin/python benchmarks/bench_prefix_scheduling.py --judges 16 --others 16 --repeats 1

Writes benchmarks/results/prefix_scheduling.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "src"))

from synthloom.llm.client import build_model  # noqa: E402
from synthloom.llm.spec import parse_model_spec  # noqa: E402
from synthloom.llm.types import Request  # noqa: E402
from synthloom.testing.llama_server import llama_cpp_server  # noqa: E402

RUBRIC = (
    "You are an impartial judge of answers to questions. Read the answer below and rate it on a scale from 1 to 10. "
    "Consider accuracy first: an answer that states something false gets at most 3, whatever its style. Then "
    "consider completeness: does it answer every part of the question, and does it give the reasons or steps a "
    "reader needs to trust it? Then clarity: is it organised, are terms defined, is it free of filler and repetition? "
    "Then tone: is it polite and direct, without hedging that adds nothing? Penalise answers that are much longer "
    "than needed, that invent sources, that refuse a harmless request, or that answer a different question. Do not "
    "reward length for its own sake. Do not let the position of the answer or the name of its author sway you. "
    "Think about the strongest objection to your rating before you settle on it. Reply with the rating as a single "
    "number on the first line, then one sentence saying why. Examples of ratings: a precise, complete, well "
    "organised answer with a small slip of wording gets 8; a correct but partial answer that skips the second half "
    "of the question gets 5; a fluent answer built on a false premise gets 2. Be consistent across answers: the "
    "same quality gets the same rating whichever answer you saw before it.\n\nAnswer to rate: "
)
TOPICS = ("rivers", "compilers", "bread", "glaciers", "chess", "lighthouses", "bees", "trains", "volcanoes", "tea")


def workload(judges: int, others: int) -> list[Request]:
    judge = [Request.chat([{"role": "user", "content": RUBRIC + f"Item {i}: {TOPICS[i % 10]} matter because of "
                                                                 f"fact number {i}."}], max_tokens=4, temperature=0)
             for i in range(judges)]
    other = [Request.chat([{"role": "user", "content": f"Request {i}. Write one sentence about {TOPICS[i % 10]} "
                                                       f"for reader {i * 7919 % 1000}, in the style of a weather "
                                                       f"report, mentioning the number {i}."}],
                          max_tokens=4, temperature=0)
             for i in range(others)]
    out: list[Request] = []
    for i in range(max(judges, others)):
        out += judge[i:i + 1] + other[i:i + 1]
    return out


async def run_once(url: str, requests: list[Request], max_in_flight: int, grouped: bool) -> tuple[float, list[str]]:
    config = parse_model_spec(f"openai:smollm2@{url}", max_in_flight=max_in_flight, prefix_scheduling=grouped,
                              timeout_s=1800, max_retries=0)
    model = build_model(config)
    try:
        started = time.perf_counter()
        responses = await asyncio.gather(*(model.complete(r) for r in requests))
        return time.perf_counter() - started, [r.text for r in responses]
    finally:
        await model.aclose()


PROMPT_EVAL = re.compile(r"prompt eval time = .*?/\s*(\d+) tokens")


def prefill_lines(log_path: Path) -> list[int]:
    """Prompt tokens of each request the server has logged so far (llama.cpp's per-request timing line)."""
    return [int(m.group(1)) for m in PROMPT_EVAL.finditer(log_path.read_text(errors="replace"))]


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: the server process is stopped too
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--judges", type=int, default=64)
    p.add_argument("--others", type=int, default=64)
    p.add_argument("--max-in-flight", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--output", type=Path, default=BENCH_DIR / "results" / "prefix_scheduling.json")
    args = p.parse_args()
    requests = workload(args.judges, args.others)
    runs: dict[str, list[float]] = {"off": [], "on": []}
    prefill: dict[str, list[int]] = {"off": [], "on": []}
    loads: list[float] = []
    answers: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp, llama_cpp_server(Path(tmp) / "server.log", n_ctx=1024) as url:
        log_path = Path(tmp) / "server.log"
        asyncio.run(run_once(url, requests[:2], 1, False))  # warm-up: model pages in
        for repeat in range(args.repeats):
            for mode in ("off", "on"):
                load = os.getloadavg()[0]
                loads.append(load)
                logged = len(prefill_lines(log_path))
                seconds, texts = asyncio.run(run_once(url, requests, args.max_in_flight, mode == "on"))
                if answers.setdefault(mode, texts) != texts or answers.get("off", texts) != texts:
                    sys.exit(f"answers differ between runs ({mode}, repeat {repeat + 1}): greedy decoding should agree")
                runs[mode].append(len(requests) / seconds)
                prefill[mode].append(sum(prefill_lines(log_path)[logged:]))
                print(f"[{repeat + 1}/{args.repeats}] scheduling {mode:<3} {len(requests) / seconds:6.2f} req/s  "
                      f"({seconds:6.1f} s)  prompt tokens evaluated {prefill[mode][-1]}  load {load:.2f}", flush=True)
    summary = {"judges": args.judges, "others": args.others, "max_in_flight": args.max_in_flight,
               "median_req_per_s_off": statistics.median(runs["off"]),
               "median_req_per_s_on": statistics.median(runs["on"]),
               "median_prompt_tokens_off": statistics.median(prefill["off"]),
               "median_prompt_tokens_on": statistics.median(prefill["on"]),
               "load_avg_1m": [min(loads), max(loads)], "runs": runs, "prompt_tokens": prefill}
    summary["ratio_on_off"] = summary["median_req_per_s_on"] / summary["median_req_per_s_off"]
    print(f"median req/s: off {summary['median_req_per_s_off']:.2f}, on {summary['median_req_per_s_on']:.2f}, "
          f"on/off {summary['ratio_on_off']:.2f}x; prompt tokens evaluated: off "
          f"{summary['median_prompt_tokens_off']}, on {summary['median_prompt_tokens_on']}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
