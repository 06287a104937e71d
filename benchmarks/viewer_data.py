"""A large run directory for the viewer benchmark: ``data/`` shards written with the project's
:class:`~synthloom.io.shards.ShardWriter` (1,000 rows per shard, as the engine commits them), with text
columns drawn from the words of the project's own documentation so searches behave as on real prose.

    .venv/bin/python benchmarks/viewer_data.py OUT --rows 1000000
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np

from synthloom.io.rundir import RunDir
from synthloom.io.shards import ShardWriter

ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = ["math", "coding", "writing", "reasoning", "extraction", "roleplay", "stem", "humanities"]
MODELS = ["openai:gpt-4o-mini", "openai:qwen2.5-7b@http://127.0.0.1:8000/v1", "embedded"]
#: a word that appears in 1 row per 10,000: the "rare" search of the benchmark
RARE_WORD = "zyzzogeton"


def vocabulary() -> list[str]:
    """Distinct lower-case words of the project's Markdown docs, most frequent first."""
    words: dict[str, int] = {}
    for path in sorted([*ROOT.glob("docs/**/*.md"), ROOT / "README.md"]):
        for w in re.findall(r"[a-z]{2,}", path.read_text(encoding="utf-8").lower()):
            words[w] = words.get(w, 0) + 1
    return sorted(words, key=lambda w: -words[w])


def sentence_pool(rng: np.random.Generator, words: list[str], n: int) -> list[str]:
    """``n`` sentences of 6 to 20 words drawn with a Zipf-like frequency (rank ** -1.1)."""
    weights = 1.0 / np.arange(1, len(words) + 1) ** 1.1
    weights /= weights.sum()
    lengths = rng.integers(6, 21, size=n)
    picks = rng.choice(len(words), size=int(lengths.sum()), p=weights)
    out, at = [], 0
    for length in lengths:
        chunk = [words[i] for i in picks[at:at + length]]
        at += length
        out.append(chunk[0].capitalize() + " " + " ".join(chunk[1:]) + ".")
    return out


def make_rows(rng: np.random.Generator, pool: list[str], start: int, count: int) -> list[dict]:
    """Rows ``start .. start+count`` of the benchmark run: instruction, response, category, score, model, lineage."""
    picks = rng.integers(0, len(pool), size=(count, 10))
    scores = np.round(rng.random(count), 4)
    cats = rng.integers(0, len(CATEGORIES), size=count)
    models = rng.integers(0, len(MODELS), size=count)
    tokens = rng.integers(20, 900, size=count)
    rows = []
    for i in range(count):
        n = start + i
        p = picks[i]
        instruction = f"{pool[p[0]]} {pool[p[1]]} Item {n}?"
        response = " ".join(pool[j] for j in p[2:])
        if n % 10_000 == 7:
            response += f" The {RARE_WORD} was mentioned once."
        lineage = [{"step": "answer", "model": MODELS[models[i]], "prompt_hash": f"{n:016x}",
                    "params": {"temperature": 0.7, "max_tokens": 1024, "seed": n},
                    "usage": {"prompt_tokens": 60, "completion_tokens": int(tokens[i])}, "finish_reason": "stop"}]
        rows.append({"id": f"{n:016x}", "_lineage": lineage, "instruction": instruction,
                     "response": response, "category": CATEGORIES[cats[i]], "score": float(scores[i]),
                     "model": MODELS[models[i]], "completion_tokens": int(tokens[i])})
    return rows


def write_run(out: Path, rows: int, shard_rows: int = 1000, seed: int = 0) -> Path:
    """Write a completed run of ``rows`` rows into ``out`` (skipped when it is already there)."""
    run = RunDir(out)
    if run.run_json.exists() and (run.read_run_json() or {}).get("rows", {}).get("data") == rows:
        return out
    run.create()
    rng = np.random.default_rng(seed)
    pool = sentence_pool(rng, vocabulary(), 50_000)
    writer = ShardWriter(run.data)
    started = time.time()
    for shard, start in enumerate(range(0, rows, shard_rows)):
        writer.write_shard(shard, make_rows(rng, pool, start, min(shard_rows, rows - start)))
    writer.finalize()
    counts = {"answer": {"in": rows, "ok": rows, "out": rows, "rejected": 0, "errors": 0}}
    run.write_run_json({"status": "completed", "pipeline": "viewer-bench", "started": started, "finished": time.time(),
                        "rows": {"data": rows, "rejected": 0, "errors": 0}, "counts": counts})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    started = time.perf_counter()
    write_run(args.out, args.rows)
    print(f"{args.rows} rows in {args.out} ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
