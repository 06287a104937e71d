"""BenchAgents' planning and generation agents: plans normalised or rejected, an edited plan file in
place of the planner, the developer's feedback in its prompt, parameter sampling per item, items
written or rejected; and the recipe end to end on a scripted team (plan export for review, the
rerun from the edited export, the scores) and on the embedded model."""

from __future__ import annotations

import asyncio
import json

import pytest
from benchagents_script import FUNCTIONS, PLAN, item, team

from synthloom.methods.agentic.benchagents import (
    BenchagentsGenerate,
    BenchagentsItems,
    BenchagentsPlan,
    normalise_plan,
    plan_markdown,
)
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, scripted_context

TASK = {"id": "t1", "task_id": "calendar", "task": "Schedule a meeting for busy people."}


def says(text: str):
    return lambda req: text


def run(step, model, record):
    step.setup(scripted_context(model))
    return asyncio.run(step.process(dict(record)))


def test_a_plan_is_normalised_and_an_unusable_one_says_why():
    plan = normalise_plan(PLAN)
    assert [p["name"] for p in plan["parameters"]] == ["meeting_duration", "participants"]
    assert [c["function"] for c in plan["constraints"]] == FUNCTIONS and plan["check"] == "code"
    dupes = {**PLAN, "constraints": PLAN["constraints"] + [{"name": "No-overlap!", "description": "again"}], "check": "?"}
    assert len(normalise_plan(dupes)["constraints"]) == 3 and normalise_plan(dupes)["check"] == "code"
    assert normalise_plan({**PLAN, "constraints": [{"name": "x", "description": " "}]}) == "the plan has no constraint with a description"
    assert normalise_plan({**PLAN, "parameters": [{"name": "p", "values": []}]}) == "the plan has no parameter with values to vary"
    assert normalise_plan({**PLAN, "answer_format": ""}) == "the plan gives no answer format"
    assert normalise_plan([1]) == "the plan is not a JSON object"


def test_the_planner_writes_the_plan_or_is_rejected():
    model = ScriptedModel(lambda req: json.dumps(PLAN))
    out = run(BenchagentsPlan("plan", feedback="Add a buffer constraint."), model, TASK)[0]
    assert out["plan"] == normalise_plan(PLAN) and out["_lineage"][0]["step"] == "plan"
    prompt = model.requests[0].messages[-1]["content"]
    assert "Schedule a meeting for busy people." in prompt and "Add a buffer constraint." in prompt
    assert model.requests[0].json_schema is not None
    no_constraint = json.dumps({**PLAN, "constraints": [{"name": "", "description": ""}]})
    bad = run(BenchagentsPlan("plan"), ScriptedModel(says(no_constraint)), TASK)
    assert isinstance(bad, Rejected) and bad.reason == "the plan has no constraint with a description"
    with pytest.raises(ValueError, match="column 'task' is empty"):
        run(BenchagentsPlan("plan"), model, {"id": "t", "task": " "})


def test_an_edited_plan_file_replaces_the_planner_and_its_edits_recompute(tmp_path):
    exported = tmp_path / "benchagents_plan.json"
    exported.write_text(json.dumps({"plans": [{"task_id": "calendar", "task": "t", "plan": normalise_plan(PLAN)}]}))
    step = BenchagentsPlan("plan", plan_file=str(exported))
    out = run(step, ScriptedModel(lambda req: pytest.fail("the planner must not be asked")), TASK)[0]
    assert out["plan"]["constraints"][0]["function"] == "check_within_working_hours"
    assert out["_lineage"] == [{"step": "plan", "plan_file": str(exported)}]
    other = run(step, ScriptedModel(lambda req: json.dumps(PLAN)), {**TASK, "task_id": "other"})[0]  # not in the file
    assert other["_lineage"][0].get("plan_file") is None
    before = step.describe()
    edited = normalise_plan({**PLAN, "answer_format": "Answer: HH:MM"})
    exported.write_text(json.dumps({"plans": [{"task_id": "calendar", "plan": edited}]}))
    assert BenchagentsPlan("plan", plan_file=str(exported)).describe() != before
    single = tmp_path / "one.json"
    single.write_text(json.dumps(PLAN))
    assert run(BenchagentsPlan("plan", plan_file=str(single)), ScriptedModel(lambda req: ""), TASK)[0]["plan"]["name"] == "Mini calendar"
    single.write_text(json.dumps({"name": "x"}))
    with pytest.raises(ValueError, match="plan 1: the plan has no parameter"):
        BenchagentsPlan("plan", plan_file=str(single))
    with pytest.raises(ValueError, match="export must be a plain file name"):
        BenchagentsPlan("plan", export="../x")


def test_items_sample_distinct_parameter_combinations_deterministically():
    rec = {**TASK, "plan": normalise_plan(PLAN)}
    kids = BenchagentsItems("items", n_items=4).expand(rec)
    assert [k["item_index"] for k in kids] == [0, 1, 2, 3]
    assert len({tuple(sorted(k["parameters"].items())) for k in kids}) == 4  # all 2 x 2 combinations
    assert kids == BenchagentsItems("items", n_items=4).expand(rec)
    assert len(BenchagentsItems("items", n_items=6).expand(rec)) == 6
    with pytest.raises(ValueError, match="column 'plan' must be a plan"):
        BenchagentsItems("items").expand({"id": "x", "plan": {}})


def test_max_fanout_bounds_the_items_per_task():
    """The recipe passes -n as max_fanout: a -n 3 try writes 3 items per task, the first 3 of the full draw."""
    rec = {**TASK, "plan": normalise_plan(PLAN)}
    full = BenchagentsItems("items", n_items=8).expand(rec)
    assert BenchagentsItems("items", n_items=8, max_fanout=3).expand(rec) == full[:3]
    assert len(BenchagentsItems("items", n_items=8, max_fanout=None).expand(rec)) == 8
    with pytest.raises(ValueError, match="max_fanout must be >= 1"):
        BenchagentsItems("items", max_fanout=0)


def test_the_generation_agent_writes_an_item_or_is_rejected():
    rec = {**TASK, "plan": normalise_plan(PLAN), "parameters": {"meeting_duration": "60", "participants": "2"}}
    model = ScriptedModel(team)
    out = run(BenchagentsGenerate("generate"), model, rec)[0]
    assert out["reference_answer"] == "Answer: Monday 10:00-11:00" and "DURATION = 60" in out["checker"]
    prompt = model.requests[0].messages[-1]["content"]
    assert all(f"def {fn}(answer: str) -> bool" in prompt for fn in FUNCTIONS) and "- meeting_duration: 60" in prompt
    for changes, reason in (({"prompt": ""}, "no prompt or no reference answer"), ({"checker": " "}, "no checker code")):
        verdict = run(BenchagentsGenerate("generate"), ScriptedModel(says(json.dumps(item(30, **changes)))), rec)
        assert isinstance(verdict, Rejected) and reason in verdict.reason


def test_the_review_page_lists_parameters_constraints_and_checkers():
    page = plan_markdown([{"task_id": "calendar", "task": "Schedule.", "plan": normalise_plan(PLAN)}])
    assert "## calendar: Mini calendar" in page and "| `meeting_duration` | 30, 60 | minutes |" in page
    assert "| `no_overlap` | `check_no_overlap(answer)` |" in page and "plan_file" in page


def test_the_recipe_builds_verifies_and_scores_a_benchmark_and_exports_the_plan(tmp_path, scripted_model):
    out = tmp_path / "bench"
    spec = scripted_model(team)
    run_ = run_recipe("benchagents", out, "items_per_task=4", f"target_model={spec}", extra_cli_args=("--model", spec))
    data, rejected, errors = completed_outputs(run_, out)
    assert len(data) == 4 and not rejected and not errors
    for row in data:
        checks = row["verification"]["checks"]
        assert checks["check_within_working_hours"] == {"reference": True, "wrong": True, "empty": False}
        assert checks["check_no_overlap"] == {"reference": True, "wrong": False, "empty": False}
        assert row["verification"]["quality"]["solvable"] is True
        thirty = row["parameters"]["meeting_duration"] == "30"
        assert row["solved"] is thirty and row["score"] == (1.0 if thirty else pytest.approx(2 / 3))
        assert row["constraint_results"]["check_duration"] is thirty
    scores = json.loads((out / "benchagents_scores.json").read_text())["tasks"]["calendar_scheduling"]
    assert scores["items"] == 4 and scores["solved_rate"] == 0.5 and scores["constraint_pass_rate"]["check_duration"] == 0.5
    exported = json.loads((out / "benchagents_plan.json").read_text())["plans"]
    assert [e["task_id"] for e in exported] == ["calendar_scheduling"] and exported[0]["plan"] == normalise_plan(PLAN)
    assert "## calendar_scheduling: Mini calendar" in (out / "benchagents_plan.md").read_text()

    edited = {"plans": [{**exported[0], "plan": {**exported[0]["plan"], "name": "Reviewed calendar"}}]}
    (tmp_path / "reviewed.json").write_text(json.dumps(edited))
    asked = []

    def no_planner(req):
        asked.append(req.messages[-1]["content"][:30])
        return team(req)

    again = tmp_path / "again"
    spec = scripted_model(no_planner)
    run_recipe("benchagents", again, "items_per_task=2", f"plan_file={tmp_path / 'reviewed.json'}", f"target_model={spec}",
               extra_cli_args=("--model", spec))
    assert asked and not any(a.startswith("You are the planning agent") for a in asked)
    assert json.loads((again / "benchagents_plan.json").read_text())["plans"][0]["plan"]["name"] == "Reviewed calendar"


@pytest.mark.slow
@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "bench"
    run_ = run_recipe("benchagents", out, "items_per_task=1", "max_tokens=64", "answer_max_tokens=32", "concurrency=2",
                      extra_cli_args=("-n", "1"))
    data, rejected, errors = completed_outputs(run_, out)
    assert run_["counts"]["tasks"]["out"] == 1
    for r in rejected:
        assert r["_rejected_by"] in ("plan", "generate", "verify") and r["_reason"]
    for r in errors:
        assert r["_step"] in ("plan", "generate", "verify", "evaluate") and r["_error"]
    for row in data:
        assert 0.0 <= row["score"] <= 1.0 and isinstance(row["constraint_results"], dict)
