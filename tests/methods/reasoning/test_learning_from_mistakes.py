"""LeMa: wrong solutions go to the corrector; the correction is parsed and kept only if it verifies."""

from __future__ import annotations

import pytest
from recipe_e2e import run_recipe

from synthloom.methods.reasoning.learning_from_mistakes import (
    CorrectionFormatError,
    LearningFromMistakes,
    parse_correction,
)
from synthloom.methods.reasoning.rejection_sampling import KeepVerified
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import needs_embedded
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

PROBLEM = {"id": "p1", "question": "Tina buys 3 notebooks at $5 each and a pen for $2. How much does she spend?",
           "answer": "17"}
CORRECTION = ("Incorrect Step: Step 2.\nExplanation: The pen is added,\nnot multiplied.\nCorrect Solution:\n"
              "Step 2: 15 + 2 = 17 dollars.\nStep 3: The answer is \\boxed{17}.")


def test_parse_correction_sections():
    got = parse_correction(CORRECTION)
    assert got["incorrect_step"] == 2 and got["incorrect_step_text"] == "Step 2."
    assert got["explanation"] == "The pen is added,\nnot multiplied."
    assert got["corrected_solution"] == "Step 2: 15 + 2 = 17 dollars.\nStep 3: The answer is \\boxed{17}."
    assert parse_correction("incorrect step: the second one\ncorrected solution: 17")["incorrect_step"] is None
    with pytest.raises(CorrectionFormatError, match="no 'Incorrect Step:'"):
        parse_correction("Correct Solution: 17")
    with pytest.raises(CorrectionFormatError, match="no 'Correct Solution:'"):
        parse_correction("Incorrect Step: Step 1.\nExplanation: x")
    with pytest.raises(CorrectionFormatError, match="found no incorrect step"):
        parse_correction("Incorrect Step: None.\nCorrect Solution: 17")


def _reply(req, j):
    text = user_text(req)
    if "Original Solution:" in text:
        assert "Step 1: The notebooks cost 3 * 5 = 15 dollars." in text  # the wrong solution, numbered
        return CORRECTION if "15 * 2" in text else "Incorrect Step: Step 1.\nCorrect Solution:\nThe answer is \\boxed{30}."
    return ["The notebooks cost 3 * 5 = 15 dollars.\nWith the pen, 15 * 2 = 30.\nThe answer is \\boxed{30}.",
            "The notebooks cost 3 * 5 = 15 dollars. 15 + 2 = 17. \\boxed{17}",
            "The notebooks cost 3 * 5 = 15 dollars.\nWith the pen 15 * 3 = 45.\n\\boxed{45}"][j]


def test_wrong_solutions_corrected_and_verified():
    model = ScriptedModel(_reply)
    [rows] = run_step(LearningFromMistakes("lema", k=3, corrector_model="default"), model, [PROBLEM])
    assert len(rows) == 2  # the two wrong of three samples
    good, bad = rows
    assert good["wrong_solution"].splitlines()[1] == "Step 2: With the pen, 15 * 2 = 30."
    assert (good["wrong_answer"], good["incorrect_step"], good["correct"], good["pred_answer"]) == ("30", 2, True, "17")
    assert good["explanation"] == "The pen is added,\nnot multiplied." and good["verified_rank"] == 0
    assert (bad["wrong_answer"], bad["correct"]) == ("45", False)
    assert bad["verify_reason"] == "correction: wrong answer: predicted 30, gold 17"
    correct_reqs = [r for r in model.requests if "Original Solution:" in user_text(r)]
    assert len(correct_reqs) == 2 and all(r.temperature == 0.0 for r in correct_reqs)
    assert [e.get("correction_of") for e in good["_lineage"]] == [None, 0, 2]
    assert KeepVerified("keep").check(good) is True and isinstance(KeepVerified("keep").check(bad), Rejected)


def test_unparseable_correction_is_a_row_with_a_reason_and_no_mistakes_rejects():
    def reply(req, j):
        return "I think it is fine." if "Original Solution:" in user_text(req) else "\\boxed{3}"

    [rows] = run_step(LearningFromMistakes("lema", k=1), ScriptedModel(reply), [PROBLEM])
    [row] = rows
    assert row["verify_status"] == "unparsed" and not row["correct"]
    assert row["verify_reason"] == "correction not usable: no 'Incorrect Step:' line in the correction"
    assert KeepVerified("keep").check(row).reason == row["verify_reason"]

    [out] = run_step(LearningFromMistakes("lema", k=2), ScriptedModel(lambda r, j: "\\boxed{17}"), [PROBLEM])
    assert isinstance(out, Rejected) and out.reason == "no wrong solution to correct: 2 of 2 samples verified (correct)"
    [out] = run_step(LearningFromMistakes("lema", k=1), ScriptedModel(lambda r, j: "no idea"), [PROBLEM])
    assert isinstance(out, Rejected) and "(no_answer)" in out.reason


def test_corrector_model_is_declared_and_options_checked():
    step = LearningFromMistakes("lema", corrector_model="teacher")
    assert step.models == ["default", "teacher"]
    with pytest.raises(ValueError, match="max_corrections must be >= 1"):
        LearningFromMistakes("lema", max_corrections=0)


@pytest.mark.slow
@needs_embedded
def test_learning_from_mistakes_recipe_on_the_embedded_model(tmp_path):
    run, data, rejected = run_recipe(tmp_path, "learning-from-mistakes", "corrections", "steps.corrections.k=2",
                                     "steps.corrections.max_corrections=1")
    c = run["counts"]
    assert c["corrections"]["in"] == 1
    assert c["verified"]["in"] == c["corrections"]["out"] == c["verified"]["ok"] + c["verified"]["rejected"]
    assert len(data) == c["verified"]["ok"]
    for r in data:
        assert r["correct"] and r["verify_status"] == "correct" and r["wrong_answer"] != r["pred_answer"]
    for r in rejected:
        assert r["_rejected_by"] in ("corrections", "verified") and r["_reason"]
        if r["_rejected_by"] == "corrections":
            assert r["_reason"].startswith("no wrong solution to correct")
        else:
            assert not r["correct"] and r["wrong_solution"].startswith("Step 1:")
