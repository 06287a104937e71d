"""The execution-feedback repair loop on the real sandbox with scripted attempts: wrong → fixed,
hanging, no code, never fixed; the feedback the model gets; the three emit modes."""

from __future__ import annotations

import pytest
from code_fakes import fenced

from synthloom.methods.code.code_repair import CodeRepair
from synthloom.pipeline.step import Rejected
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

CORRECT = "def double(x):\n    return 2 * x"
WRONG = "def double(x):\n    return x + 2"
HANG = "def double(x):\n    while True:\n        pass"
PROBLEM = {"id": "p", "question": "Write double(x) returning twice x.", "entry_point": "double",
           "tests": ["assert double(2) == 4", "assert double(5) == 10", "assert double(0) == 0"]}


def scripted(*attempts: str) -> ScriptedModel:
    """Attempt k answers the k-th request of a problem (the last one repeats)."""
    def reply(req, j):
        k = min(len(model.requests) - 1, len(attempts) - 1)
        text = attempts[k]
        return text if text.startswith("I ") else fenced(text)
    model = ScriptedModel(reply)
    return model


def step(**kw) -> CodeRepair:
    """All of a problem's tests visible unless the test says otherwise."""
    kw.setdefault("visible_tests", None)
    return CodeRepair("repair", timeout=1.0, workers=2, **kw)


def test_wrong_then_fixed_keeps_the_trajectory_and_feeds_back_the_failing_test():
    model = scripted(WRONG, CORRECT)
    [rows] = run_step(step(max_rounds=3), model, [PROBLEM])
    row = rows[0]
    assert row["id"] == "p" and row["passed"] is True and row["fixed"] is True
    assert row["final_code"] == CORRECT and row["final_status"] == "passed" and row["rounds"] == 1
    first, second = row["trajectory"]
    assert first["code"] == WRONG and first["status"] == "failed" and not first["passed"]
    assert first["pass_rate"] == pytest.approx(1 / 3)
    assert first["reason"].startswith("failed: test 1 `assert double(5) == 10`") and "AssertionError" in first["reason"]
    assert "assert double(5) == 10" in first["feedback"] and "AssertionError" in first["feedback"]
    assert "1 of 3 tests passed" in first["feedback"]
    assert second["passed"] and second["feedback"] is None
    # the repair request carried the attempt and its feedback (history: last)
    repair_req = model.requests[1]
    assert [m["role"] for m in repair_req.messages] == ["user", "assistant", "user"]
    assert WRONG in repair_req.messages[1]["content"] and user_text(repair_req) == first["feedback"]
    assert len(row["_lineage"]) == 2


def test_hanging_attempt_is_a_timeout_and_no_code_is_recorded():
    model = scripted(HANG, "I will not write code.", CORRECT)
    [rows] = run_step(step(max_rounds=3, history="full"), model, [PROBLEM])
    traj = rows[0]["trajectory"]
    assert [a["status"] for a in traj] == ["timeout", "no_code", "passed"]
    assert "no result within 1.0 s" in traj[0]["feedback"]
    assert "did not contain a Python code block" in traj[1]["feedback"]
    assert len(model.requests[2].messages) == 5  # full history: problem + 2 x (attempt, feedback)


def test_never_fixed_is_rejected_with_the_last_failure_or_kept_without_require_pass():
    [out] = run_step(step(max_rounds=2), scripted(WRONG), [PROBLEM])
    assert isinstance(out, Rejected) and out.reason.startswith("not solved after 2 repair round(s): failed: test 1")
    assert out.score == pytest.approx(1 / 3)
    [rows] = run_step(step(max_rounds=1, require_pass=False), scripted(WRONG), [PROBLEM])
    assert rows[0]["passed"] is False and rows[0]["final_status"] == "failed" and len(rows[0]["trajectory"]) == 2


def test_given_solution_starts_the_loop_and_simple_feedback():
    model = scripted(CORRECT)
    [rows] = run_step(step(solution_column="draft", feedback="simple"), model, [{**PROBLEM, "draft": WRONG}])
    assert rows[0]["trajectory"][0]["code"] == WRONG and rows[0]["fixed"]
    assert len(model.requests) == 1 and "The code above is wrong. Please fix it." in user_text(model.requests[0])


def test_solved_at_once_makes_no_pair_but_a_row():
    [rows] = run_step(step(), scripted(CORRECT), [PROBLEM])
    assert rows[0]["fixed"] is False and rows[0]["rounds"] == 0
    [out] = run_step(step(emit="repair_pairs"), scripted(CORRECT), [PROBLEM])
    assert isinstance(out, Rejected) and "solved on the first attempt" in out.reason


def test_repair_and_preference_pairs():
    [pairs] = run_step(step(emit="repair_pairs"), scripted(WRONG, HANG, CORRECT), [PROBLEM])
    assert [(p["wrong_code"], p["wrong_status"], p["round"]) for p in pairs] == [(WRONG, "failed", 0), (HANG, "timeout", 1)]
    assert all(p["fixed_code"] == CORRECT and p["feedback"] for p in pairs) and len({p["id"] for p in pairs}) == 2
    [prefs] = run_step(step(emit="preference_pairs"), scripted(WRONG, CORRECT), [PROBLEM])
    assert [(p["chosen"], p["rejected"], p["rejected_status"]) for p in prefs] == [(CORRECT, WRONG, "failed")]


def test_call_tests_and_unusable_tests():
    problem = {**PROBLEM, "tests": [{"input": [3], "output": 6}, {"input": [4], "output": 8}]}
    [rows] = run_step(step(kind="call"), scripted(CORRECT), [problem])
    assert rows[0]["passed"]
    with pytest.raises(ValueError, match="unusable"):
        run_step(step(kind="call"), scripted(CORRECT), [{**PROBLEM, "tests": [{"nope": 1}]}])
    with pytest.raises(ValueError, match="has no tests"):
        run_step(step(), scripted(CORRECT), [{**PROBLEM, "tests": []}])


def test_visible_tests_drive_the_feedback_and_hidden_tests_decide_acceptance():
    # WRONG (x + 2) passes the one visible test, double(2) == 4, so the loop stops at once ...
    model = scripted(WRONG)
    [out] = run_step(step(visible_tests=1), model, [PROBLEM])
    assert isinstance(out, Rejected) and out.reason.startswith(
        "not solved after 0 repair round(s): passes the visible tests but not the hidden ones: failed: test 0 "
        "`assert double(5) == 10`")
    assert out.score == 0.0  # x + 2 fails both hidden tests
    prompt = user_text(model.requests[0])
    assert "assert double(2) == 4" in prompt and "double(5)" not in prompt and len(model.requests) == 1
    # ... while a visible test that fails is fed back, and the hidden ones are never shown
    problem = {**PROBLEM, "tests": ["assert double(5) == 10", "assert double(2) == 4", "assert double(0) == 0"]}
    model = scripted(WRONG, CORRECT)
    [rows] = run_step(step(visible_tests=1), model, [problem])
    row = rows[0]
    assert (row["passed"], row["passed_hidden"], row["hidden_status"], row["fixed"]) == (True, True, "passed", True)
    assert "double(5) == 10" in row["trajectory"][0]["feedback"] and "0 of 1 tests passed" in row["trajectory"][0]["feedback"]
    assert all("double(0)" not in m["content"] for r in model.requests for m in r.messages)
    # a separate hidden-tests column: all of `tests` visible, acceptance by `hidden`
    [out] = run_step(step(hidden_tests_column="hidden"), scripted(WRONG),
                     [{**PROBLEM, "tests": ["assert double(2) == 4"], "hidden": ["assert double(3) == 6"]}])
    assert isinstance(out, Rejected) and "not the hidden ones: failed: test 0 `assert double(3) == 6`" in out.reason
    [rows] = run_step(step(), scripted(CORRECT), [PROBLEM])
    assert rows[0]["passed_hidden"] is None and rows[0]["hidden_status"] is None


@pytest.mark.parametrize("mode, asks", [("explanation", "Explain the code above line by line"),
                                        ("trace", "Trace the execution of the code on that test line by line")])
def test_explanation_and_trace_feedback_add_an_analysis_turn_before_the_fix(mode, asks):
    def reply(req, j):
        last = user_text(req)
        if last.startswith(("Explain the code", "The code above does not pass")):
            return f"My {mode}: it adds 2 instead of doubling."
        return fenced(CORRECT if len(req.messages) > 1 else WRONG)
    model = ScriptedModel(reply)
    [rows] = run_step(step(feedback=mode), model, [PROBLEM])
    first = rows[0]["trajectory"][0]
    assert first["analysis"] == f"My {mode}: it adds 2 instead of doubling." and rows[0]["fixed"]
    ask, fix = model.requests[1], model.requests[2]
    assert asks in user_text(ask) and [m["role"] for m in ask.messages] == ["user", "assistant", "user"]
    if mode == "trace":
        assert "assert double(5) == 10" in user_text(ask)
    assert [m["role"] for m in fix.messages] == ["user", "assistant", "user", "assistant", "user"]
    assert fix.messages[3]["content"] == first["analysis"] and user_text(fix) == first["feedback"]
    assert f"Using your {mode}" in first["feedback"] and "assert double(5) == 10" in first["feedback"]
    assert [e.get("turn") for e in rows[0]["_lineage"]] == [None, mode, None]


def test_option_errors():
    with pytest.raises(ValueError, match="kind must be one of"):
        CodeRepair("r", kind="junit")
    with pytest.raises(ValueError, match="feedback must be"):
        CodeRepair("r", feedback="verbose")
    with pytest.raises(ValueError, match="visible_tests must be >= 1"):
        CodeRepair("r", visible_tests=0)
    with pytest.raises(ValueError, match="max_rounds must be >= 0"):
        CodeRepair("r", max_rounds=-1)
