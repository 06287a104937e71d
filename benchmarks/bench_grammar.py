"""Grammar-constrained decoding on the embedded model: draw-then-check (``llamacpp_grammar.GrammarGate``, the default)
against masking the whole vocabulary before every draw (llama.cpp's ``grammar_first``, what the engine did before).

Workload: judge-style requests, each a short item and a JSON schema (an explanation of at most 300 characters, then
a score 1-5), temperature 0.7, ``--max-tokens`` out; ``--requests`` of them at once (the engine decodes up to 16
together) and, separately, one at a time. Both sides run in the same process on the same model, interleaved within
each repeat; the engine's ``grammar_first`` switch is the only difference. Prints medians of completion tokens/s
and the ratio as JSON.

    .venv/bin/python benchmarks/bench_grammar.py [--requests 32] [--max-tokens 128] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from synthloom.llm.backends.llamacpp import LlamaCppBackend
from synthloom.llm.spec import parse_model_spec
from synthloom.llm.types import Request

SCHEMA = {"type": "object", "properties": {"explanation": {"type": "string", "maxLength": 300},
                                           "score": {"type": "integer", "enum": [1, 2, 3, 4, 5]}},
          "required": ["explanation", "score"], "additionalProperties": False}
ITEMS = ["Paris is the capital of France.", "Water boils at 50 degrees Celsius at sea level.",
         "The mitochondria is the powerhouse of the cell.", "Shakespeare wrote Pride and Prejudice.",
         "A hexagon has six sides.", "Plants absorb carbon dioxide from the air."]


def requests(count: int, max_tokens: int, repeat: int) -> list[Request]:
    return [Request.chat([{"role": "user", "content": f"Grade this answer from 1 to 5 and explain: {ITEMS[i % len(ITEMS)]}"}],
                         json_schema=SCHEMA, temperature=0.7, seed=1000 * repeat + i, max_tokens=max_tokens)
            for i in range(count)]


async def timed(backend: LlamaCppBackend, batch: list[Request], together: bool) -> tuple[float, int]:
    start = time.perf_counter()
    if together:
        responses = await asyncio.gather(*[backend.complete(r) for r in batch])
    else:
        responses = [await backend.complete(r) for r in batch]
    return time.perf_counter() - start, sum(r.usage.completion_tokens for r in responses)


async def main(args: argparse.Namespace) -> dict:
    backend = LlamaCppBackend(parse_model_spec("embedded", n_seq=16))
    await backend.complete(Request.chat([{"role": "user", "content": "hi"}], max_tokens=2, temperature=0))
    engine = backend._engine
    results: dict[str, list[float]] = {}
    for repeat in range(args.repeats):
        for mode, together, count in (("together", True, args.requests), ("one_at_a_time", False, max(4, args.requests // 4))):
            for side in ("check_drawn", "mask_first"):
                engine.grammar_first = side == "mask_first"
                seconds, tokens = await timed(backend, requests(count, args.max_tokens, repeat), together)
                results.setdefault(f"{mode}/{side}", []).append(tokens / seconds)
                print(f"repeat {repeat} {mode:14s} {side:11s} {tokens:6d} tokens {seconds:6.2f} s {tokens / seconds:7.1f} tok/s",
                      flush=True)
    engine.grammar_first = False
    await backend.aclose()
    medians = {k: round(statistics.median(v), 1) for k, v in results.items()}
    ratios = {mode: round(medians[f"{mode}/check_drawn"] / medians[f"{mode}/mask_first"], 2)
              for mode in ("together", "one_at_a_time")}
    return {"tokens_per_s": medians, "ratio_check_drawn_over_mask_first": ratios, "requests": args.requests,
            "max_tokens": args.max_tokens, "repeats": args.repeats}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=1))
