"""BenchAgents' verification and evaluation agents: an item is kept only when its checker, run in the
sandbox through the harness, passes the reference answer and fails the wrong and the empty ones and
the LLM judges it sound; a checker that fails verification, or that tries to forge a pass (a truthy
non-boolean, printing a verdict, exiting, touching the host), is rejected; the target's answer is
scored by the checker or the answer key, never rejected."""

from __future__ import annotations

import asyncio
import json

import pytest
from benchagents_script import CHECKER, FUNCTIONS, PLAN, item

from synthloom.methods.agentic.benchagents import normalise_plan
from synthloom.methods.agentic.benchagents_checks import (
    BenchagentsEvaluate,
    BenchagentsVerify,
    checker_problem,
    final_answer,
    normalise,
)
from synthloom.pipeline.step import Rejected
from synthloom.testing.scripted import ScriptedModel, scripted_context

SOUND = json.dumps({"clear": True, "consistent": True, "solvable": True, "explanation": "fine"})


def says(text: str):
    return lambda req: text


def process(step, reply, record):
    model = ScriptedModel(reply)
    step.setup(scripted_context(model))

    async def go():
        try:
            return await step.process(dict(record))
        finally:
            await step.aclose()
    return asyncio.run(go()), model


def row(**changes) -> dict:
    return {"id": "i0", "task_id": "calendar", "plan": normalise_plan(PLAN), **item(30), **changes}


def test_an_item_with_a_working_checker_and_a_sound_judgement_is_kept():
    out, model = process(BenchagentsVerify("verify"), says(SOUND), row())
    checks = out[0]["verification"]["checks"]
    assert list(checks) == FUNCTIONS and all(c["reference"] and not c["empty"] for c in checks.values())
    assert checks["check_no_overlap"]["wrong"] is False and out[0]["verification"]["quality"]["clear"] is True
    prompt = model.requests[0].messages[-1]["content"]
    assert "Proposed correct answer: Answer: Monday 10:00-10:30" in prompt and "- no_overlap:" in prompt


BROKEN = CHECKER.format(duration=30).replace("s[1] - s[0] == DURATION", "s[1] - s[0] == 45")
ALWAYS = "\n".join(f"def {fn}(answer):\n    return True\n" for fn in FUNCTIONS)
NOT_WRONG = "\n".join(f"def {fn}(answer):\n    return '9:30' not in answer\n" for fn in FUNCTIONS)  # "" passes


@pytest.mark.parametrize("checker, reason", [
    (BROKEN, "the reference answer fails check_duration (returned false)"),
    (ALWAYS, "the checker accepts the wrong answer"),
    (NOT_WRONG, "the checker accepts an empty answer"),
    ("def check_duration(answer):\n    return True\n", "the checker lacks check_within_working_hours, check_no_overlap"),
    ("def check_duration(answer) return True", "the checker does not parse (SyntaxError"),
])
def test_an_item_whose_checker_fails_verification_is_rejected(checker, reason):
    verdict, model = process(BenchagentsVerify("verify"), says(SOUND), row(checker=checker))
    assert isinstance(verdict, Rejected) and verdict.reason.startswith(reason), verdict
    assert not model.requests  # code checks come first: no judgement is asked for


FORGED = {
    "a truthy number": "return 1",
    "the string True": "return 'True'",
    "a printed verdict, then exit": "import os, sys\n    print(json.dumps({'ok': True, 'results': [{'status': 'ok', 'value': True}]}))\n"
                                    "    sys.stdout.flush()\n    os._exit(0)",
    "a harness-looking exception": "raise SystemExit(0)",
    "a write to the system": "open('/etc/synthloom_verdict', 'w').write('passed')\n    return True",
}


@pytest.mark.parametrize("how", sorted(FORGED))
def test_a_forged_checker_cannot_pass(how):
    body = FORGED[how]
    forged = "import json\n\n" + "\n".join(
        f"def {fn}(answer):\n    if answer == 'Monday 10:00-10:30':\n        {body.replace(chr(10) + '    ', chr(10) + '        ')}\n"
        f"    return False\n" for fn in FUNCTIONS)
    verdict, _ = process(BenchagentsVerify("verify"), says(SOUND), row(checker=forged))
    assert isinstance(verdict, Rejected) and verdict.reason.startswith("the reference answer fails check_"), (how, verdict)
    scored, _ = process(BenchagentsEvaluate("evaluate"), says("Answer: Monday 10:00-10:30"), row(checker=forged))
    assert scored[0]["score"] == 0.0 and scored[0]["solved"] is False, how


def test_a_checker_writes_only_inside_its_jail(tmp_path):
    host_file = tmp_path / "verdict.txt"
    write = f"open({str(host_file)!r}, 'w').write('passed')"
    writer = "\n".join(f"def {fn}(answer):\n    {write}\n    return '9:30' not in answer and bool(answer)\n" for fn in FUNCTIONS)
    verdict, _ = process(BenchagentsVerify("verify"), says(SOUND), row(checker=writer))
    assert isinstance(verdict, Rejected) and "(error: " in verdict.reason, verdict  # the host's folder is not in the jail
    assert not host_file.exists()


def test_the_llm_judgement_rejects_an_unsound_item():
    unsound = json.dumps({"clear": True, "consistent": False, "solvable": False, "explanation": "Nobody is free."})
    verdict, _ = process(BenchagentsVerify("verify"), says(unsound), row())
    assert isinstance(verdict, Rejected)
    assert verdict.reason == "the verification agent judged the item not consistent, not solvable: Nobody is free."
    kept, model = process(BenchagentsVerify("verify", llm_checks=False), says(unsound), row())
    assert not model.requests and "quality" not in kept[0]["verification"]


def answer_key_row(**changes) -> dict:
    plan = normalise_plan({**PLAN, "check": "answer_key"})
    return row(**{"plan": plan, "checker": "", "answer_key": "Monday 10:00-10:30", **changes})


def test_answer_key_items_are_checked_against_their_key():
    kept, _ = process(BenchagentsVerify("verify"), says(SOUND), answer_key_row())
    assert kept[0]["verification"]["answer_key"] == {"reference": True, "wrong": False}
    for changes, reason in (({"answer_key": ""}, "the item has no answer key"),
                            ({"answer_key": "Tuesday 9:00-9:30"}, "the reference answer differs from the answer key"),
                            ({"wrong_answer": "answer: monday 10:00-10:30."}, "the wrong answer equals the answer key")):
        verdict, _ = process(BenchagentsVerify("verify"), says(SOUND), answer_key_row(**changes))
        assert isinstance(verdict, Rejected) and verdict.reason == reason
    scored, _ = process(BenchagentsEvaluate("evaluate"), says("I think so.\nAnswer: monday 10:00-10:30."), answer_key_row())
    assert scored[0]["constraint_results"] == {"answer_key": True} and scored[0]["solved"] is True


def test_the_target_is_scored_by_the_checker_and_never_rejected():
    out, model = process(BenchagentsEvaluate("evaluate"), says("Let me see.\nAnswer: Monday 10:00-10:30"), row())
    assert out[0]["constraint_results"] == dict.fromkeys(FUNCTIONS, True) and out[0]["score"] == 1.0
    assert model.requests[0].messages[-1]["content"].endswith("End your reply with one line in this format: Answer: Monday HH:MM-HH:MM")
    assert out[0]["_lineage"][-1]["role"] == "target"
    overlapping, _ = process(BenchagentsEvaluate("evaluate"), says("Answer: Monday 11:00-11:30"), row())
    assert overlapping[0]["constraint_results"]["check_no_overlap"] is False and overlapping[0]["score"] == pytest.approx(2 / 3)
    refused, _ = process(BenchagentsEvaluate("evaluate"), says("I'm sorry, I can't help with scheduling."), row())
    assert refused[0]["score"] == 0.0 and refused[0]["target_answer"].startswith("I'm sorry")
    endless = "\n".join(f"def {fn}(answer):\n    while True:\n        pass\n" for fn in FUNCTIONS)
    hung, _ = process(BenchagentsEvaluate("evaluate", timeout=1.0), says("Answer: Monday 10:00-10:30"), row(checker=endless))
    assert hung[0]["score"] == 0.0


def test_answers_checkers_and_options_are_read_as_documented():
    assert final_answer("First: 9.\nAnswer: x\nAnswer:  Monday 10:00 ") == "Monday 10:00" and final_answer(" plain ") == "plain"
    assert normalise(' "Monday  10:00." ') == "monday 10:00"
    assert checker_problem("x = 1", ["check_a"]) == "the checker lacks check_a (one function per constraint)"
    assert checker_problem("def check_a(answer):\n    return True", ["check_a"]) is None
    with pytest.raises(ValueError, match="summary must be a plain .json file name"):
        BenchagentsEvaluate("e", summary="../scores.json")
    with pytest.raises(ValueError, match="column 'plan' must be a plan"):
        asyncio.run(BenchagentsVerify("v").process({"id": "x", "plan": None}))
