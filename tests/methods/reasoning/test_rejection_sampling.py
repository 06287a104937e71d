"""Rejection sampling / ReST-EM: k verified samples per problem, the cap, preference pairs."""

from __future__ import annotations

import pytest

from synthloom.methods.reasoning.rejection_sampling import (
    KeepVerified,
    RejectionSampling,
)
from synthloom.pipeline.step import Rejected
from synthloom.testing.scripted import ScriptedModel, run_step

PROBLEM = {"id": "p1", "question": "What is 6 * 7?", "answer": "42"}
# samples 0 and 2 right, 1 wrong, 3 without an answer
REPLIES = ["6 * 7 = 42, so \\boxed{42}", "I think \\boxed{48}", "The answer is 42.", "no idea"]


def test_samples_are_verified_and_ranked():
    model = ScriptedModel(lambda req, j: REPLIES[j])
    [rows] = run_step(RejectionSampling("rs", k=4), model, [PROBLEM])
    assert len(model.requests) == 1 and model.requests[0].n == 4  # one request with n=k
    assert "What is 6 * 7?" in model.requests[0].messages[-1]["content"]
    assert [r["verify_status"] for r in rows] == ["correct", "wrong", "correct", "no_answer"]
    assert [r["verified_rank"] for r in rows] == [0, None, 1, None]
    assert [r["sample_index"] for r in rows] == [0, 1, 2, 3]
    assert len({r["id"] for r in rows}) == 4 and all(r["problem_id"] == "p1" for r in rows)
    assert rows[1]["verify_reason"] == "wrong answer: predicted 48, gold 42"
    assert all(r["question"] == PROBLEM["question"] and r["_lineage"][0]["step"] == "rs" for r in rows)

    keep = KeepVerified("keep", max_per_problem=1)
    verdicts = [keep.check(r) for r in rows]
    assert verdicts[0] is True
    assert isinstance(verdicts[1], Rejected) and verdicts[1].reason == "wrong answer: predicted 48, gold 42"
    assert isinstance(verdicts[2], Rejected) and "cap of 1" in verdicts[2].reason
    assert isinstance(verdicts[3], Rejected) and "no final answer" in verdicts[3].reason


def test_seeds_mode_sends_k_requests_with_distinct_seeds():
    model = ScriptedModel(lambda req, j: f"\\boxed{{{req.seed % 2 + 41}}}")
    [rows] = run_step(RejectionSampling("rs", k=3, sampling="seeds"), model, [PROBLEM])
    assert len(model.requests) == 3 and len({r.seed for r in model.requests}) == 3
    assert all(r.n == 1 for r in model.requests) and len(rows) == 3


def test_seeds_come_from_the_record_or_the_seed_option_and_the_options_reach_the_request():
    model = ScriptedModel(lambda req, j: "\\boxed{42}")
    step = RejectionSampling("rs", k=2)
    run_step(step, model, [PROBLEM])
    [req] = model.requests
    assert req.seed == step.seed_for(PROBLEM, "") and (req.n, req.temperature, req.max_tokens) == (2, 1.0, 512)

    model = ScriptedModel(lambda req, j: "\\boxed{42}")
    run_step(RejectionSampling("rs", k=3, sampling="seeds", seed=7, temperature=0, stop="###"), model, [PROBLEM])
    assert sorted(r.seed for r in model.requests) == [7, 8, 9]  # seeded at temperature 0 too
    assert all(r.temperature == 0 and r.stop == ("###",) for r in model.requests)


def test_pairs_mode_pairs_verified_with_failed_and_rejects_problems_without_a_pair():
    model = ScriptedModel(lambda req, j: REPLIES[j])
    [pairs] = run_step(RejectionSampling("rs", k=4, emit="pairs"), model, [PROBLEM])
    assert [(p["chosen"], p["rejected"]) for p in pairs] == [(REPLIES[0], REPLIES[1]), (REPLIES[2], REPLIES[3])]
    assert pairs[0]["rejected_answer"] == "48" and pairs[1]["rejected_status"] == "no_answer"
    assert all(p["n_verified"] == 2 and p["n_samples"] == 4 for p in pairs)

    all_right = ScriptedModel(lambda req, j: "\\boxed{42}")
    [out] = run_step(RejectionSampling("rs", k=2, emit="pairs"), all_right, [PROBLEM])
    assert isinstance(out, Rejected) and out.reason == "no preference pair: 2 of 2 samples verified (all verified)"


def test_bad_options_are_clear():
    with pytest.raises(ValueError, match="emit must be"):
        RejectionSampling("rs", emit="both")
    with pytest.raises(ValueError, match="k must be >= 1"):
        RejectionSampling("rs", k=0)
    with pytest.raises(ValueError, match="sampling must be"):
        RejectionSampling("rs", sampling="beam")
    with pytest.raises(ValueError, match="max_per_problem"):
        KeepVerified("k", max_per_problem=0)
