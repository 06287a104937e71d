"""Throughput of the embedded model: llama-cpp-python one request at a time vs LlamaCppBackend batching.

Both sides get the same chat prompts with the same sampling (greedy, ``max_tokens``) and are timed
over the whole run, prompt processing included. The baseline is llama-cpp-python's high-level
``Llama.create_chat_completion`` called sequentially (the model's own chat template, same threads);
ours is ``LlamaCppBackend`` with every request submitted at once. Each side runs ``--repeats``
times in this one process, interleaved (baseline, ours, baseline, ours, ...) so that load from
other processes hits both alike; the medians and their ratio are printed as JSON.

    .venv/bin/python benchmarks/bench_embedded.py [--requests 64] [--max-tokens 128] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import time

from synthloom.llm.backends.llamacpp import LlamaCppBackend
from synthloom.llm.embedded import embedded_gguf_path
from synthloom.llm.spec import parse_model_spec
from synthloom.llm.types import Request

TOPICS = [
    "photosynthesis", "the French revolution", "black holes", "sourdough bread", "the stock market",
    "volcanoes", "machine learning", "the Roman empire", "coral reefs", "jazz music", "vaccines",
    "the moon landing", "honey bees", "electric cars", "the water cycle", "chess openings",
]
TASKS = [
    "Explain {} to a ten-year-old.", "Write a short essay about {}.",
    "List five surprising facts about {}.", "Describe the history of {} in detail.",
]


def prompts(count: int) -> list[list[dict[str, str]]]:
    """``count`` distinct single-turn chats (topic x task)."""
    out = []
    for i in range(count):
        topic, task = TOPICS[i % len(TOPICS)], TASKS[(i // len(TOPICS)) % len(TASKS)]
        suffix = "" if i < len(TOPICS) * len(TASKS) else f" (variant {i})"
        out.append([{"role": "user", "content": task.format(topic) + suffix}])
    return out


def run_baseline(chats: list[list[dict[str, str]]], max_tokens: int, threads: int, n_ctx: int) -> float:
    """Completion tokens per second of llama-cpp-python answering the chats one after another."""
    from llama_cpp import Llama

    llm = Llama(
        embedded_gguf_path(), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
        chat_format="chat_template.default", verbose=False,
    )
    start = time.perf_counter()
    tokens = 0
    for chat in chats:
        out = llm.create_chat_completion(chat, temperature=0.0, max_tokens=max_tokens)
        tokens += out["usage"]["completion_tokens"]
    elapsed = time.perf_counter() - start
    llm.close()
    return tokens / elapsed


async def run_batched(
    chats: list[list[dict[str, str]]], max_tokens: int, threads: int, n_seq: int, n_ctx: int, n_batch: int,
    prefix_cache: bool = True,
) -> float:
    """Completion tokens per second of LlamaCppBackend answering all chats concurrently."""
    config = parse_model_spec("embedded", n_seq=n_seq, n_ctx=n_ctx, n_threads=threads, prefix_cache=prefix_cache)
    backend = LlamaCppBackend(config, n_batch=n_batch)
    await backend.complete(Request.completion("Hello", max_tokens=1))  # load the model outside the timing
    start = time.perf_counter()
    responses = await asyncio.gather(
        *[backend.complete(Request.chat(chat, temperature=0.0, max_tokens=max_tokens)) for chat in chats]
    )
    elapsed = time.perf_counter() - start
    await backend.aclose()
    return sum(r.usage.completion_tokens for r in responses) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--n-seq", type=int, default=64, help="sequences decoded together (ours)")
    parser.add_argument("--n-ctx", type=int, default=512, help="context per sequence (ours; baseline gets 2048)")
    parser.add_argument("--n-batch", type=int, default=512, help="tokens per forward pass (ours)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--prefix-cache", choices=["on", "off", "both"], default="on",
                        help="ours with the model setting prefix_cache on (the default), off, or both interleaved")
    args = parser.parse_args()
    logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
    chats = prompts(args.requests)
    baseline: list[float] = []
    ours: list[float] = []
    ours_off: list[float] = []
    for _ in range(args.repeats):  # interleaved, so load from other processes hits both sides alike
        if not args.skip_baseline:
            baseline.append(run_baseline(chats, args.max_tokens, args.threads, 2048))
        for setting, into in (("on", ours), ("off", ours_off)):
            if args.prefix_cache in (setting, "both"):
                into.append(asyncio.run(run_batched(chats, args.max_tokens, args.threads, args.n_seq, args.n_ctx,
                                                    args.n_batch, prefix_cache=setting == "on")))
    if not ours:  # --prefix-cache off: report the off runs as ours
        ours, ours_off = ours_off, []
    result: dict[str, object] = {
        "requests": args.requests, "max_tokens": args.max_tokens, "threads": args.threads,
        "n_seq": args.n_seq, "n_ctx": args.n_ctx, "n_batch": args.n_batch,
        "prefix_cache": args.prefix_cache != "off",
        "ours_tok_s": round(statistics.median(ours), 1), "ours_runs": [round(x, 1) for x in ours],
    }
    if ours_off:
        result["ours_prefix_cache_off_tok_s"] = round(statistics.median(ours_off), 1)
        result["ours_prefix_cache_off_runs"] = [round(x, 1) for x in ours_off]
    if baseline:
        result["baseline_tok_s"] = round(statistics.median(baseline), 1)
        result["baseline_runs"] = [round(x, 1) for x in baseline]
        result["ratio"] = round(statistics.median(ours) / statistics.median(baseline), 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
