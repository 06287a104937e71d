"""Backward synthesis (MathGenie): solutions augmented round after round, each back-translated into a
question whose gold is the augmented solution's answer, kept only when independent solves reach it."""

from __future__ import annotations

import pytest
from recipe_e2e import run_recipe

from synthloom.methods.reasoning.backward_synthesis import BackwardSynthesis, augmented_solution
from synthloom.methods.reasoning.rejection_sampling import KeepVerified
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import needs_embedded
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

SEED = {"id": "s1", "question": "A box holds 6 pencils. How many pencils are in 9 boxes?", "answer": "54",
        "solution": "9 boxes of 6 pencils is 9 * 6 = 54 pencils. The answer is 54."}
ROUND1 = "A crate holds 8 melons, so 7 crates hold 7 * 8 = 56 melons. The answer is 56."
ROUND2 = "A crate holds 8 melons, so 7 crates hold 7 * 8 = 56 melons; 4 are sold: 56 - 4 = 52. The answer is 52."
Q1, Q2 = "A crate holds 8 melons. How many melons are in 7 crates?", "How many melons are left?"


def _model(solves: dict[str, list[str]], question_for=None, round1: str = ROUND1) -> ScriptedModel:
    def reply(req, j):
        text = user_text(req)
        if text.rstrip().endswith("New solution:"):
            return round1 if "9 * 6 = 54" in text else ROUND2 + "\n\nI hope this helps!"
        if text.rstrip().endswith("Question:"):
            solution = text.rsplit("Solution: ", 1)[1]
            if question_for:
                return question_for(solution)
            return Q1 if "7 * 8 = 56 melons." in solution and "sold" not in solution else Q2
        assert "Solution:" not in text  # the solver never sees a solution
        return solves[text.split("Problem: ", 1)[1].strip()][j]
    return ScriptedModel(reply)


def test_each_round_augments_the_previous_solution_and_its_answer_becomes_the_gold():
    model = _model({Q1: ["7 * 8 = 56. \\boxed{56}", "\\boxed{54}"], Q2: ["\\boxed{54}", "\\boxed{60}"]})
    [rows] = run_step(BackwardSynthesis("back", augment_rounds=2, augmentations=["objects", "add_step"]), model, [SEED])
    first, second = rows
    assert (first["augment_round"], first["question"], first["answer"], first["gold_answer"]) == (1, Q1, "56", "56")
    assert first["solution"] == first["response"] == ROUND1 and first["correct"] and first["n_correct"] == 1
    assert first["solver_solution"] == "7 * 8 = 56. \\boxed{56}"
    # round 2 rewrote round 1's solution (not the seed's): the chatter after the answer line is cut off
    assert second["solution"] == ROUND2 and second["answer"] == "52" and second["augment_round"] == 2
    assert not second["correct"] and second["verify_reason"] == (
        "generated question not solved back to the answer: 0 of 2 solves correct, 1 needed "
        "(wrong answer: predicted 54, gold 52)")
    assert sorted(first["augmentation"] + second["augmentation"][1:]) == ["add_step", "objects"]
    assert (first["original_question"], first["original_answer"]) == (SEED["question"], "54")
    augment_prompts = [user_text(r) for r in model.requests if user_text(r).rstrip().endswith("New solution:")]
    assert "9 * 6 = 54" in augment_prompts[0] and ROUND1 in augment_prompts[1]
    # the back-translator sees the solution without its answer sentence, and the answer apart
    question_prompt = next(user_text(r) for r in model.requests if user_text(r).rstrip().endswith("Question:")
                           and "melons; 4" in user_text(r))
    assert "Answer: 52" in question_prompt and "The answer is 52" not in question_prompt
    keep = KeepVerified("keep")
    assert keep.check(first) is True and keep.check(second) == Rejected(second["verify_reason"], 0.0)
    assert {e.get("stage") for e in first["_lineage"]} == {"augment", "back_translate", "verify"}


def test_include_seed_back_translates_the_seed_solution_with_the_seed_answer():
    model = _model({Q1: ["\\boxed{56}", "\\boxed{56}"], "How many pencils?": ["\\boxed{54}", "\\boxed{5}"]},
                   question_for=lambda s: "How many pencils?" if "pencils" in s else Q1)
    [rows] = run_step(BackwardSynthesis("back", augment_rounds=1, include_seed=True), model, [SEED])
    assert [(r["augment_round"], r["answer"], r["correct"]) for r in rows] == [(0, "54", True), (1, "56", True)]
    assert rows[0]["augmentation"] == [] and rows[1]["n_correct"] == 2


def test_leaks_empty_questions_and_answerless_augmentations_are_rejected():
    [rows] = run_step(BackwardSynthesis("back", augment_rounds=1, k=1),
                      _model({}, question_for=lambda s: "What is 7*8? The answer is 56."), [SEED])
    assert rows[0]["verify_reason"] == "the generated question gives away its answer" and not rows[0]["correct"]
    [rows] = run_step(BackwardSynthesis("back", augment_rounds=1, k=1), _model({}, question_for=lambda s: "  "), [SEED])
    assert rows[0]["verify_reason"] == "the generated question is empty"
    [out] = run_step(BackwardSynthesis("back", augment_rounds=2, augmentations="numbers"),
                     _model({}, round1="Some melons, no result."), [SEED])
    assert out == Rejected("round 1 (numbers): the augmented solution states no final answer")
    [out] = run_step(BackwardSynthesis("back"), _model({}), [{**SEED, "solution": None}])
    assert out == Rejected("no solution to write a question for in column 'solution'")
    with pytest.raises(ValueError, match="min_correct must be between 1 and k=2"):
        BackwardSynthesis("back", k=2, min_correct=3)
    with pytest.raises(ValueError, match="augmentations must be some of"):
        BackwardSynthesis("back", augmentations=["colours"])
    with pytest.raises(ValueError, match="augment_rounds must be >= 1"):
        BackwardSynthesis("back", augment_rounds=0)
    assert not {"question", "answer"} & BackwardSynthesis("back").reads
    assert augmented_solution("New solution: 2 + 2 = 4. The answer is 4.\nMore text.") == "2 + 2 = 4. The answer is 4."


@pytest.mark.slow
@needs_embedded
def test_backward_synthesis_recipe_on_the_embedded_model(tmp_path):
    run, data, rejected = run_recipe(tmp_path, "backward-synthesis", "backward", "steps.backward.k=1",
                                     "steps.backward.augment_rounds=1")
    c = run["counts"]
    assert c["backward"]["in"] == 1 and c["verified"]["in"] == c["backward"]["out"]
    assert all(r["n_correct"] >= 1 and r["query"] and r["response"] == r["solution"] for r in data)
    assert all(r["_rejected_by"] in ("backward", "verified") and r["_reason"] for r in rejected)
