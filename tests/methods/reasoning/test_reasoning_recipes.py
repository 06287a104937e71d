"""The reasoning recipes end to end on the embedded model (tiny n), and the seed problem file."""

from __future__ import annotations

import orjson
import pytest
from recipe_e2e import run_recipe

from synthloom.recipes.loader import BUILTIN_DIR
from synthloom.testing.recipe_runs import needs_embedded
from synthloom.verify.math import MathVerifier

SEED = BUILTIN_DIR / "math_seed_problems.jsonl"


def test_seed_problems_are_forty_and_their_solutions_verify():
    rows = [orjson.loads(line) for line in SEED.read_bytes().splitlines()]
    assert len(rows) == 40 and len({r["id"] for r in rows}) == 40
    with MathVerifier(workers=1, timeout=10) as v:
        verdicts = v.verify_many([(r["solution"], r["answer"]) for r in rows])
    assert [x.status for x in verdicts] == ["correct"] * 40


@pytest.mark.slow
@needs_embedded
def test_rest_em_recipe(tmp_path):
    run, data, rejected = run_recipe(tmp_path, "rest-em", "sample", "steps.sample.k=2", n=2)
    assert run["counts"]["sample"]["in"] == 2 and run["counts"]["sample"]["out"] == 4
    assert run["counts"]["verified"]["in"] == 4 and len(data) + len(rejected) == 4
    assert all(r["correct"] and r["verify_status"] == "correct" for r in data)
    for r in rejected:
        assert r["_rejected_by"] == "verified" and r["_reason"]
        assert r["verify_status"] in ("wrong", "no_answer", "timeout", "error") or "cap" in r["_reason"]
    assert all(r["verify_status"] in ("correct", "wrong", "no_answer", "timeout", "error") for r in data + rejected)


@pytest.mark.slow
@needs_embedded
def test_verified_pairs_recipe(tmp_path):
    run, data, rejected = run_recipe(tmp_path, "verified-pairs", "pairs", "k=2", n=2)
    assert run["counts"]["pairs"]["in"] == 2 and len(rejected) == run["counts"]["pairs"]["rejected"]
    assert all(r["chosen"] != r["rejected"] and r["n_verified"] >= 1 for r in data)
    assert all(r["_reason"].startswith("no preference pair") for r in rejected)


@pytest.mark.slow
@needs_embedded
def test_pass_rate_recipe_labels_every_problem_without_selection(tmp_path):
    run, data, rejected = run_recipe(tmp_path, "pass-rate", "label", "steps.label.k=2", "steps.label.select=false", n=2)
    assert len(data) == 2 and not rejected
    for r in data:
        assert r["n_samples"] == 2 and r["pass_rate"] == r["n_correct"] / 2 and len(r["samples"]) == 2
        assert r["difficulty"] in ("unsolved", "medium", "solved")


@pytest.mark.slow
@needs_embedded
def test_star_recipe(tmp_path):
    run, data, rejected = run_recipe(tmp_path, "star", "star", n=2)
    assert len(data) + len(rejected) == 2
    assert all(r["correct"] and "(The correct answer is" not in r["rationale"] for r in data)
    assert all(r["_rejected_by"] == "star" and r["_reason"] for r in rejected)


#: the long-cot recipe's `domains` param (the JSON-schema enum of its domain step)
DOMAINS = {"arithmetic", "algebra", "geometry", "number theory", "combinatorics", "probability and statistics",
           "calculus and analysis", "other"}


@pytest.mark.slow
@needs_embedded
def test_long_cot_recipe(tmp_path):
    run, data, rejected = run_recipe(tmp_path, "long-cot", "distill", "steps.distill.require_reasoning=false",
                                     "steps.difficulty.max_tokens=48", n=2)
    assert len(data) + len(rejected) == 2 and run["counts"]["domain"]["ok"] == 2
    assert all(r["correct"] and "<think>" not in r["response"] and r["pass_rate"] == 0 for r in data)
    assert all(r["domain"] in DOMAINS for r in data) and sorted(r["selection_rank"] for r in data) == list(range(len(data)))
    for r in rejected:
        assert (r["_rejected_by"], r["_reason"][:10]) in (("distill", "no verifie"), ("select", "too easy: "))
