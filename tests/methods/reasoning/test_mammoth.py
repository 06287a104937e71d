"""MAmmoTH: chain-of-thought rationales verified by the math verifier, program-of-thought rationales
run in the sandbox and kept when their printed answer verifies; then the recipe on the embedded model."""

from __future__ import annotations

import pytest
from recipe_e2e import run_recipe

from synthloom.methods.reasoning.mammoth import POT_TRIGGER, Mammoth
from synthloom.methods.reasoning.rejection_sampling import KeepVerified
from synthloom.testing.recipe_runs import needs_embedded
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

PROBLEM = {"id": "p1", "question": "A box has 3 rows of 4 eggs. How many eggs?", "answer": "12"}

PROGRAMS = [
    "```python\nrows = 3\nper_row = 4\nprint(rows * per_row)\n```",      # right
    "```python\nprint(3 + 4)\n```",                                       # wrong printed answer
    "```python\nprint(12 / 0)\n```",                                      # exception
    "```python\nwhile True:\n    pass\n```",                               # timeout
    "```python\neggs = 3 * 4\n```",                                       # prints nothing
    "I would multiply 3 by 4.",                                           # no program
]
COTS = ["3 rows of 4 eggs is 3 * 4 = 12 eggs. The answer is 12.", "3 + 4 = 7. The answer is 7."]


def reply(req, j):
    return PROGRAMS[j] if POT_TRIGGER in user_text(req) else COTS[j]


def test_programs_are_run_and_kept_only_when_their_printed_answer_verifies():
    model = ScriptedModel(reply)
    step = Mammoth("m", k=2, k_pot=len(PROGRAMS), program_timeout=3.0)
    [rows] = run_step(step, model, [PROBLEM])
    assert len(model.requests) == 2 and {r.n for r in model.requests} == {2, len(PROGRAMS)}
    cot = [r for r in rows if r["rationale_type"] == "cot"]
    pot = [r for r in rows if r["rationale_type"] == "pot"]
    assert [r["correct"] for r in cot] == [True, False]
    assert cot[0]["instruction"] == PROBLEM["question"] and cot[1]["verify_reason"] == "wrong answer: predicted 7, gold 12"
    assert [r["correct"] for r in pot] == [True, False, False, False, False, False]
    right, wrong, raised, looped, silent, prose = pot
    assert right["program_output"].strip() == "12" and right["pred_answer"] == "12" and right["verified_rank"] == 0
    assert right["instruction"] == f"{PROBLEM['question']} {POT_TRIGGER}"
    assert right["rationale"].startswith("rows = 3") and "```" not in right["rationale"]
    assert wrong["verify_status"] == "wrong" and wrong["verify_reason"] == "wrong answer: predicted 7, gold 12"
    assert raised["verify_status"] == "program_failed" and "ZeroDivisionError" in raised["verify_reason"]
    assert looped["verify_status"] == "program_timeout" and "timed out" in looped["verify_reason"]
    assert silent["verify_status"] == "no_answer" and silent["verify_reason"] == "the program printed nothing"
    assert prose["verify_status"] == "no_program" and prose["program_output"] is None
    assert len({r["id"] for r in rows}) == len(rows) and all(r["problem_id"] == "p1" for r in rows)

    kept = [r for r in rows if KeepVerified("v").check(r) is True]
    assert [(r["rationale_type"], r["sample_index"]) for r in kept] == [("cot", 0), ("pot", 0)]


def test_fanout_is_bounded_and_options_are_checked():
    step = Mammoth("m", k=4, k_pot=3, max_fanout=1)
    assert (step.k, step.k_pot) == (1, 1)
    only_pot = Mammoth("m", k=0, k_pot=1)
    model = ScriptedModel(reply)
    [rows] = run_step(only_pot, model, [PROBLEM])
    assert [r["rationale_type"] for r in rows] == ["pot"] and rows[0]["correct"]
    with pytest.raises(ValueError, match="at least one sample"):
        Mammoth("m", k=0, k_pot=0)
    with pytest.raises(ValueError, match="program_timeout"):
        Mammoth("m", program_timeout=0)


@pytest.mark.slow
@needs_embedded
def test_mammoth_recipe(tmp_path):
    run, data, rejected = run_recipe(tmp_path, "mammoth", "rationales", n=1, max_tokens=48)
    assert run["counts"]["rationales"]["in"] == 1 and run["counts"]["rationales"]["out"] == 2
    assert len(data) + len(rejected) == 2
    assert sorted(r["rationale_type"] for r in data + rejected) == ["cot", "pot"]
    assert all(r["correct"] for r in data) and all(r["_reason"] for r in rejected)
