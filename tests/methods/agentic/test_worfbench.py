"""WorFBench generation and checks: the workflow schema and prompt, graphs kept or rejected, calls
executed in a topological order in the sandbox, and the recipe end to end on a scripted planner
(kept, rejected and scored rows) and on the embedded model."""

from __future__ import annotations

import json

import pytest

from synthloom.methods.agentic.worfbench import WorfbenchCheck, WorfbenchGenerate, workflow_schema
from synthloom.methods.agentic.worfbench_graph import parse_workflow
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

TASK = {"id": "t1", "task_id": "units", "task": "Give 26.2 miles in km and 10 km in miles.", "tools": ["convert_length"]}
PLAN = {"id": "t2", "task_id": "bread", "task": "Bake a loaf of bread.", "tools": None}


def call(i, value, src, dst):
    return {"id": i, "subtask": f"Convert {value} {src} to {dst}", "tool": "convert_length",
            "arguments": {"value": value, "from_unit": src, "to_unit": dst}}


UNITS = {"nodes": [call(1, 26.2, "mile", "kilometer"), call(2, 10, "kilometer", "mile")],
         "edges": [{"from": "START", "to": "1"}, {"from": "START", "to": "2"}, {"from": "1", "to": "END"}, {"from": "2", "to": "END"}]}
BREAD = {"nodes": [{"id": 1, "subtask": "Mix the dough"}, {"id": 2, "subtask": "Bake it"}],
         "edges": [{"from": "START", "to": "1"}, {"from": "1", "to": "2"}, {"from": "2", "to": "END"}]}


def test_the_generator_asks_for_a_graph_of_the_tasks_tools():
    model = ScriptedModel(lambda req: json.dumps(UNITS))
    out = run_step(WorfbenchGenerate("generate"), model, [TASK])[0][0]
    assert out["workflow"]["edges"] == [["START", "1"], ["START", "2"], ["1", "END"], ["2", "END"]]
    assert out["workflow"]["nodes"][0]["tool"] == "convert_length"
    prompt, schema = user_text(model.requests[0]), model.requests[0].json_schema
    assert "- convert_length: Convert a length" in prompt and '"from_unit"' in prompt and "(at most 10)" in prompt
    assert schema["properties"]["nodes"]["items"]["properties"]["tool"]["enum"] == ["convert_length"]
    plain = ScriptedModel(lambda req: json.dumps(BREAD))
    out = run_step(WorfbenchGenerate("generate", max_nodes=4), plain, [PLAN])[0][0]
    assert out["workflow"]["nodes"][1] == {"id": "2", "subtask": "Bake it", "tool": None, "arguments": {}}
    assert "tool" not in plain.requests[0].json_schema["properties"]["nodes"]["items"]["properties"]
    assert "Tools you can use" not in user_text(plain.requests[0])
    assert workflow_schema(None, 4)["properties"]["nodes"]["items"]["properties"]["id"]["maximum"] == 4
    twice = ScriptedModel(lambda req: json.dumps({**BREAD, "nodes": [BREAD["nodes"][0]] * 2}))
    over = run_step(WorfbenchGenerate("generate", max_nodes=1), twice, [PLAN])[0]
    assert isinstance(over, Rejected) and over.reason == "the workflow has 2 nodes, more than max_nodes 1"
    with pytest.raises(ValueError, match="tool\\(s\\) teleport that have no implementation"):
        run_step(WorfbenchGenerate("generate"), model, [{**TASK, "tools": ["teleport"]}])
    with pytest.raises(ValueError, match="max_nodes must be between 1 and 50"):
        WorfbenchGenerate("generate", max_nodes=0)


def check(rows, **options):
    return run_step(WorfbenchCheck("check", **options), lambda req: "", rows)


def test_a_valid_plan_without_tools_is_kept_unexecuted():
    out = check([{**PLAN, "workflow": BREAD}])[0][0]
    assert out["order"] == ["1", "2"] and out["execution"] is None


def test_invalid_graphs_are_rejected_with_the_reason():
    cyclic = {**BREAD, "edges": BREAD["edges"] + [{"from": "2", "to": "1"}]}
    dangling = {**BREAD, "edges": BREAD["edges"] + [{"from": "2", "to": "7"}]}
    orphan = {"nodes": BREAD["nodes"] + [{"id": 3, "subtask": "Slice it"}], "edges": BREAD["edges"] + [{"from": "3", "to": "2"}]}
    verdicts = check([{**PLAN, "workflow": w} for w in (cyclic, dangling, orphan, "no graph")])
    assert all(isinstance(v, Rejected) for v in verdicts)
    assert [v.reason for v in verdicts] == [
        "invalid workflow graph: the workflow has a cycle: 1 -> 2 -> 1",
        "invalid workflow graph: dangling edge(s) 2->7: an end is not a node (or START is a target, END a source)",
        "invalid workflow graph: node(s) 3 cannot be reached from START",
        "not a workflow: a workflow is an object with a 'nodes' list and an 'edges' list"]


def test_the_calls_run_in_a_topological_order_in_the_sandbox():
    kept = check([{**TASK, "workflow": UNITS}])[0]
    assert isinstance(kept, list), kept
    out = kept[0]
    assert [(e["node"], e["tool"], e["status"]) for e in out["execution"]] == [("1", "convert_length", "ok"), ("2", "convert_length", "ok")]
    assert out["execution"][0]["value"] == pytest.approx(42.16, abs=0.01)
    bad_unit = {**UNITS, "nodes": [UNITS["nodes"][0], call(2, 10, "kilometer", "parsec")]}
    wrong_tool = {**UNITS, "nodes": [UNITS["nodes"][0], {**UNITS["nodes"][1], "tool": "mean"}]}
    failing = {**UNITS, "nodes": [UNITS["nodes"][0], call(2, float("nan"), "kilometer", "mile")]}
    verdicts = check([{**TASK, "workflow": w} for w in (bad_unit, wrong_tool)] + [{**TASK, "workflow": failing}])
    assert all(isinstance(v, Rejected) for v in verdicts)
    assert verdicts[0].reason.startswith("node 2: call of 'convert_length': ") and "parsec" in verdicts[0].reason
    assert verdicts[1].reason == "invalid workflow graph: node 2 uses 'mean', not one of this task's tools (convert_length)"
    assert verdicts[2].reason.startswith("node 2 (convert_length) failed when executed: error")
    unexecuted = check([{**TASK, "workflow": bad_unit}], execute=False)[0][0]
    assert unexecuted["execution"] is None


def planner(req):
    """A scripted planner: the bundled tasks' gold workflows for tool tasks, a cyclic graph for the others."""
    text = user_text(req)
    if "Tools you can use" in text:
        gold = parse_workflow(GOLD[next(t for t in GOLD if t in text)])
        return json.dumps({"nodes": [{**n, "id": int(n["id"])} for n in gold["nodes"]],
                           "edges": [{"from": a, "to": b} for a, b in gold["edges"]]})
    return json.dumps({"nodes": [{"id": 1, "subtask": "a"}, {"id": 2, "subtask": "b"}],
                       "edges": [{"from": "START", "to": "1"}, {"from": "1", "to": "2"}, {"from": "2", "to": "1"}]})


GOLD: dict = {}


def test_the_recipe_keeps_valid_executed_workflows_and_scores_them(tmp_path, scripted_model):
    from synthloom.recipes.loader import BUILTIN_DIR

    tasks = [json.loads(line) for line in (BUILTIN_DIR / "worfbench_tasks.jsonl").read_text().splitlines()]
    GOLD.update({t["task"]: t["gold_workflow"] for t in tasks[:4]})
    out = tmp_path / "wf"
    run = run_recipe("worfbench", out, "n=4", "measure=lexical", extra_cli_args=("--model", scripted_model(planner)))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and len(data) == 2 and len(rejected) == 2
    for row in data:
        assert row["tools"] and all(e["status"] == "ok" for e in row["execution"])
        assert row["scores"]["f1_node"] == 1.0 and row["scores"]["f1_graph"] == 1.0
    assert {r["_reason"].split(":")[0] for r in rejected} == {"invalid workflow graph"}


@pytest.mark.slow
@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "wf"
    run = run_recipe("worfbench", out, "max_tokens=64", "concurrency=2", "measure=chrf", extra_cli_args=("-n", "1"))
    data, rejected, errors = completed_outputs(run, out)
    assert run["counts"]["tasks"]["out"] == 1
    for r in rejected:
        assert r["_rejected_by"] in ("generate", "check", "evaluate") and r["_reason"]
    for r in errors:
        assert r["_step"] in ("generate", "check") and r["_error"]
    for row in data:
        assert 0.0 <= row["scores"]["f1_graph"] <= 1.0
