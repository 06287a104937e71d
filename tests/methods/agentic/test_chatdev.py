"""ChatDev on a scripted model: the chat chain's phases and roles, the <INFO> conclusions and the reflection,
review cycles ended by "<INFO> Finished", by two unchanged modifications or by the round cap, testing
cycles whose sandbox errors reach the Programmer, and the final hidden tests that keep or reject a project;
then the recipe end to end (scripted: the accounting; embedded: one task)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthloom.methods.agentic.chatdev import ChatDev, conclusion
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step

TASKS_FILE = Path(__file__).parents[3] / "src/synthloom/recipes/builtin/chatdev_tasks.jsonl"
TASKS = [json.loads(line) for line in TASKS_FILE.read_text().splitlines()]
TEMPERATURE = next(t for t in TASKS if t["task_id"] == "chatdev/temperature")
GOOD = TEMPERATURE["reference"]
#: passes the examples (C→F and F→C) but not the hidden tests (case of the unit, ValueError for 'K')
HALF = GOOD.replace("u = unit.upper()", "u = unit").replace("    raise ValueError(unit)\n", "    return 0.0\n")
#: fails the visible example `convert(32, 'F') == 0.0`
BUGGY = GOOD.replace("(f - 32) * 5 / 9", "(f - 30) * 5 / 9")
DESIGN = "<INFO> three functions celsius_to_fahrenheit, fahrenheit_to_celsius and convert(value, unit)"

PHASE_MARKS = {"Here is a conversation between two roles": "reflect",  # first: it quotes the discussion
               "keep discussing with me to decide the product's design": "demand",
               "through a single Python file, main.py": "coding",
               "propose one comment with the highest priority": "comment",
               "modify corresponding codes according to the comments": "modify",
               "please locate and summarize the bugs": "summary",
               "modify the codes based on the error summary": "fix"}


def phase_of(req) -> tuple[str, str]:
    """(phase, side) of a request: the phase from its opening prompt, the side from who said the opening."""
    opening = req.messages[1]
    phase = next(p for mark, p in PHASE_MARKS.items() if mark in opening["content"])
    return phase, "assistant" if opening["role"] == "user" else "instructor"


def fenced(code: str) -> str:
    return f"main.py\n```python\n{code}\n```"


def team(**said):
    """A scripted company: ``said[phase]`` is the text (or a list, one per call of that phase) of the
    assistant side; ``said['ceo']`` the CEO's replies in the demand analysis."""
    calls: dict[str, int] = {}

    def reply(req, j):
        phase, side = phase_of(req)
        key = "ceo" if side == "instructor" else phase
        k = calls.get(key, 0)
        calls[key] = k + 1
        item = said[key]
        return item[min(k, len(item) - 1)] if isinstance(item, list) else item
    return ScriptedModel(reply)


def run(model, record=TEMPERATURE, **opts):
    return run_step(ChatDev("team", timeout=10.0, **opts), model, [dict(record)])[0]


def kinds(model) -> list[str]:
    return [phase_of(r)[0] for r in model.requests]


def test_a_project_that_passes_its_tests_is_kept_with_the_whole_conversation():
    model = team(demand=DESIGN, coding=fenced(GOOD), comment="<INFO> Finished")
    (row,) = run(model)
    assert kinds(model) == ["demand", "coding", "comment"]
    assert row["program"].strip() == GOOD.strip() and row["tests_passed"] is True
    assert row["design"] == DESIGN.removeprefix("<INFO> ")
    talk = row["conversation"]
    assert [(m["phase"], m["role"], m["side"]) for m in talk] == [
        ("demand_analysis", "Chief Executive Officer", "instructor"), ("demand_analysis", "Chief Product Officer", "assistant"),
        ("coding", "Chief Technology Officer", "instructor"), ("coding", "Programmer", "assistant"),
        ("code_review", "Programmer", "instructor"), ("code_review", "Code Reviewer", "assistant")]
    assert talk[1]["content"] == DESIGN and DESIGN.removeprefix("<INFO> ") in talk[2]["content"]
    assert [(p["phase"], p["ended"]) for p in row["phases"]] == [
        ("demand_analysis", "info"), ("coding", "code"), ("code_review", "finished"), ("testing", "passed"),
        ("final_tests", "passed")]
    system = model.requests[0].messages[0]["content"]
    assert "You are Chief Product Officer." in system and TEMPERATURE["task"] in system


def test_the_roles_and_the_paper_prompts_are_sent():
    model = team(demand=DESIGN, coding=fenced(GOOD), comment="<INFO> Finished")
    run(model)
    demand, coding, comment = model.requests
    assert demand.messages[0]["content"].startswith("ChatDev is a software company powered by multiple intelligent agents")
    assert "starts with a single word <INFO>" in demand.messages[1]["content"]
    assert "You are Programmer." in coding.messages[0]["content"] and "No placeholders" in coding.messages[1]["content"]
    assert TEMPERATURE["examples"][0] in coding.messages[1]["content"]
    assert "You are Code Reviewer." in comment.messages[0]["content"] and GOOD.strip() in comment.messages[1]["content"]
    assert 'return only one line like "<INFO> Finished"' in comment.messages[1]["content"]
    assert all(r.max_tokens == 1024 and r.temperature == 0.2 for r in model.requests)


def test_sandbox_errors_reach_the_programmer_who_fixes_the_code():
    model = team(demand=DESIGN, coding=fenced(BUGGY), comment="<INFO> Finished", summary="fahrenheit_to_celsius subtracts 30",
                 fix=fenced(GOOD))
    (row,) = run(model)
    assert kinds(model) == ["demand", "coding", "comment", "summary", "fix"]
    report = model.requests[3].messages[1]["content"]
    assert "convert(32, 'F') == 0.0" in report and "AssertionError" in report
    assert "fahrenheit_to_celsius subtracts 30" in model.requests[4].messages[1]["content"]
    testing = next(p for p in row["phases"] if p["phase"] == "testing")
    assert testing["ended"] == "passed" and [r["status"] for r in testing["runs"]] == ["failed", "passed"]
    assert [m["role"] for m in row["conversation"] if m["phase"] == "testing"] == ["Software Test Engineer", "Programmer"] * 2


def test_a_program_failing_the_hidden_tests_is_rejected():
    out = run(team(demand=DESIGN, coding=fenced(HALF), comment="<INFO> Finished"))
    assert isinstance(out, Rejected) and out.reason.startswith("final tests: failed: test ")
    assert 0 < out.score < 1


def test_tests_that_keep_failing_are_bounded_and_rejected():
    model = team(demand=DESIGN, coding=fenced(BUGGY), comment="<INFO> Finished", summary="no idea", fix="I cannot fix it.")
    out = run(model, test_rounds=2)
    assert kinds(model).count("summary") == 2 and kinds(model).count("fix") == 2
    assert isinstance(out, Rejected) and "final tests: failed" in out.reason


def test_a_reviewer_who_never_finishes_is_bounded_by_review_rounds():
    versions = [fenced(GOOD + f"\n# revision {i}\n") for i in range(10)]
    model = team(demand=DESIGN, coding=fenced(GOOD), comment="Add more comments.", modify=versions)
    (row,) = run(model, review_rounds=3)
    assert kinds(model) == ["demand", "coding"] + ["comment", "modify"] * 3
    review = next(p for p in row["phases"] if p["phase"] == "code_review")
    assert review == {"phase": "code_review", "ended": "max_rounds", "rounds": 3}
    assert "# revision 2" in row["program"]


def test_two_unchanged_modifications_end_the_review():
    model = team(demand=DESIGN, coding=fenced(GOOD), comment="Rename a variable.", modify=fenced(GOOD))
    (row,) = run(model, review_rounds=5)
    assert kinds(model).count("modify") == 2
    assert next(p for p in row["phases"] if p["phase"] == "code_review")["ended"] == "unchanged"


def test_a_discussion_without_info_is_reflected_on_or_rejected():
    model = team(demand="We should think more.", ceo="What about the units?", reflect="one convert(value, unit) function",
                 coding=fenced(GOOD), comment="<INFO> Finished")
    (row,) = run(model, max_turns=2)
    assert kinds(model)[:4] == ["demand", "demand", "demand", "reflect"]
    assert row["design"] == "one convert(value, unit) function"
    assert row["phases"][0] == {"phase": "demand_analysis", "ended": "reflection", "rounds": 2}
    reflect = model.requests[3].messages[1]["content"]
    assert "Chief Executive Officer: What about the units?" in reflect
    model = team(demand="We should think more.", ceo="What about the units?")
    out = run(model, max_turns=2, reflect=False)
    assert isinstance(out, Rejected) and out.reason == "demand_analysis: no <INFO> design within 2 turn(s)"
    assert len(model.requests) == 3


def test_the_ceo_may_conclude_the_discussion():
    model = team(demand="Let us offer convert only.", ceo="<INFO> convert(value, unit) only", coding=fenced(GOOD),
                 comment="<INFO> Finished")
    (row,) = run(model)
    assert row["design"] == "convert(value, unit) only" and kinds(model)[:2] == ["demand", "demand"]


def test_a_reply_without_code_is_rejected_at_coding():
    out = run(team(demand=DESIGN, coding="I would write it in Java."))
    assert isinstance(out, Rejected) and out.reason == "coding: the Programmer's reply holds no Python code"


def test_talk_max_tokens_caps_the_messages_without_code_and_max_tokens_the_code():
    model = team(demand=["no conclusion yet", DESIGN], ceo="go on", coding=fenced(BUGGY), comment="add a docstring",
                 modify=fenced(BUGGY), summary="the formula is off", fix=fenced(GOOD))
    run(model, max_turns=2, review_rounds=1, test_rounds=1, talk_max_tokens=40, max_tokens=300)
    caps = {}
    for req in model.requests:
        caps.setdefault(phase_of(req)[0], set()).add(req.max_tokens)
    assert caps == {"demand": {40}, "coding": {300}, "comment": {40}, "modify": {300}, "summary": {40}, "fix": {300}}


def test_conclusion_markers():
    assert conclusion("ok\n<INFO> a parser") == "a parser" and conclusion("no marker") is None
    assert conclusion('<INFO> "PowerPoint"') == "PowerPoint"


def test_options_and_columns_are_checked():
    with pytest.raises(ValueError, match="max_turns must be >= 1"):
        ChatDev("t", max_turns=0)
    with pytest.raises(ValueError, match="review_rounds must be >= 0"):
        ChatDev("t", review_rounds=-1)
    # max_fanout N: at most N calls per phase, so ⌊N/2⌋ rounds or cycles (each two calls; at least one), never
    # above the paper's counts
    for n, counts in ((1, (1, 1, 1)), (3, (1, 1, 1)), (4, (2, 2, 2)), (6, (3, 3, 3)), (30, (10, 3, 3)), (None, (10, 3, 3))):
        bounded = ChatDev("t", max_fanout=n)
        assert (bounded.max_turns, bounded.review_rounds, bounded.test_rounds) == counts, n
    with pytest.raises(ValueError, match="talk_max_tokens must be >= 1"):
        ChatDev("t", talk_max_tokens=0)
    with pytest.raises(ValueError, match="column 'tests' must be a non-empty list of assert statements"):
        run(team(demand=DESIGN), record={**TEMPERATURE, "tests": "assert True"})


def test_the_bundled_tasks_are_solvable_and_their_tests_can_fail():
    from synthloom.verify.code import verify_code

    assert len(TASKS) == 8 and len({t["task_id"] for t in TASKS}) == 8
    for t in TASKS:
        assert verify_code(t["reference"], t["examples"] + t["tests"], timeout=10).passed, t["task_id"]
        assert not verify_code("pass", t["examples"], timeout=10).passed, t["task_id"]


# -- the recipe ----------------------------------------------------------------------------------------


def recipe_reply(req, j):
    """Every task solved by its reference, except the Roman-numeral one (no code at all)."""
    phase, _ = phase_of(req)
    task = next(t for t in TASKS if t["task"] in req.messages[0]["content"])
    if phase == "demand":
        return DESIGN
    if phase == "coding":
        return "Sorry." if task["task_id"] == "chatdev/roman" else fenced(task["reference"])
    return "<INFO> Finished"


def test_the_recipe_on_a_scripted_model(scripted_model, tmp_path):
    out = tmp_path / "run"
    run_ = run_recipe("chatdev", out, extra_cli_args=("--model", scripted_model(recipe_reply)))
    data, rejected_rows, errors = completed_outputs(run_, out)
    c = run_["counts"]["team"]
    assert not errors and c["in"] == 8 and c["ok"] == len(data) == 7 and c["rejected"] == len(rejected_rows) == 1
    assert rejected_rows[0]["_reason"] == "coding: the Programmer's reply holds no Python code"
    assert all(row["tests_passed"] and row["conversation"] and row["program"] for row in data)


@needs_embedded
@pytest.mark.slow
def test_the_recipe_on_the_embedded_model(tmp_path):
    """One task, one round of each phase, short messages: the 135M model cannot write the program, so the
    test checks the machinery: the project ends as a kept row or a rejected row with the phase that failed."""
    out = tmp_path / "run"
    run_ = run_recipe("chatdev", out, "n=1", "max_tokens=48", "talk_max_tokens=32")
    data, rejected_rows, errors = completed_outputs(run_, out)
    assert not errors and len(data) + len(rejected_rows) == 1
    for row in rejected_rows:
        assert row["_rejected_by"] == "team"
        assert row["_reason"].split(":")[0] in ("demand_analysis", "coding", "final tests")
