"""WorFBench workflow graphs: reading both forms, validation of constructed valid and invalid graphs
(dangling edge, self-loop, cycle, disconnected, unreachable, dead end, tools), topological orders,
and WorFEval's metrics on cases with known answers."""

from __future__ import annotations

import pytest

from synthloom.methods.agentic.worfbench_eval import (
    WorfbenchEvaluate,
    evaluate_workflow,
    longest_increasing,
    match_nodes,
)
from synthloom.methods.agentic.worfbench_graph import (
    WorkflowError,
    parse_workflow,
    topological_order,
    topological_sorts,
    workflow_problems,
)
from synthloom.pipeline.step import Rejected


def flow(nodes, edges):
    return parse_workflow({"nodes": nodes, "edges": edges})


CHAIN = flow(["a", "b", "c"], [["START", 1], [1, 2], [2, 3], [3, "END"]])
DIAMOND = flow(["a", "b", "c", "d"], [["START", 1], [1, 2], [1, 3], [2, 4], [3, 4], [4, "END"]])


def exact(pred, gold):
    """Similarity 1 for identical subtask texts, else 0: metrics independent of a text measure."""
    return [[1.0 if p == g else 0.0 for g in gold] for p in pred]


def test_both_forms_read_to_the_normal_form():
    full = parse_workflow({"nodes": [{"id": 1, "subtask": "Convert", "tool": "convert_length", "arguments": {"value": 2}}],
                           "edges": [{"from": "start", "to": "1"}, {"from": 1, "to": "End"}]})
    assert full == {"nodes": [{"id": "1", "subtask": "Convert", "tool": "convert_length", "arguments": {"value": 2}}],
                    "edges": [["START", "1"], ["1", "END"]]}
    assert CHAIN["nodes"][1] == {"id": "2", "subtask": "b", "tool": None, "arguments": {}}
    with pytest.raises(WorkflowError, match="'nodes' list"):
        parse_workflow({"edges": []})


def test_valid_graphs_have_no_problems():
    assert workflow_problems(CHAIN) == [] and workflow_problems(DIAMOND) == []
    parallel = flow(["a", "b"], [["START", 1], ["START", 2], [1, "END"], [2, "END"]])
    assert workflow_problems(parallel) == []


@pytest.mark.parametrize(("nodes", "edges", "problem"), [
    ([], [], "the workflow has no nodes"),
    (["a", "b"], [["START", 1], [1, 3], [2, "END"]], "dangling edge(s) 1->3"),
    (["a"], [["START", 1], [1, "END"], ["END", 1]], "dangling edge(s) END->1"),
    (["a", ""], [["START", 1], [1, 2], [2, "END"]], "node(s) 2 have no subtask text"),
    (["a", "b"], [["START", 1], [1, 1], [1, "END"]], "node 1 depends on itself"),
    (["a", "b", "c"], [["START", 1], [1, 2], [2, 3], [3, 2], [3, "END"]], "the workflow has a cycle: 2 -> 3 -> 2"),
    (["a", "b", "c"], [["START", 1], [1, 2], [2, "END"]], "the workflow is not connected: node(s) 3"),
    (["a", "b", "c"], [["START", 1], [1, 2], [3, 2], [2, "END"]], "node(s) 3 cannot be reached from START"),
    (["a", "b", "c"], [["START", 1], [1, 2], [1, 3], [2, "END"]], "node(s) 3 never lead to END"),
])
def test_invalid_graphs_say_why(nodes, edges, problem):
    problems = workflow_problems(flow(nodes, edges))
    assert problems and problem in problems[0]


def test_duplicate_ids_and_tools_outside_the_tasks_list():
    dupes = parse_workflow({"nodes": [{"id": 1, "subtask": "a"}, {"id": 1, "subtask": "b"}], "edges": [["START", 1], [1, "END"]]})
    assert workflow_problems(dupes)[0] == "node ids are not unique: 1"
    calls = parse_workflow({"nodes": [{"id": 1, "subtask": "a", "tool": "mean", "arguments": {}},
                                      {"id": 2, "subtask": "b", "tool": "rm_rf", "arguments": {}}, {"id": 3, "subtask": "c"}],
                            "edges": [["START", 1], [1, 2], [2, 3], [3, "END"]]})
    problems = workflow_problems(calls, ["mean", "median"])
    assert problems == ["node 2 uses 'rm_rf', not one of this task's tools (mean, median)",
                        "node 3 names no tool; this task's tools: mean, median"]
    assert workflow_problems(calls, ["mean", "rm_rf"], require_tools=False) == []
    assert workflow_problems(calls) == []  # a task without tools: nodes are plain subtasks


def test_topological_orders():
    assert topological_order(DIAMOND) == ["1", "2", "3", "4"]
    assert topological_sorts(DIAMOND) == [["1", "2", "3", "4"], ["1", "3", "2", "4"]]
    wide = flow([f"s{i}" for i in range(5)], [["START", i] for i in range(1, 6)] + [[i, "END"] for i in range(1, 6)])
    assert len(topological_sorts(wide)) == 20 and len(topological_sorts(wide, max_nodes=5)) == 1


def test_matching_and_lis_helpers():
    assert longest_increasing([0, 2, 1, 3]) == 3 and longest_increasing([2, 1, 0]) == 1 and longest_increasing([]) == 0
    scores = [[0.9, 0.8], [0.85, 0.1], [0.2, 0.3]]
    assert match_nodes(scores, 0.6) == {0: 1, 1: 0}  # the weight-maximising pairing, not the greedy one
    assert match_nodes(scores, 0.95) == {}


def test_identical_workflows_score_one():
    for graph in (CHAIN, DIAMOND):
        scores = evaluate_workflow(graph, graph, scores=exact)
        assert scores["f1_node"] == 1.0 and scores["f1_graph"] == 1.0


def test_a_reversed_chain_scores_lower():
    reversed_ = flow(["c", "b", "a"], [["START", 1], [1, 2], [2, 3], [3, "END"]])
    scores = evaluate_workflow(reversed_, CHAIN, scores=exact)
    assert scores["f1_node"] == pytest.approx(1 / 3) and scores["f1_graph"] == pytest.approx(1 / 3)
    assert scores["matches"] == {"1": "3", "2": "2", "3": "1"}


def test_disjoint_workflows_score_zero():
    other = flow(["x", "y"], [["START", 1], [1, 2], [2, "END"]])
    scores = evaluate_workflow(other, CHAIN, scores=exact)
    assert scores["f1_node"] == 0.0 and scores["f1_graph"] == 0.0 and scores["matches"] == {}


def test_partial_credit_for_a_missing_node_and_a_parallel_gold_order():
    two = flow(["a", "c"], [["START", 1], [1, 2], [2, "END"]])
    scores = evaluate_workflow(two, CHAIN, scores=exact)  # in order, 2 of 3; the a->c edge is not in the gold graph
    assert scores["f1_node"] == pytest.approx(0.8) and scores["f1_graph"] == pytest.approx(0.4)
    swapped = flow(["a", "c", "b", "d"], [["START", 1], [1, 2], [1, 3], [2, 4], [3, 4], [4, "END"]])
    scores = evaluate_workflow(swapped, DIAMOND, scores=exact)  # b and c are parallel: either order is right
    assert scores["f1_node"] == 1.0 and scores["f1_graph"] == 1.0


def test_text_measures_match_paraphrased_subtasks():
    gold = flow(["Convert 26.2 miles to kilometres", "Convert 10 kilometres to miles"], [["START", 1], [1, 2], [2, "END"]])
    pred = flow(["Convert 26.2 miles into kilometres", "Bake a cake"], [["START", 1], [1, 2], [2, "END"]])
    scores = evaluate_workflow(pred, gold, measure="chrf")
    assert scores["matches"] == {"1": "1"} and scores["f1_node"] == pytest.approx(0.5)


def test_the_evaluate_step_scores_filters_and_passes_rows_without_gold():
    step = WorfbenchEvaluate("evaluate", measure="lexical")
    row = {"id": "t", "workflow": CHAIN, "gold_workflow": {"nodes": ["a", "b", "c"], "edges": [["START", 1], [1, 2], [2, 3], [3, "END"]]}}
    assert step.map(row)["scores"]["f1_graph"] == 1.0
    assert step.map({"id": "u", "workflow": CHAIN})["scores"] is None
    strict = WorfbenchEvaluate("evaluate", measure="lexical", min_f1_graph=0.9)
    verdict = strict.map({**row, "workflow": flow(["c", "b", "a"], [["START", 1], [1, 2], [2, 3], [3, "END"]])})
    assert isinstance(verdict, Rejected) and verdict.reason == "f1_graph 0.33 against the gold workflow is below 0.9"
    with pytest.raises(ValueError, match="column 'workflow' or 'gold_workflow'"):
        step.map({**row, "workflow": "1 -> 2"})
    with pytest.raises(ValueError, match="min_f1_node must be between 0 and 1"):
        WorfbenchEvaluate("evaluate", min_f1_node=2)
    with pytest.raises(ValueError, match="similarity measure must be one of"):
        WorfbenchEvaluate("evaluate", measure="bleu")
