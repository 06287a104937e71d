"""CodeT: dual-agreement scoring on hand-made matrices, and the step on the real sandbox with
hand-written correct, wrong and hanging solutions and tests."""

from __future__ import annotations

import math

import pytest
from code_fakes import fenced

from synthloom.methods.code.codet import (
    CodeT,
    collect_tests,
    dual_agreement,
    solution_scores,
)
from synthloom.pipeline.step import Rejected
from synthloom.testing.scripted import ScriptedModel, run_step, user_text


def test_groups_by_passed_test_set_and_scores_size_times_tests():
    #            t0     t1     t2     t3
    matrix = [[True, True, False, False],   # s0 ─┐ group A: tests {0,1}, 2 solutions -> 2*2 = 4
              [True, True, True, True],     # s1   group B: all 4 tests, 1 solution -> 1*4 = 4
              [True, True, False, False],   # s2 ─┘
              [False, False, False, False],  # s3  group C: no tests -> 0
              [True, False, True, False]]   # s4  group D: tests {0,2}, 1 solution -> 2
    groups = dual_agreement(matrix)
    assert [(g.solutions, g.tests, g.score) for g in groups] == [
        ([0, 2], (0, 1), 4.0),   # tie with B on score: more solutions first
        ([1], (0, 1, 2, 3), 4.0),
        ([4], (0, 2), 2.0),
        ([3], (), 0.0)]
    assert solution_scores(groups, 5) == [4.0, 4.0, 4.0, 0.0, 2.0]


def test_sqrt_variant_of_the_repository():
    matrix = [[True, False]] * 4 + [[True, True]]
    paper = dual_agreement(matrix)
    sqrt = dual_agreement(matrix, score="sqrt")
    assert paper[0].solutions == [0, 1, 2, 3] and paper[0].score == 4.0  # 4 x 1 beats 1 x 2
    assert sqrt[0].score == math.sqrt(4) * 1 == 2.0 and sqrt[1].score == 2.0
    assert sqrt[0].solutions == [0, 1, 2, 3]  # tie: the larger group first
    with pytest.raises(ValueError, match="score must be one of"):
        dual_agreement(matrix, score="max")


def test_agreement_beats_the_majority_of_wrong_solutions():
    # three wrong solutions agree on nothing useful; two right ones pass the four right tests
    matrix = [[True, True, True, True, False],
              [True, True, True, True, False],
              [False, False, False, False, True],
              [False, True, False, False, False],
              [False, False, True, False, False]]
    assert dual_agreement(matrix)[0].solutions == [0, 1]


def test_collect_tests_takes_the_first_five_compiling_asserts_per_sample():
    sample = "```python\n" + "\n".join(f"assert f({i}) == {i}" for i in range(8)) + "\n```"
    broken = "assert f(1) == 1\nassert f(\nassert f(9) == 9"
    tests = collect_tests([sample, broken], per_sample=5)
    assert tests == [f"assert f({i}) == {i}" for i in range(5)] + ["assert f(9) == 9"]


CORRECT = "def add(a, b):\n    return a + b"
WRONG = "def add(a, b):\n    return a - b"
HANG = "def add(a, b):\n    while True:\n        pass"
TESTS = "```python\nassert add(1, 2) == 3\nassert add(2, 2) == 4\nassert add(0, 5) == 5\n```"
BAD_TESTS = "```python\nassert add(1, 2) == 4\n```"


def _model(solutions: list[str], tests: list[str]) -> ScriptedModel:
    def reply(req, j):
        if "Do not solve the problem" in user_text(req):
            return tests[j % len(tests)]
        text = solutions[j % len(solutions)]
        return text if text.startswith("I ") else fenced(text)
    return ScriptedModel(reply)


def _step(**kw):
    return CodeT("codet", n_solutions=4, n_test_samples=2, timeout=1.0, workers=2, **kw)


PROBLEM = {"id": "p1", "question": "def add(a, b):\n    \"\"\"Return a + b.\"\"\"", "entry_point": "add"}


def test_codet_step_picks_the_agreeing_solution_on_the_real_sandbox():
    model = _model([WRONG, CORRECT, HANG, CORRECT], [TESTS, BAD_TESTS])
    [rows] = run_step(_step(), model, [PROBLEM])
    row = rows[0]
    assert row["id"] == "p1" and row["solution"] == CORRECT
    assert row["n_solutions"] == 4 and row["n_tests"] == 4
    assert row["codet_score"] == 2 * 3  # two correct solutions x three agreeing tests
    assert row["passed_tests"] == ["assert add(1, 2) == 3", "assert add(2, 2) == 4", "assert add(0, 5) == 5"]
    scores = {c["code"]: c["score"] for c in row["candidates"]}
    assert scores[CORRECT] == 6 and scores[HANG] == 0
    assert scores[WRONG] == 0  # passes no test: in the zero group with the hanging one
    assert len(row["candidates"]) == 4 and row["gold_passed"] is None
    assert row["_lineage"][0]["step"] == "codet" and len(row["_lineage"]) == 2
    # both requests asked for n samples, with the paper's sampling settings
    assert sorted(r.n for r in model.requests) == [2, 4]
    assert all(r.temperature == 0.8 and r.top_p == 0.95 for r in model.requests)


def test_codet_gold_tests_and_pairs():
    model = _model([WRONG, CORRECT, HANG, CORRECT], [TESTS])
    gold = ["assert add(10, 5) == 15"]
    [rows] = run_step(_step(gold_tests_column="gold", emit="pairs"), model, [{**PROBLEM, "gold": gold}])
    assert rows and all(r["chosen"] == CORRECT and r["rejected"] in (WRONG, HANG) for r in rows)
    assert all(r["pair_basis"] == "gold tests" for r in rows)
    [ranked] = run_step(_step(gold_tests_column="gold", emit="ranked"), _model([WRONG, CORRECT, HANG, CORRECT], [TESTS]),
                        [{**PROBLEM, "gold": gold}])
    assert [r["rank"] for r in ranked] == [0, 1, 2, 3]
    assert [r["gold_passed"] for r in ranked[:2]] == [True, True] and ranked[0]["solution"] == CORRECT
    assert len({r["id"] for r in ranked}) == 4


def test_codet_rejects_with_reasons():
    [out] = run_step(_step(), _model(["I cannot do this."], [TESTS]), [PROBLEM])
    assert isinstance(out, Rejected) and "contained Python code" in out.reason
    [out] = run_step(_step(), _model([CORRECT], ["no tests, sorry"]), [PROBLEM])
    assert isinstance(out, Rejected) and "no usable assert" in out.reason
    [out] = run_step(_step(), _model([WRONG, HANG], [BAD_TESTS.replace("4", "99")]), [PROBLEM])
    assert isinstance(out, Rejected) and "agreement score 0" in out.reason


def test_codet_option_errors():
    with pytest.raises(ValueError, match="emit must be one of"):
        CodeT("c", emit="all")
    with pytest.raises(ValueError, match="n_solutions must be >= 1"):
        CodeT("c", n_solutions=0)
    with pytest.raises(ValueError, match="score must be"):
        CodeT("c", score="best")


def test_max_fanout_bounds_the_solution_and_test_samples():
    """The recipe passes -n as max_fanout: a -n 3 try asks for 3 solutions and 3 test samples, not 8 and 4."""
    model = _model([WRONG, CORRECT, CORRECT], [TESTS])
    [rows] = run_step(CodeT("codet", n_solutions=8, n_test_samples=4, max_fanout=3, timeout=1.0, workers=2), model, [PROBLEM])
    assert sorted(r.n for r in model.requests) == [3, 3] and rows[0]["n_solutions"] == 3
    assert (CodeT("c", max_fanout=None).n_solutions, CodeT("c", max_fanout=20).n_test_samples) == (8, 4)
    with pytest.raises(ValueError, match="max_fanout must be >= 1"):
        CodeT("c", max_fanout=0)
