"""Backward synthesis: a question from a solution, kept only when solving it gives the answer back."""

from __future__ import annotations

import pytest
from recipe_e2e import run_recipe

from synthloom.methods.reasoning.backward_synthesis import BackwardSynthesis
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import needs_embedded
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

SEED = {"id": "s1", "question": "old", "answer": "54", "solution": "9 boxes of 6 pencils is 9 * 6 = 54 pencils."}


def _model(question: str, solves: list[str]) -> ScriptedModel:
    def reply(req, j):
        text = user_text(req)
        if text.rstrip().endswith("Question:"):
            assert "Solution: 9 boxes of 6 pencils" in text and "Answer: 54" in text
            return question
        assert "9 * 6 = 54" not in text  # the solver never sees the solution
        return solves[j]
    return ScriptedModel(reply)


def test_question_kept_when_solved_back_to_the_answer():
    model = _model("Question: A box holds 6 pencils. How many pencils are in 9 boxes?\n\nExtra chatter.",
                   ["9 * 6 = 54. \\boxed{54}", "\\boxed{50}"])
    [[row]] = run_step(BackwardSynthesis("back", k=2), model, [SEED])
    assert row["query"] == "A box holds 6 pencils. How many pencils are in 9 boxes?"
    assert row["response"] == SEED["solution"] and row["solver_solution"] == "9 * 6 = 54. \\boxed{54}"
    assert (row["n_correct"], row["n_solves"], row["gold_answer"], row["id"]) == (1, 2, "54", "s1")
    assert "Problem: A box holds 6 pencils." in user_text(model.requests[1])


def test_unsolved_leaking_or_empty_questions_are_rejected():
    [out] = run_step(BackwardSynthesis("back", k=2, min_correct=2),
                     _model("How many pencils in 9 boxes of 6?", ["\\boxed{54}", "\\boxed{15}"]), [SEED])
    assert isinstance(out, Rejected) and out.score == 0.5 and out.reason == (
        "generated question not solved back to the answer: 1 of 2 solves correct, 2 needed "
        "(wrong answer: predicted 15, gold 54)")
    [out] = run_step(BackwardSynthesis("back", k=1), _model("What is 9*6? The answer is 54.", ["x"]), [SEED])
    assert out == Rejected("the generated question gives away its answer")
    [out] = run_step(BackwardSynthesis("back", k=1), _model("  ", ["x"]), [SEED])
    assert out == Rejected("the generated question is empty")
    [out] = run_step(BackwardSynthesis("back", k=1), _model("q", ["x"]), [{**SEED, "solution": None}])
    assert out == Rejected("no solution to write a question for in column 'solution'")
    with pytest.raises(ValueError, match="min_correct must be between 1 and k=2"):
        BackwardSynthesis("back", k=2, min_correct=3)
    assert "question" not in BackwardSynthesis("back").reads


@pytest.mark.slow
@needs_embedded
def test_backward_synthesis_recipe_on_the_embedded_model(tmp_path):
    run, data, rejected = run_recipe(tmp_path, "backward-synthesis", "backward", "steps.backward.k=1")
    assert run["counts"]["backward"]["in"] == 1 and len(data) + len(rejected) == 1
    assert all(r["n_correct"] >= 1 and r["query"] and r["response"] == r["solution"] for r in data)
    assert all(r["_rejected_by"] == "backward" and r["_reason"] for r in rejected)
