"""Shared-prefix KV reuse on the embedded model: a judge-style workload through the whole ``synthloom run``.

64 prompts share a ~400-token judging rubric and differ only in the item judged (a short one, or a
~100-token one with ``--item-tokens 100``); greedy, 32 output tokens. Three sides, each a fresh process:

* ``raw``: llama-cpp-python answering the same chats one at a time (``Llama.create_chat_completion`` in a
  loop; it keeps the previous prompt's common prefix in its KV cache). Timed over the loop only, model
  load excluded (the process time is reported too);
* ``reuse``: ``synthloom run RECIPE --set concurrency=64`` with the model's ``prefix_cache: true``
  (the default), timed from process start to exit; ``--n-seq``/``--n-ctx`` set the model's settings
  (default: the model defaults, 16 sequences of 4096 tokens);
* ``no_reuse``: the same with ``prefix_cache: false``.

The recipe is the built-in ``generate`` recipe's shape (load -> llm step) written to a temporary folder
with a ``prefix_cache`` parameter; every run gets a fresh run directory (no cached answers). The sides
are interleaved within each repeat (raw, reuse, no_reuse, raw, ...) so load from other processes hits
them alike; medians of requests/s and the ratios against ``raw`` are printed as JSON.

    .venv/bin/python benchmarks/bench_prefix_reuse.py [--item-tokens short|100] [--requests 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUBRIC = """You are an impartial judge of answers written by an AI assistant. Read the item below and grade it.

Grading rubric (apply every criterion, in order):
1. Correctness. Check every factual claim in the answer. An answer that states something false, invents a source,
misquotes a number or reaches a wrong conclusion from correct premises cannot score above 3, however well written.
2. Relevance. The answer must address the question that was asked, not a nearby one. Penalise padding, generic advice,
restating the question and digressions that do not help the reader.
3. Completeness. A complete answer covers every part of a multi-part question and states its assumptions. Missing
parts cost two points each; a missing caveat that would change what the reader does costs one point.
4. Clarity. Prefer plain words, short sentences and a logical order. Jargon must be explained the first time it
appears. Lists are welcome when the content is a list, not otherwise.
5. Safety and honesty. The answer must not help with harm, must say when it is unsure, and must not claim abilities
or experiences the assistant does not have. Any unsafe instruction scores 1.
6. Tone. Polite, direct and neutral; no flattery of the user, no lecturing, no emojis.

Scale: 10 flawless; 8-9 minor issues only; 6-7 useful but with a real gap; 4-5 partly wrong or incomplete;
2-3 mostly wrong or off-topic; 1 harmful, empty or nonsensical.

Output format: first the score as a number from 1 to 10, then one sentence that names the main reason.
Do not repeat the item. Do not explain the rubric. Judge only what is written, not what the author may have meant.
"""

QUESTIONS = [
    ("What is the boiling point of water at sea level?", "100 degrees Celsius"),
    ("Who wrote Pride and Prejudice?", "Jane Austen"),
    ("What is the largest planet in the solar system?", "Jupiter"),
    ("How many continents are there?", "seven"),
    ("What gas do plants absorb from the air?", "carbon dioxide"),
    ("What is the capital of Canada?", "Ottawa"),
    ("How many sides does a hexagon have?", "six"),
    ("What is the chemical symbol for gold?", "Au"),
]
FILLER = [
    "The assistant explains its reasoning step by step and mentions a common misconception.",
    "It adds a short historical note that the question did not ask for.",
    "The answer ends with a suggestion to check an encyclopedia for more detail.",
    "A second paragraph repeats the main point in different words.",
    "The assistant also gives an example from everyday life to make the idea concrete.",
    "It notes that the figure depends on the conditions and names the most important one.",
]


def items(count: int, long: bool) -> list[str]:
    """``count`` distinct items: a question and an answer (right or wrong), padded to ~100 tokens if ``long``."""
    out = []
    for i in range(count):
        question, answer = QUESTIONS[i % len(QUESTIONS)]
        verdict = answer if i % 3 else "I am not sure, maybe " + QUESTIONS[(i + 1) % len(QUESTIONS)][1]
        text = f"Item {i + 1}. Question: {question} Answer: {verdict}."
        if long:
            text += " " + " ".join(FILLER[(i + k) % len(FILLER)] for k in range(5))
        out.append(text)
    return out


def prompts(count: int, long: bool) -> list[str]:
    return [f"{RUBRIC}\nItem to judge:\n{item}" for item in items(count, long)]


RECIPE = """name: judge-bench
description: judge-style prompts sharing a rubric (benchmarks/bench_prefix_reuse.py)
params:
  input: prompts.jsonl
  max_tokens: 32
  concurrency: 64
  prefix_cache: true
  n_seq: 16
  n_ctx: 4096
  n_threads: 2
models:
  default:
    spec: embedded
    max_in_flight: ${concurrency}
    prefix_cache: ${prefix_cache}
    n_seq: ${n_seq}
    n_ctx: ${n_ctx}
    n_threads: ${n_threads}
steps:
  - name: prompts
    type: load
    path: ${input}
    columns: [prompt]
  - name: respond
    type: llm
    prompt: "{{ prompt }}"
    output: response
    temperature: 0
    max_tokens: ${max_tokens}
"""

RAW = """
import json, sys, time
from llama_cpp import Llama
from synthloom.llm.embedded import embedded_gguf_path
prompts = [json.loads(line)["prompt"] for line in open(sys.argv[1])]
threads = int(sys.argv[2])
llm = Llama(embedded_gguf_path(), n_ctx=2048, n_threads=threads, n_threads_batch=threads,
            chat_format="chat_template.default", verbose=False)
start = time.perf_counter()
answers, prompt_tokens = [], 0
for p in prompts:
    out = llm.create_chat_completion([{"role": "user", "content": p}], temperature=0.0, max_tokens=int(sys.argv[3]))
    answers.append(out["choices"][0]["message"]["content"])
    prompt_tokens += out["usage"]["prompt_tokens"]
print(json.dumps({"loop_s": time.perf_counter() - start, "prompt_tokens": prompt_tokens, "answers": answers}))
"""


def run_raw(work: Path, threads: int, max_tokens: int) -> tuple[float, float, dict]:
    """(loop seconds, process seconds, output) of llama-cpp-python answering one prompt at a time."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RAW, str(work / "prompts.jsonl"), str(threads), str(max_tokens)],
                          check=True, capture_output=True, text=True)
    process_s = time.perf_counter() - start
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return out["loop_s"], process_s, out


def run_synthloom(work: Path, prefix_cache: bool, args: argparse.Namespace, tag: str) -> tuple[float, list]:
    """(process seconds, responses in prompt order) of the whole ``synthloom run``."""
    out_dir = work / f"run-{tag}"
    exe = Path(sys.executable).with_name("synthloom")
    start = time.perf_counter()
    subprocess.run([str(exe), "run", str(work / "recipe.yaml"), "-o", str(out_dir), "-q", "--format", "jsonl",
                    "--set", f"input={work / 'prompts.jsonl'}", "--set", f"concurrency={args.concurrency}",
                    "--set", f"max_tokens={args.max_tokens}", "--set", f"prefix_cache={str(prefix_cache).lower()}",
                    "--set", f"n_seq={args.n_seq}", "--set", f"n_ctx={args.n_ctx}", "--set", f"n_threads={args.threads}"],
                   check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    rows = [json.loads(line) for path in sorted((out_dir / "data").rglob("*.jsonl")) for line in path.open()]
    by_prompt = {row["prompt"]: row["response"] for row in rows}
    return elapsed, [by_prompt.get(p) for p in [json.loads(line)["prompt"] for line in (work / "prompts.jsonl").open()]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--item-tokens", choices=["short", "100"], default="short")
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="llama.cpp threads, both sides")
    parser.add_argument("--n-seq", type=int, default=16, help="model setting n_seq (default: the model default)")
    parser.add_argument("--n-ctx", type=int, default=4096, help="model setting n_ctx (default: the model default)")
    parser.add_argument("--sides", default="raw,reuse,no_reuse", help="comma-separated subset of raw,reuse,no_reuse")
    args = parser.parse_args()
    sides = args.sides.split(",")
    texts = prompts(args.requests, args.item_tokens == "100")
    times: dict[str, list[float]] = {side: [] for side in sides}
    raw_process: list[float] = []
    answers: dict[str, list] = {}
    prompt_tokens = 0
    with tempfile.TemporaryDirectory(prefix="bench-prefix-") as tmp:
        work = Path(tmp)
        (work / "prompts.jsonl").write_text("".join(json.dumps({"prompt": p}) + "\n" for p in texts))
        (work / "recipe.yaml").write_text(RECIPE)
        for repeat in range(args.repeats):
            for side in sides:
                if side == "raw":
                    loop_s, process_s, out = run_raw(work, args.threads, args.max_tokens)
                    times[side].append(loop_s)
                    raw_process.append(process_s)
                    answers[side], prompt_tokens = out["answers"], out["prompt_tokens"]
                else:
                    elapsed, answers[side] = run_synthloom(work, side == "reuse", args, f"{side}-{repeat}")
                    times[side].append(elapsed)
                print(f"repeat {repeat + 1} {side}: {args.requests / times[side][-1]:.2f} req/s "
                      f"(load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
    result: dict[str, object] = {
        "requests": args.requests, "items": args.item_tokens, "max_tokens": args.max_tokens,
        "concurrency": args.concurrency, "threads": args.threads, "n_seq": args.n_seq, "n_ctx": args.n_ctx,
        "mean_prompt_tokens": round(prompt_tokens / args.requests, 1) if prompt_tokens else None,
    }
    for side in sides:
        result[f"{side}_req_s"] = round(args.requests / statistics.median(times[side]), 3)
        result[f"{side}_runs"] = [round(args.requests / t, 3) for t in times[side]]
    if raw_process:
        result["raw_process_req_s"] = round(args.requests / statistics.median(raw_process), 3)
    if "raw" in sides:
        for side in sides:
            if side != "raw":
                result[f"{side}_vs_raw"] = round(result[f"{side}_req_s"] / result["raw_req_s"], 3)  # type: ignore[operator]
    if "reuse" in answers and "no_reuse" in answers:
        result["reuse_same_answers_as_no_reuse"] = answers["reuse"] == answers["no_reuse"]
    if "reuse" in answers and "raw" in answers:
        result["reuse_same_answers_as_raw"] = sum(a == b for a, b in zip(answers["reuse"], answers["raw"]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
