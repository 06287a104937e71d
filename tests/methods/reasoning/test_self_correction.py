"""Self-correction data: wrong→right and right→right trajectories over rounds of critique → revision,
every revision verified."""

from __future__ import annotations

import pytest
from recipe_e2e import run_recipe

from synthloom.methods.reasoning.rejection_sampling import KeepVerified
from synthloom.methods.reasoning.self_correction import SelfCorrection
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import needs_embedded
from synthloom.testing.scripted import ScriptedModel, run_step

PROBLEM = {"id": "p1", "question": "What is 6 * 7?", "answer": "42"}
FIRST = ["6 * 7 = 48. \\boxed{48}", "\\boxed{42}", "6 * 7 = 40. \\boxed{40}"]


def _reply(revisions: dict[str, list[str]]):
    """First answers from FIRST; the revision of round r of the trajectory started by first answer
    ``a`` is ``revisions[a][r - 1]``."""
    def reply(req, j):
        last = req.messages[-1]["content"]
        if last.startswith("Review your previous answer"):
            return "Let me check the multiplication."
        if last.startswith("Based on the problems you found"):
            start = req.messages[1]["content"]
            done = sum(m["content"].startswith("Based on the problems") for m in req.messages)
            return revisions[start][done - 1]
        return FIRST[j]
    return reply


def test_wrong_and_right_first_answers_both_continue_for_every_round():
    model = ScriptedModel(_reply({FIRST[0]: ["\\boxed{41}", "6 * 7 = 42. \\boxed{42}"],
                                  FIRST[1]: ["\\boxed{42}", "Still 42. \\boxed{42}"],
                                  FIRST[2]: ["\\boxed{42}", "\\boxed{40}"]}))
    [rows] = run_step(SelfCorrection("sc", k=3, max_revisions=2, max_confirmations=1, rounds=2), model, [PROBLEM])
    fixed, confirmed, undone = rows
    assert (fixed["trajectory"], fixed["initial_answer"], fixed["correct"]) == ("wrong_to_right", "48", True)
    assert [v["answer"] for v in fixed["revisions"]] == ["41", "42"] and fixed["revised_solution"] == "6 * 7 = 42. \\boxed{42}"
    assert [m["role"] for m in fixed["messages"]] == ["user", "assistant"] + ["user", "assistant"] * 4
    assert fixed["messages"][-1]["content"] == fixed["revised_solution"]
    assert (confirmed["trajectory"], confirmed["initial_correct"], confirmed["correct"]) == ("right_to_right", True, True)
    assert (confirmed["verified_rank"], fixed["verified_rank"]) == (1, 0)
    assert (undone["trajectory"], undone["correct"], undone["verify_reason"]) == (
        "wrong_to_right", False, "revision: wrong answer: predicted 40, gold 42")
    assert len(model.requests) == 1 + 3 * 2 * 2
    assert [(e.get("turn"), e.get("round")) for e in fixed["_lineage"] if e.get("revision_of") == 0] == [
        ("critique", 1), ("revise", 1), ("critique", 2), ("revise", 2)]
    keep = KeepVerified("keep")
    assert keep.check(fixed) is True and keep.check(confirmed) is True and isinstance(keep.check(undone), Rejected)


def test_a_right_answer_turned_wrong_on_the_way_is_not_kept():
    model = ScriptedModel(_reply({FIRST[1]: ["\\boxed{48}", "\\boxed{42}"], FIRST[0]: ["\\boxed{42}", "\\boxed{42}"]}))
    [rows] = run_step(SelfCorrection("sc", k=2, rounds=2), model, [PROBLEM])
    right = next(r for r in rows if r["trajectory"] == "right_to_right")
    assert not right["correct"] and right["verify_reason"] == "revision: round 1 turned the right answer wrong (48)"
    assert right["verified_rank"] is None


def test_one_round_and_corrections_only_keep_the_old_shape():
    model = ScriptedModel(_reply({FIRST[0]: ["6 * 7 = 42. \\boxed{42}"]}))
    [rows] = run_step(SelfCorrection("sc", k=2, max_confirmations=0, rounds=1), model, [PROBLEM])
    [row] = rows
    assert row["trajectory"] == "wrong_to_right" and len(row["messages"]) == 6 and row["correct"]
    [out] = run_step(SelfCorrection("sc", k=2, max_confirmations=0), ScriptedModel(lambda r, j: "\\boxed{42}"), [PROBLEM])
    assert out == Rejected("no wrong answer to continue: 2 of 2 first answers verified", 1.0)
    with pytest.raises(ValueError, match="rounds must be >= 1"):
        SelfCorrection("sc", rounds=0)
    with pytest.raises(ValueError, match="not both 0"):
        SelfCorrection("sc", max_revisions=0, max_confirmations=0)


@pytest.mark.slow
@needs_embedded
def test_self_correction_recipe_on_the_embedded_model(tmp_path):
    run, data, rejected = run_recipe(tmp_path, "self-correction", "revisions", "steps.revisions.k=1",
                                     "steps.revisions.rounds=1")
    c = run["counts"]
    assert c["revisions"]["in"] == 1 and c["verified"]["in"] == c["revisions"]["out"] == 1
    assert all(r["correct"] and len(r["messages"]) == 6 for r in data)
    for r in rejected:
        assert r["_rejected_by"] == "verified" and not r["correct"] and r["_reason"].startswith("revision: ")
        assert r["trajectory"] in ("wrong_to_right", "right_to_right") and r["critique"] is not None
