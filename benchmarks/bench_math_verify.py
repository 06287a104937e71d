"""Math verification throughput: synthloom's MathVerifier vs math-verify's parse+verify per pair.

A mixed set of (prediction, gold) pairs — plain numbers in prose, fractions and decimals,
LaTeX expressions that need SymPy, boxed answers in longer solutions, a few exact-rational traps —
is checked twice in the same run:

* reference: ``math_verify.parse(pred)``, ``parse("$" + gold + "$")``, ``verify(gold, pred)`` per pair, in
  this process's main thread (its defaults, including its signal-based timeouts);
* synthloom: ``MathVerifier(workers=2, timeout=5).verify_many(pairs)`` (extraction + fast path in
  this process, SymPy in 2 worker processes), timed after the workers have started.

Prints pairs/s for both, the ratio, the share decided by the fast path, and the agreement of the
verdicts (disagreements are listed by kind). Writes ``benchmarks/results/bench_math_verify.json``.

    .venv/bin/python benchmarks/bench_math_verify.py [--small] [--pairs N]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import time
from pathlib import Path


def make_pairs(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """``(kind, prediction text, gold)`` — every expression distinct, so no cache hides the work."""
    rng = random.Random(seed)
    out: list[tuple[str, str, str]] = []
    kinds = ["plain", "plain", "fraction", "fraction", "latex", "boxed", "boxed", "guard"]
    weights = [30, 0, 20, 0, 20, 28, 0, 2]
    for _ in range(n):
        kind = rng.choices(kinds, weights)[0]
        ok = rng.random() < 0.6
        if kind == "plain":
            a = rng.randint(1, 100_000)
            pred = a if ok else a + rng.randint(1, 9)
            text = f"First we add the parts. Then we multiply by {rng.randint(2, 9)}. The answer is {pred:,}."
            out.append((kind, text, str(a)))
        elif kind == "fraction":
            p, q = rng.randint(1, 999), rng.randint(2, 999)
            form = rng.choice(["{p}/{q}", "\\frac{{{p}}}{{{q}}}", "\\dfrac{{{p}}}{{{q}}}"])
            gp, gq = (p, q) if ok else (p + 1, q)
            gold = rng.choice(["{p}/{q}", "\\frac{{{p}}}{{{q}}}"]).format(p=gp * 2, q=gq * 2)
            if rng.random() < 0.3:
                gold = f"{gp / gq:.6f}".rstrip("0")
            out.append((kind, f"so the probability is $\\boxed{{{form.format(p=p, q=q)}}}$", gold))
        elif kind == "latex":
            a, b = rng.randint(2, 50), rng.randint(2, 50)
            style = rng.randrange(6)
            if style == 0:  # sqrt simplification
                pred, gold = f"{a}\\sqrt{{{b * b * 2}}}", f"{a * b}\\sqrt{{2}}" if ok else f"{a * b + 1}\\sqrt{{2}}"
            elif style == 1:  # polynomial identity
                pred, gold = f"(x+{a})^2", f"x^2+{2 * a}x+{a * a}" if ok else f"x^2+{2 * a}x+{a * a + 1}"
            elif style == 2:  # pi
                pred, gold = f"\\frac{{{a}\\pi}}{{{b}}}", f"{a}\\pi/{b}" if ok else f"{a + 1}\\pi/{b}"
            elif style == 3:  # interval
                pred, gold = f"({-a}, {b}]", f"(-{a},{b}]" if ok else f"[-{a},{b}]"
            elif style == 4:  # set (SymPy)
                pred, gold = f"\\{{{a}, {b + 60}\\}}", f"\\{{{b + 60}, {a}\\}}" if ok else f"\\{{{b + 60}, {a + 1}\\}}"
            else:  # trigonometry (SymPy)
                pred, gold = f"{a}\\sin^2 x + {a}\\cos^2 x", f"{a}" if ok else f"{a + 1}"
            out.append((kind, f"Simplifying, we obtain $\\boxed{{{pred}}}$.", gold))
        elif kind == "boxed":
            a = rng.randint(1, 10_000)
            pred = a if ok else -a
            steps = " ".join(f"Step {k}: {rng.randint(1, 99)} + {rng.randint(1, 99)}." for k in range(1, 4))
            out.append((kind, f"{steps} Therefore the final answer is $\\boxed{{{pred}}}$.", f"{a}"))
        else:  # exact-rational trap: math-verify's rounding says equal, they are not
            k = rng.randint(60, 200)
            out.append((kind, f"$\\boxed{{\\frac{{1}}{{2^{{{k}}}}}}}$", f"\\frac{{1}}{{2^{{{k + 1}}}}}"))
    return out


def run_reference(pairs: list[tuple[str, str, str]]) -> tuple[list[bool], float]:
    from math_verify import parse, verify

    verdicts = []
    t0 = time.perf_counter()
    for _, pred, gold in pairs:
        try:
            verdicts.append(bool(verify(parse(f"${gold}$"), parse(pred))))  # gold LaTeX needs delimiters
        except Exception:  # noqa: BLE001 - counted as not equal
            verdicts.append(False)
    return verdicts, time.perf_counter() - t0


def run_synthloom(pairs: list[tuple[str, str, str]], workers: int) -> tuple[list, float, float]:
    from synthloom.verify.math import MathVerifier

    t0 = time.perf_counter()
    v = MathVerifier(workers=workers, timeout=5.0)
    v.verify_many([("\\boxed{\\sin^2 x+\\cos^2 x}", "1")] * workers * 2)  # start the workers (SymPy, not the fast path)
    startup = time.perf_counter() - t0
    t0 = time.perf_counter()
    verdicts = v.verify_many([(p, g) for _, p, g in pairs])
    elapsed = time.perf_counter() - t0
    v.close()
    return verdicts, elapsed, startup


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="400 pairs (a quick check)")
    ap.add_argument("--pairs", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    n = args.pairs or (400 if args.small else 3000)
    logging.disable(logging.WARNING)
    pairs = make_pairs(n)

    ours, t_ours, startup = run_synthloom(pairs, args.workers)
    ref, t_ref = run_reference(pairs)

    agree = sum(1 for a, b in zip(ours, ref) if a.correct == b)
    disagreements: dict[str, int] = {}
    for (kind, _, _), a, b in zip(pairs, ours, ref):
        if a.correct != b:
            key = f"{kind}: synthloom={a.status} math-verify={'equal' if b else 'not equal'}"
            disagreements[key] = disagreements.get(key, 0) + 1
    fast = sum(1 for v in ours if v.detail == "fast path")
    statuses: dict[str, int] = {}
    for v in ours:
        statuses[v.status] = statuses.get(v.status, 0) + 1
    result = {
        "pairs": n,
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "synthloom_pairs_per_s": round(n / t_ours, 1),
        "synthloom_startup_s": round(startup, 2),
        "math_verify_direct_pairs_per_s": round(n / t_ref, 1),
        "ratio": round(t_ref / t_ours, 2),
        "fast_path_share": round(fast / n, 3),
        "agreement": round(agree / n, 4),
        "disagreements": disagreements,
        "statuses": statuses,
        "kinds": {k: sum(1 for p in pairs if p[0] == k) for k in sorted({p[0] for p in pairs})},
    }
    print(f"mixed set: {n} pairs {result['kinds']}")
    print(f"synthloom MathVerifier ({args.workers} workers): {result['synthloom_pairs_per_s']:>9.1f} pairs/s "
          f"(workers started in {startup:.2f} s; fast path decided {fast / n:.0%})")
    print(f"math-verify parse+verify per pair:      {result['math_verify_direct_pairs_per_s']:>9.1f} pairs/s")
    print(f"ratio: {result['ratio']}x   agreement with math-verify: {agree / n:.2%}")
    for k, c in sorted(disagreements.items()):
        print(f"  disagree {c:>4}  {k}")
    out = Path(__file__).parent / "results" / "bench_math_verify.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
