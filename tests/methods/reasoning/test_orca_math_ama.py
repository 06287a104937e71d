"""Orca-Math's Ask-Me-Anything agent: a seed's question turned into a statement with its answer, then
one new problem per other number of the statement, whose known answer is that number."""

from __future__ import annotations

import pytest

from synthloom.methods.reasoning.orca_math_ama import OrcaMathAskMeAnything, number_value
from synthloom.methods.reasoning.rejection_sampling import KeepVerified
from synthloom.pipeline.step import Rejected
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

SEED = {"id": "s1", "question": "A box holds 6 pencils. How many pencils are in 9 boxes?", "answer": "54",
        "solution": "9 boxes of 6 pencils is 9 * 6 = 54 pencils. The answer is 54."}
STATEMENT = "A box holds 6 pencils, and 9 boxes hold 54 pencils."
ASK = {"6": "9 boxes hold 54 pencils. How many pencils does one box hold?",
       "9": "A box holds 6 pencils. How many boxes hold 54 pencils?"}


def _model(statement: str = STATEMENT, ask=ASK, solves=None) -> ScriptedModel:
    solves = solves or {ASK["6"]: ["54 / 9 = 6. \\boxed{6}", "\\boxed{7}"], ASK["9"]: ["\\boxed{8}", "\\boxed{10}"]}

    def reply(req, j):
        text = user_text(req)
        if text.rstrip().endswith("Statement:"):
            assert "Solution: 9 boxes of 6 pencils" in text and "Answer: 54" in text
            return f"Statement: {statement}"
        if text.rstrip().endswith("Problem:"):
            assert f"Statement: {statement}" in text
            return ask[text.rsplit("Number: ", 1)[1].split("\n")[0].strip()]
        return solves[text.split("Problem: ", 1)[1].strip()][j]
    return ScriptedModel(reply)


def test_one_problem_per_other_number_of_the_statement_with_that_number_as_gold():
    model = _model()
    [rows] = run_step(OrcaMathAskMeAnything("ama", k=2), model, [SEED])
    six, nine = rows
    assert (six["question"], six["answer"], six["gold_answer"], six["correct"]) == (ASK["6"], "6", "6", True)
    assert six["response"] == "54 / 9 = 6. \\boxed{6}" and (six["n_correct"], six["n_solves"]) == (1, 2)
    assert (nine["answer"], nine["correct"]) == ("9", False) and nine["verify_reason"] == (
        "the new problem is not solved to 9: 0 of 2 solves correct, 1 needed (wrong answer: predicted 8, gold 9)")
    assert all(r["statement"] == STATEMENT and r["original_answer"] == "54" and "solution" not in r for r in rows)
    assert six["original_question"] == SEED["question"] and len({six["id"], nine["id"]}) == 2
    asked = [user_text(r).rsplit("Number: ", 1)[1].split("\n")[0] for r in model.requests
             if user_text(r).rstrip().endswith("Problem:")]
    assert sorted(asked) == ["6", "9"]  # the seed's answer, 54, is not asked for again
    assert KeepVerified("keep").check(six) is True and isinstance(KeepVerified("keep").check(nine), Rejected)
    assert {e.get("agent") for e in six["_lineage"]} == {"ask_me_anything", "solver"}


def test_fan_out_is_capped_and_leaks_and_bad_statements_are_caught():
    [rows] = run_step(OrcaMathAskMeAnything("ama", max_problems=1), _model(), [SEED])
    assert [r["answer"] for r in rows] == ["6"]
    leaky = {"6": "A box holds 6 pencils; how many is that?", "9": ASK["9"]}
    [rows] = run_step(OrcaMathAskMeAnything("ama", k=2), _model(ask=leaky), [SEED])
    assert rows[0]["verify_reason"] == "the new problem gives away its answer 6" and not rows[0]["correct"]
    [out] = run_step(OrcaMathAskMeAnything("ama"), _model(statement="A box holds 6 pencils."), [SEED])
    assert out == Rejected("the statement does not state the answer 54: 'A box holds 6 pencils.'")
    [out] = run_step(OrcaMathAskMeAnything("ama"), _model(statement="There are 54 pencils."), [SEED])
    assert out == Rejected("the statement has no number besides the answer to ask about")
    with pytest.raises(ValueError, match="max_problems must be >= 1"):
        OrcaMathAskMeAnything("ama", max_problems=0)
    assert (number_value("1,200"), number_value("3.50"), number_value("7")) == ("1200", "3.5", "7")
