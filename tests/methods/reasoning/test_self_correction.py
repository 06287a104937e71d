"""Self-correction data: wrong answer → critique → revision, kept only when the revision verifies."""

from __future__ import annotations

import pytest
from recipe_e2e import run_recipe

from synthloom.methods.reasoning.rejection_sampling import KeepVerified
from synthloom.methods.reasoning.self_correction import SelfCorrection
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import needs_embedded
from synthloom.testing.scripted import ScriptedModel, run_step

PROBLEM = {"id": "p1", "question": "What is 6 * 7?", "answer": "42"}


def _reply(req, j):
    last = req.messages[-1]["content"]
    if last.startswith("Review your previous answer"):
        return "I multiplied wrongly: 6 * 7 is not 48."
    if last.startswith("Based on the problems you found"):
        wrong = req.messages[-4]["content"]
        return "6 * 7 = 42. \\boxed{42}" if "48" in wrong else "\\boxed{41}"
    return ["6 * 7 = 48. \\boxed{48}", "\\boxed{42}", "6 * 7 = 40. \\boxed{40}"][j]


def test_wrong_answers_continue_the_conversation_and_revisions_are_verified():
    model = ScriptedModel(_reply)
    [rows] = run_step(SelfCorrection("sc", k=3, max_revisions=2), model, [PROBLEM])
    good, bad = rows
    assert (good["initial_answer"], good["critique"], good["correct"]) == ("48", "I multiplied wrongly: 6 * 7 is not 48.", True)
    assert [m["role"] for m in good["messages"]] == ["user", "assistant", "user", "assistant", "user", "assistant"]
    assert good["messages"][1]["content"] == good["initial_solution"] and good["messages"][-1]["content"] == good["revised_solution"]
    assert (bad["initial_answer"], bad["correct"], bad["verify_reason"]) == ("40", False, "revision: wrong answer: predicted 41, gold 42")
    assert len(model.requests) == 1 + 2 * 2
    assert [e.get("turn") for e in good["_lineage"]] == [None, "critique", "revise", "critique", "revise"]
    assert KeepVerified("keep").check(good) is True and isinstance(KeepVerified("keep").check(bad), Rejected)


def test_all_right_first_is_rejected():
    [out] = run_step(SelfCorrection("sc", k=2), ScriptedModel(lambda r, j: "\\boxed{42}"), [PROBLEM])
    assert isinstance(out, Rejected) and out.reason == "no wrong answer to correct: all 2 first answers verified"


@pytest.mark.slow
@needs_embedded
def test_self_correction_recipe_on_the_embedded_model(tmp_path):
    run, data, rejected = run_recipe(tmp_path, "self-correction", "revisions", "steps.revisions.k=1")
    c = run["counts"]
    assert c["revisions"]["in"] == 1 and c["verified"]["in"] == c["revisions"]["out"]
    assert all(r["correct"] and len(r["messages"]) == 6 for r in data)
    for r in rejected:
        assert r["_reason"]
        if r["_rejected_by"] == "verified":
            assert not r["correct"] and r["_reason"].startswith("revision: ") and r["critique"] is not None
        else:
            assert r["_rejected_by"] == "revisions" and r["_reason"].startswith("no wrong answer")
