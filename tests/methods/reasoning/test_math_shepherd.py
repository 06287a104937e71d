"""Math-Shepherd: per-step rollouts give hard (any reaches gold) and soft (fraction) labels."""

from __future__ import annotations

import pytest
from recipe_e2e import run_recipe

from synthloom.methods.reasoning.math_shepherd import (
    MathShepherd,
    estimates,
    step_prefix,
)
from synthloom.methods.reasoning.solution_steps import number_steps, split_steps
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import needs_embedded
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

PROBLEM = {"id": "p1", "question": "Maya has 12 apples, gives 5 away and buys 8. How many now?", "answer": "15",
           "solution": "12 - 5 = 7 apples.\n7 + 8 = 15 apples.\nThe answer is \\boxed{15}."}


def test_split_steps_markers_lines_and_sentences():
    assert split_steps("Step 1: a = 2.\nStep 2: b = 3.5\nso c = 5.5.\nStep 3: \\boxed{5.5}") == [
        "a = 2.", "b = 3.5\nso c = 5.5.", "\\boxed{5.5}"]
    assert split_steps("1. First 3 * 4 = 12.\n\n2. Then 12 + 1 = 13.") == ["First 3 * 4 = 12.", "Then 12 + 1 = 13."]
    assert split_steps("It costs 3.5 dollars. So two cost 7. The answer is 7.") == [
        "It costs 3.5 dollars.", "So two cost 7.", "The answer is 7."]
    assert split_steps("  ") == [] and split_steps("42") == ["42"]
    assert number_steps(["a", "b"]) == "Step 1: a\nStep 2: b"


def test_estimates_and_prefix():
    assert estimates([0, 3, 8], 8) == ([0, 1, 1], [0.0, 0.375, 1.0])
    assert step_prefix(["a", "b", "c"], 1) == "a\nb"
    with pytest.raises(ValueError):
        estimates([1], 0)


def _completer(req, j):
    text = user_text(req)
    prefix = text.split("The solution so far:\n", 1)[1].split("\n\nContinue", 1)[0]
    if prefix.endswith("7 + 8 = 15 apples."):
        return "The answer is \\boxed{15}."
    # after step 1: 2 of 4 rollouts reach 15
    return "7 + 8 = 15. \\boxed{15}" if j % 2 == 0 else "7 + 9 = 16. \\boxed{16}"


def test_given_solution_labelled_per_step():
    model = ScriptedModel(_completer)
    [[row]] = run_step(MathShepherd("prm", n_rollouts=4, solution_column="solution"), model, [PROBLEM])
    assert row["steps"] == ["12 - 5 = 7 apples.", "7 + 8 = 15 apples.", "The answer is \\boxed{15}."]
    assert row["rollouts_correct"] == [2, 4, 4]
    assert row["hard_labels"] == [1, 1, 1] and row["soft_labels"] == [0.5, 1.0, 1.0]
    assert row["first_error_step"] is None and row["correct"] and row["n_rollouts"] == 4
    assert len(model.requests) == 2 and all(r.n == 4 for r in model.requests)  # no rollout for the last step
    assert [e["prefix_steps"] for e in row["_lineage"]] == [1, 2]
    assert row["id"] != "p1" and {e["parent"] for e in row["_lineage"]} == {"p1"}


def test_sampled_wrong_solution_gets_zero_labels_after_the_mistake():
    def reply(req, j):
        text = user_text(req)
        if "The solution so far:" not in text:
            return "12 - 5 = 7.\n7 + 9 = 16.\nThe answer is \\boxed{16}."
        return "\\boxed{16}" if "7 + 9" in text else ("7 + 8 = 15. \\boxed{15}" if j == 0 else "\\boxed{14}")

    model = ScriptedModel(reply)
    [[row]] = run_step(MathShepherd("prm", n_rollouts=3, k=1), model, [PROBLEM])
    assert row["rollouts_correct"] == [1, 0, 0] and row["hard_labels"] == [1, 0, 0]
    assert row["soft_labels"] == [pytest.approx(1 / 3), 0.0, 0.0]
    assert row["first_error_step"] == 1 and not row["correct"] and row["pred_answer"] == "16"


def test_too_long_or_missing_solutions_are_rejected():
    [out] = run_step(MathShepherd("prm", n_rollouts=1, solution_column="solution", max_steps=2),
                     ScriptedModel(lambda r, j: "x"), [PROBLEM])
    assert isinstance(out, Rejected) and out.reason == "no solution to label: solution 0 has 3 steps, over max_steps=2"
    [out] = run_step(MathShepherd("prm", n_rollouts=1, solution_column="solution"), ScriptedModel(lambda r, j: "x"),
                     [{**PROBLEM, "solution": ""}])
    assert isinstance(out, Rejected) and out.reason == "no solution to label in column 'solution'"
    with pytest.raises(ValueError, match="n_rollouts must be >= 1"):
        MathShepherd("prm", n_rollouts=0)


@pytest.mark.slow
@needs_embedded
def test_math_shepherd_recipe_on_the_embedded_model(tmp_path):
    run, data, rejected = run_recipe(tmp_path, "math-shepherd", "labels", "k=1", "steps.labels.n_rollouts=1",
                                     "steps.labels.max_steps=4")
    assert run["counts"]["labels"]["in"] == 1 and len(data) + len(rejected) == 1
    for r in data:
        n = len(r["steps"])
        assert 1 <= n <= 4 and len(r["hard_labels"]) == len(r["soft_labels"]) == len(r["rollouts_correct"]) == n
        assert all(h == (1 if s > 0 else 0) for h, s in zip(r["hard_labels"], r["soft_labels"]))
        assert r["hard_labels"][-1] == int(r["correct"]) and r["n_rollouts"] == 1
        assert r["verify_status"] in ("correct", "wrong", "no_answer")
    assert all(r["_rejected_by"] == "labels" and r["_reason"].startswith("no solution to label") for r in rejected)


def test_max_fanout_bounds_solutions_and_rollouts_and_prefixes_roll_out_together():
    """The recipe passes -n as max_fanout: a -n 3 try samples at most 3 of each (k 2 stays 2)."""
    def reply(req, j):
        text = user_text(req)
        if "The solution so far:" not in text:
            return "12 - 5 = 7.\n7 + 8 = 15.\nSo she has 15.\nThe answer is \\boxed{15}."
        return "\\boxed{15}"

    model = ScriptedModel(reply)
    step = MathShepherd("prm", k=2, n_rollouts=8, max_fanout=3)
    assert (step.k, step.n_rollouts) == (2, 3)
    [rows] = run_step(step, model, [PROBLEM])
    # one request for the 2 solutions, then 3 step prefixes of each solution with n=3 rollouts
    assert [r.n for r in model.requests].count(2) == 1 and [r.n for r in model.requests].count(3) == 6
    assert len(model.requests) == 7
    assert [row["n_rollouts"] for row in rows] == [3, 3] and rows[0]["rollouts_correct"] == [3, 3, 3, 3]
    assert [e.get("prefix_steps") for e in rows[0]["_lineage"][1:]] == [1, 2, 3, 1, 2, 3]  # in order
    assert MathShepherd("prm", k=2, n_rollouts=8, max_fanout=None).n_rollouts == 8
    with pytest.raises(ValueError, match="max_fanout must be >= 1"):
        MathShepherd("prm", max_fanout=0)
