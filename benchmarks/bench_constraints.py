"""Constraint checks per second for the IFEval-style library (``synthloom.verify.instructions``).

Responses are generated here (seeded): prose of 20-400 words in paragraphs, with bullet and
numbered lists, titles, JSON bodies, headings, tables, postscripts and quotation in varying
shares, so every checker meets texts that pass and texts that fail. For every constraint kind,
specs are drawn with the kind's own argument sampler, and each (response, spec) pair is checked:

* reference: one regular-expression word split of the response (``re.findall(r"\\w+", text)``), the
  least any checker does, timed in the same process;
* strict: ``Constraint.check(response, kwargs)``;
* loose: ``Constraint.check(response, kwargs, loose=True)`` (IFEval's eight variants; it stops at
  the first that passes).

Prints checks/s per kind and overall (all kinds mixed) as the median of ``--repeats`` runs, the
ratio to the reference, and the 1-minute load average before the runs. Writes
``benchmarks/results/bench_constraints.json``.

    .venv/bin/python benchmarks/bench_constraints.py [--responses N] [--repeats R]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import time
from pathlib import Path

from synthloom.verify.instructions import REGISTRY

WORDS = ("river moon tide energy design history practice balance garden window market island forest signal "
         "answer simple quickly because however although people water light city music").split()


def make_response(rng: random.Random) -> str:
    """One response in a shape drawn at random (seeded)."""
    def sentence() -> str:
        words = [rng.choice(WORDS) for _ in range(rng.randint(4, 14))]
        if rng.random() < 0.15:
            words[rng.randrange(len(words))] = rng.choice(WORDS).upper()
        text = " ".join(words)
        text = text if rng.random() < 0.7 else text.replace(" ", ", ", 1)
        return text[0].upper() + text[1:] + rng.choice(".!?..")

    def paragraph() -> str:
        return " ".join(sentence() for _ in range(rng.randint(1, 5)))

    shape = rng.choice(["prose", "prose", "bullets", "numbered", "json", "sections", "table", "two"])
    if shape == "json":
        body = json.dumps({"answer": paragraph(), "points": [sentence() for _ in range(rng.randint(1, 4))]})
        return f"```json\n{body}\n```" if rng.random() < 0.5 else body
    if shape == "bullets":
        parts = [paragraph(), "\n".join(f"* {sentence()}" for _ in range(rng.randint(2, 6)))]
    elif shape == "numbered":
        parts = [paragraph(), "\n".join(f"{i}. {sentence()}" for i in range(1, rng.randint(3, 7)))]
    elif shape == "sections":
        parts = [f"## SECTION {i}\n{paragraph()}" for i in range(1, rng.randint(2, 5))]
    elif shape == "table":
        rows = "\n".join(f"| {rng.choice(WORDS)} | {rng.randint(1, 99)} |" for _ in range(rng.randint(1, 5)))
        parts = [paragraph(), f"| name | value |\n|---|---|\n{rows}"]
    elif shape == "two":
        parts = [paragraph(), "******", paragraph()]
    else:
        parts = [paragraph() for _ in range(rng.randint(1, 5))]
    sep = "\n***\n" if rng.random() < 0.2 else "\n\n"
    text = sep.join(parts)
    if rng.random() < 0.3:
        text = f"<<{rng.choice(WORDS).title()} {rng.choice(WORDS)}>>\n{text}"
    if rng.random() < 0.2:
        text += f"\nP.S. {sentence()}"
    if rng.random() < 0.1:
        text = text.lower()
    if rng.random() < 0.1:
        text = f'"{text}"'
    if rng.random() < 0.2:
        text = "Sure, here is my answer:\n" + text
    return text


def pairs_for(kind: str, responses: list[str], seed: int) -> list[tuple[str, dict]]:
    rng = random.Random(f"{kind}\x1f{seed}")
    c = REGISTRY[kind]
    return [(r, c.draw(rng, "Write an essay about volcanic islands and their ecology.")) for r in responses]


def timed(fn, items) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return len(items) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--responses", type=int, default=400, help="responses per kind (default 400)")
    ap.add_argument("--repeats", type=int, default=5, help="runs per measurement; the median is reported (default 5)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_constraints.json"))
    args = ap.parse_args()
    load = os.getloadavg()[0]
    rng = random.Random(0)
    responses = [make_response(rng) for _ in range(args.responses)]
    kinds = sorted(REGISTRY)
    pairs = {k: pairs_for(k, responses, 0) for k in kinds}
    mixed = [(REGISTRY[k], r, kw) for k in kinds for r, kw in pairs[k]]
    random.Random(1).shuffle(mixed)
    for c, r, kw in mixed[:200]:  # warm caches (regexes, the language detector's tables)
        c.check(r, kw, loose=True)

    def median(fn, items) -> float:
        return statistics.median(timed(fn, items) for _ in range(args.repeats))

    reference = median(lambda t: re.findall(r"\w+", t[1]), mixed)
    rows = {}
    for k in kinds:
        c = REGISTRY[k]
        strict = median(lambda p, c=c: c.check(p[0], p[1]), pairs[k])
        loose = median(lambda p, c=c: c.check(p[0], p[1], loose=True), pairs[k])
        passed = sum(c.check(r, kw) for r, kw in pairs[k]) / len(pairs[k])
        rows[k] = {"strict_per_s": round(strict), "loose_per_s": round(loose), "strict_pass_share": round(passed, 3)}
    overall_strict = median(lambda t: t[0].check(t[1], t[2]), mixed)
    overall_loose = median(lambda t: t[0].check(t[1], t[2], loose=True), mixed)
    print(f"load average (1 min) before the runs: {load:.2f}; {len(responses)} responses, {len(mixed)} checks per run, "
          f"median of {args.repeats} runs")
    print(f"{'kind':48s} {'strict/s':>10s} {'loose/s':>10s} {'pass':>6s}")
    for k, v in rows.items():
        print(f"{k:48s} {v['strict_per_s']:>10,d} {v['loose_per_s']:>10,d} {v['strict_pass_share']:>6.2f}")
    print(f"{'overall (all kinds mixed)':48s} {overall_strict:>10,.0f} {overall_loose:>10,.0f}")
    print(f"reference (one word split per response): {reference:,.0f}/s; strict checks run at "
          f"{overall_strict / reference:.3f}x and loose at {overall_loose / reference:.3f}x the reference")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"load_1min": load, "responses": len(responses), "repeats": args.repeats,
                                          "reference_per_s": round(reference), "overall_strict_per_s": round(overall_strict),
                                          "overall_loose_per_s": round(overall_loose), "kinds": rows}, indent=1))


if __name__ == "__main__":
    main()
