"""Reading tool-use rows: their layout, failed calls, multi-turn checks, and that a shard gives them back exactly."""

from __future__ import annotations

import copy

import pytest
from tool_row_samples import FAILED, MULTI_TURN, PARALLEL, SIMPLE, TWO_ROUNDS, ok, single, tool

from synthloom.io.export.tool_rows import (
    ToolRowError,
    absent_columns,
    conversation,
    failed_calls,
    row_kind,
    row_problem,
)
from synthloom.io.formats import rows_to_table, table_to_rows


def test_row_kinds_and_what_keeps_a_row_from_being_one():
    assert row_kind(SIMPLE) == "single_turn" and row_problem(SIMPLE) is None and absent_columns(SIMPLE) == []
    assert row_kind(MULTI_TURN) == "multi_turn" and row_problem(MULTI_TURN) is None
    not_tools = {"prompt": "x", "response": "y"}
    assert row_kind(not_tools) is None and row_problem(not_tools) == "no query, tools, calls, results"
    assert absent_columns(not_tools) == ["query", "tools", "calls", "results"]
    nulls = {"query": "q", "tools": [], "calls": None, "results": None}
    assert row_problem(nulls) == "no calls, results" and absent_columns(nulls) == []
    assert row_problem({**SIMPLE, "results": "ok"}) == "results must be a list, not str"
    assert row_problem({"messages": [{"role": "user", "content": "hi"}]}) == "no tools"
    # a finalized run holding both layouts has every column, null where a row has none
    mixed = {**MULTI_TURN, "query": None, "calls": None, "results": None}
    assert row_kind(mixed) == "multi_turn" and row_kind({**SIMPLE, "messages": None}) == "single_turn"
    assert row_kind(TWO_ROUNDS) == "single_turn" and failed_calls({**TWO_ROUNDS, "results": [{"status": "error"}] * 2}) == 2


def test_failed_calls_counts_results_that_are_not_ok():
    assert failed_calls(SIMPLE) == 0 and failed_calls(FAILED) == 1 and failed_calls(MULTI_TURN) == 0
    both = copy.deepcopy(PARALLEL)
    both["results"][1]["status"] = "timeout"
    assert failed_calls(both) == 1


def test_conversation_lists_calls_in_order():
    assert conversation(PARALLEL).calls() == [{"id": c["id"], "name": c["name"], "arguments": c["arguments"]}
                                              for c in PARALLEL["calls"]]
    assert [c["name"] for c in conversation(MULTI_TURN).calls()] == ["find_orders", "cancel_order", "find_orders"]


def test_call_ids_default_to_their_position():
    row = copy.deepcopy(SIMPLE)
    del row["calls"][0]["id"]
    row["results"][0]["call_id"] = None
    assert conversation(row).calls()[0]["id"] == "call_0"


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m.insert(2, {"role": "system", "content": "late"}), "messages\\[2\\] is a system message"),
    (lambda m: m.insert(1, {"role": "function", "content": "x"}), "messages\\[1\\] has role 'function'"),
    (lambda m: m[2]["tool_calls"][0].pop("id"), "has no id"),
    (lambda m: m[2]["tool_calls"][0]["function"].update(arguments="not json"), "are not valid JSON"),
    (lambda m: [m.pop(i) for i in (5, 1)], "the conversation has no user message"),
])
def test_malformed_conversations_raise(change, message):
    row = copy.deepcopy(MULTI_TURN)
    change(row["messages"])
    with pytest.raises(ToolRowError, match=message):
        conversation(row)


def _through_arrow(rows: list[dict]) -> list[dict]:
    """Rows written to an Arrow table the way a Parquet shard stores them, and read back."""
    return table_to_rows(rows_to_table(rows))


ROUND = tool("round_to", "Round a number.", {"x": {"type": "number"}, "precision": {"type": "number"}}, ["x", "precision"])
ROUNDED = single("Round 2.345 to 0.01.", [ROUND], [{"id": "r", "name": "round_to", "arguments": {"x": 2.345, "precision": 0.01}}],
                 [ok("r", "round_to", 2.35)], "2.35", "simple")


def test_tool_rows_come_back_from_a_shard_exactly():
    """Different tools' schemas, arguments and results in one shard: no null keys added, integers stay integers."""
    rows = [SIMPLE, PARALLEL, ROUNDED, MULTI_TURN]
    stored = _through_arrow(rows)
    assert stored == [{**r, **{k: None for k in set().union(*rows) - set(r)}} for r in rows]
    assert type(stored[1]["calls"][1]["arguments"]["precision"]) is type(PARALLEL["calls"][1]["arguments"]["precision"])
    assert conversation(stored[3]).messages == conversation(MULTI_TURN).messages
