"""Orca-Math suggester → editor hardening; kept when the k solutions agree on an answer."""

from __future__ import annotations

import pytest
from recipe_e2e import run_recipe

from synthloom.methods.reasoning.orca_math import OrcaMathHarden
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import needs_embedded
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

SEED = {"id": "s1", "question": "A box holds 6 pencils. How many pencils are in 9 boxes?", "answer": "54",
        "solution": "9 * 6 = 54"}


def _model(solves):
    def reply(req, j):
        text = user_text(req)
        if text.rstrip().endswith("Suggestions:"):
            return "- add a second kind of box"
        if text.rstrip().endswith("New question:"):
            n = text.count("Suggestions:")
            assert n == 1
            return ("A box holds 6 pencils and a case holds 2 boxes. How many pencils are in 9 boxes?"
                    if "and a case" not in text else
                    "A box holds 6 pencils and a case holds 2 boxes. How many pencils are in 9 cases?")
        return solves[j]
    return ScriptedModel(reply)


def test_two_rounds_then_majority_answer_is_the_new_gold():
    model = _model(["2 * 9 = 18 boxes, 18 * 6 = 108. \\boxed{108}", "\\boxed{108.0}", "\\boxed{54}", "\\boxed{108}"])
    [[row]] = run_step(OrcaMathHarden("harden", k=4), model, [SEED])
    assert row["query"] == row["question"] == "A box holds 6 pencils and a case holds 2 boxes. How many pencils are in 9 cases?"
    assert (row["original_question"], row["original_answer"]) == (SEED["question"], "54")
    assert (row["gold_answer"], row["answer"], row["agreement"]) == ("108", "108", 0.75)
    assert row["answers"] == ["108", "108.0", "54", "108"] and row["response"].startswith("2 * 9 = 18")
    assert row["suggestions"] == ["- add a second kind of box"] * 2 and "solution" not in row
    assert [e.get("agent") for e in row["_lineage"]] == ["suggester", "editor", "suggester", "editor", "solver"]
    assert len(model.requests) == 5


def test_disagreement_no_answer_and_long_answers_rejected():
    [out] = run_step(OrcaMathHarden("h", k=4), _model(["\\boxed{1}", "\\boxed{2}", "\\boxed{1}", "\\boxed{3}"]), [SEED])
    assert isinstance(out, Rejected) and out.reason == (
        "no agreement: answers ['1', '2', '1', '3'], top 2 of 4 < min_agreement 0.75") and out.score == 0.5
    [out] = run_step(OrcaMathHarden("h", k=2, rounds=1), _model(["", ""]), [SEED])
    assert out == Rejected("no final answer in any of the 2 solutions")
    [out] = run_step(OrcaMathHarden("h", k=1, rounds=1, max_answer_chars=10),
                     _model(["a long derivation ... \\boxed{108}"]), [SEED])
    assert isinstance(out, Rejected) and out.reason.startswith("answer over 10 characters")
    with pytest.raises(ValueError, match="min_agreement must be in"):
        OrcaMathHarden("h", min_agreement=0)


@pytest.mark.slow
@needs_embedded
def test_orca_math_recipe_on_the_embedded_model(tmp_path):
    run, data, rejected = run_recipe(tmp_path, "orca-math", "harden", "steps.harden.rounds=1", "steps.harden.k=2",
                                     "steps.harden.min_agreement=1.0", "steps.ask_me_anything.max_tokens=48",
                                     "steps.ask_me_anything.max_problems=1", "steps.ask_me_anything.k=1")
    c = run["counts"]
    assert c["harden"]["in"] == c["ask_me_anything"]["in"] == 1
    rows_out = {step: c.get(step, {}).get("out", 0) for step in ("problems", "harden", "ama_verified")}
    assert rows_out["problems"] == rows_out["harden"] + rows_out["ama_verified"] == len(data)  # steps without input: 0
    assert all(r["agreement"] == 1.0 and r["answers"][0] == r["gold_answer"] for r in data if r["agent"] == "harden")
    assert all(r["correct"] and r["n_correct"] >= 1 for r in data if r["agent"] == "ama_verified")
    assert all(r["_rejected_by"] in ("harden", "ask_me_anything", "ama_verified") and r["_reason"] for r in rejected)
