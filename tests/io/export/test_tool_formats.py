"""Each export format on single-turn rows (the four forms), multi-turn conversations, failed calls and bad rows."""

from __future__ import annotations

import copy
import json
import re

import pytest
from tool_row_samples import (
    ADD,
    CONVERT,
    FAILED,
    LOOKUP,
    MULTI_TURN,
    MULTIPLE,
    PARALLEL,
    PARALLEL_MULTIPLE,
    POLICY,
    SIMPLE,
    TWO_ROUNDS,
    single,
)

from synthloom.io.export.tool_formats import (
    NothingToScore,
    bfcl_category,
    bfcl_function,
    hermes_system_prompt,
    to_bfcl,
    to_hermes,
    to_openai,
    to_sharegpt,
)
from synthloom.io.export.tool_rows import ToolRowError

ALL_ROWS = [SIMPLE, MULTIPLE, PARALLEL, PARALLEL_MULTIPLE, MULTI_TURN, TWO_ROUNDS]


def assert_trl_tool_conversation(record: dict) -> None:
    """The structure TRL's SFTTrainer documents for tool calling (docs/source/dataset_formats.md, "Tool Calling"):
    a ``messages`` list of role/content messages, assistant ``tool_calls`` of ``{"type": "function", "function":
    {"name", "arguments": <object>}}``, ``role: tool`` replies naming the tool, and a ``tools`` column holding the
    function JSON schemas passed to ``apply_chat_template(tools=...)``."""
    assert set(record) == {"messages", "tools"}
    names = set()
    for t in record["tools"]:
        assert t["type"] == "function" and set(t["function"]) >= {"name", "description", "parameters"}
        assert t["function"]["parameters"]["type"] == "object"
        names.add(t["function"]["name"])
    messages = record["messages"]
    assert all(m["role"] in ("system", "user", "assistant", "tool") for m in messages)
    assert all(m["role"] != "system" for m in messages[1:])
    assert messages[-1]["role"] == "assistant"
    open_calls: dict[str, str] = {}
    for m in messages:
        assert isinstance(m.get("content"), str)
        if m["role"] == "assistant":
            for call in m.get("tool_calls", []):
                assert call["type"] == "function" and call["function"]["name"] in names
                assert isinstance(call["function"]["arguments"], dict)
                open_calls[call["id"]] = call["function"]["name"]
        if m["role"] == "tool":
            assert open_calls.pop(m["tool_call_id"]) == m["name"]
    assert not open_calls, f"calls without a tool reply: {open_calls}"


# -- openai / TRL ------------------------------------------------------------------------------------


def test_openai_simple_row_is_the_trl_tool_calling_example_shape():
    assert to_openai(SIMPLE) == {
        "messages": [
            {"role": "user", "content": "What is 2 plus 3.5?"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 3.5}}}]},
            {"role": "tool", "tool_call_id": "call_a", "name": "add", "content": "5.5"},
            {"role": "assistant", "content": "2 plus 3.5 is 5.5."},
        ],
        "tools": [ADD],
    }


@pytest.mark.parametrize("row", ALL_ROWS, ids=["simple", "multiple", "parallel", "parallel_multiple", "multi_turn", "two_rounds"])
def test_openai_records_have_trl_structure(row):
    assert_trl_tool_conversation(to_openai(row))


def test_openai_parallel_calls_share_one_assistant_message_and_each_gets_its_reply():
    messages = to_openai(PARALLEL)["messages"]
    calls = messages[1]["tool_calls"]
    assert [c["id"] for c in calls] == ["call_1", "call_2"]
    assert calls[1]["function"]["arguments"] == {"value": 12, "to_unit": "mi", "precision": 1}
    assert [(m["tool_call_id"], json.loads(m["content"])) for m in messages[2:4]] == [
        ("call_1", {"value": 3.11, "unit": "mi"}), ("call_2", {"value": 7.5, "unit": "mi"})]


def test_openai_multi_turn_keeps_the_policy_and_parses_wire_arguments():
    record = to_openai(MULTI_TURN)
    messages = record["messages"]
    assert messages[0] == {"role": "system", "content": POLICY}
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant", "user", "assistant",
                                             "tool", "tool", "assistant"]
    assert messages[2]["content"] == "Let me look up your orders."
    assert messages[6]["content"] == ""  # None in the row: TRL's templates expect text
    assert messages[6]["tool_calls"][0]["function"]["arguments"] == {"order_id": "o2", "reason": "duplicate"}
    assert [(m["tool_call_id"], m["name"]) for m in messages if m["role"] == "tool"] == [
        ("t1", "find_orders"), ("t2", "cancel_order"), ("t3", "find_orders")]
    assert record["tools"] == MULTI_TURN["tools"]


def test_rows_with_their_own_messages_keep_the_rounds_of_calls():
    record = to_openai(TWO_ROUNDS)
    assert_trl_tool_conversation(record)
    assert [m["role"] for m in record["messages"]] == ["system", "user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert [c["function"]["name"] for m in record["messages"] if m.get("tool_calls") for c in m["tool_calls"]] == [
        "convert_length", "add"]
    assert [t["from"] for t in to_sharegpt(TWO_ROUNDS)["conversations"]] == [
        "human", "function_call", "observation", "function_call", "observation", "gpt"]
    question, answer = to_bfcl(TWO_ROUNDS, 0)  # still a single-turn row: BFCL's category from its calls and tools
    assert question["id"] == "parallel_multiple_0" and question["question"] == [[{"role": "user", "content": TWO_ROUNDS["query"]}]]
    assert answer["ground_truth"] == [{"convert_length": {"value": [3], "to_unit": ["km"], "precision": [2, ""]}},
                                      {"add": {"a": [4.83], "b": [1]}}]


def test_openai_loads_with_datasets_json_type_as_trl_documents():
    datasets = pytest.importorskip("datasets")
    records = [to_openai(r) for r in ALL_ROWS]
    ds = datasets.Dataset.from_list(records, on_mixed_types="use_json")
    for got, want in zip(ds, records, strict=True):
        calls = [c for m in got["messages"] if m.get("tool_calls") for c in m["tool_calls"]]
        wanted = [c for m in want["messages"] if m.get("tool_calls") for c in m["tool_calls"]]
        assert [c["function"]["arguments"] for c in calls] == [c["function"]["arguments"] for c in wanted]
        assert got["tools"] == want["tools"]


def test_failed_call_becomes_a_tool_reply_with_the_error_text():
    messages = to_openai(FAILED)["messages"]
    assert messages[-1] == {"role": "tool", "tool_call_id": "call_f", "name": "convert_length",
                            "content": "ValueError: unknown unit 'parsec'"}
    no_error_text = copy.deepcopy(FAILED)
    no_error_text["results"][0].update(status="timeout", error=None)
    assert "timeout" in to_openai(no_error_text)["messages"][-1]["content"]


# -- ShareGPT (LLaMA-Factory) -------------------------------------------------------------------------


def test_sharegpt_simple_row():
    record = to_sharegpt(SIMPLE)
    assert record["conversations"] == [
        {"from": "human", "value": "What is 2 plus 3.5?"},
        {"from": "function_call", "value": json.dumps({"name": "add", "arguments": {"a": 2, "b": 3.5}})},
        {"from": "observation", "value": "5.5"},
        {"from": "gpt", "value": "2 plus 3.5 is 5.5."},
    ]
    assert record["system"] == ""
    assert json.loads(record["tools"]) == [ADD["function"]]


def test_sharegpt_parallel_calls_are_one_turn_each_way():
    turns = to_sharegpt(PARALLEL_MULTIPLE)["conversations"]
    assert [t["from"] for t in turns] == ["human", "function_call", "observation", "gpt"]
    assert json.loads(turns[1]["value"]) == [{"name": "add", "arguments": {"a": 1, "b": 2}},
                                             {"name": "country_capital", "arguments": {"country": "Chile", "options": {"lang": "es"}}}]
    assert json.loads(turns[2]["value"]) == [3, "Santiago de Chile"]


def test_sharegpt_multi_turn_alternates_and_carries_the_policy():
    record = to_sharegpt(MULTI_TURN)
    assert record["system"] == POLICY
    assert [t["from"] for t in record["conversations"]] == [
        "human", "function_call", "observation", "gpt", "human", "function_call", "observation", "gpt"]
    assert json.loads(record["conversations"][6]["value"]) == [{"order_id": "o2", "status": "cancelled"},
                                                               [{"order_id": "o2", "status": "cancelled"}]]


def test_sharegpt_without_answer_ends_on_the_call_and_failed_results_are_marked():
    turns = to_sharegpt(FAILED)["conversations"]
    assert [t["from"] for t in turns] == ["human", "function_call"]
    with_answer = {**FAILED, "answer": "I cannot convert parsecs."}
    turns = to_sharegpt(with_answer)["conversations"]
    assert json.loads(turns[2]["value"]) == {"error": "ValueError: unknown unit 'parsec'"}


def test_sharegpt_refuses_turns_that_do_not_alternate():
    row = copy.deepcopy(MULTI_TURN)
    row["messages"].insert(2, {"role": "user", "content": "Are you there?"})
    with pytest.raises(ToolRowError, match="turn 1 is 'human'"):
        to_sharegpt(row)


# -- Hermes -------------------------------------------------------------------------------------------


def _blocks(tag: str, text: str) -> list:
    return [json.loads(b) for b in re.findall(rf"<{tag}>\n(.*?)\n</{tag}>", text, re.S)]


def test_hermes_simple_row():
    record = to_hermes({**SIMPLE, "id": "r1"})
    turns = record["conversations"]
    assert record["id"] == "r1"
    assert [t["from"] for t in turns] == ["system", "human", "gpt", "tool", "gpt"]
    assert turns[0]["value"] == hermes_system_prompt([ADD])
    assert json.loads(re.search(r"<tools>\n(.*)\n</tools>", turns[0]["value"], re.S).group(1)) == [ADD]
    assert turns[2]["value"] == '<tool_call>\n{"name": "add", "arguments": {"a": 2, "b": 3.5}}\n</tool_call>'
    assert turns[3]["value"] == '<tool_response>\n{"name": "add", "content": 5.5}\n</tool_response>'
    assert turns[4]["value"] == "2 plus 3.5 is 5.5."


def test_hermes_parallel_calls_and_responses_are_blocks_in_one_turn():
    turns = to_hermes(PARALLEL)["conversations"]
    assert _blocks("tool_call", turns[2]["value"]) == [{"name": c["name"], "arguments": c["arguments"]} for c in PARALLEL["calls"]]
    assert _blocks("tool_response", turns[3]["value"]) == [
        {"name": "convert_length", "content": {"value": 3.11, "unit": "mi"}},
        {"name": "convert_length", "content": {"value": 7.5, "unit": "mi"}}]


def test_hermes_multi_turn_keeps_thoughts_before_calls_and_the_policy_before_the_tools():
    turns = to_hermes(MULTI_TURN)["conversations"]
    assert turns[0]["value"].startswith(POLICY + "\n\nYou are a function calling AI model.")
    assert turns[2]["value"].startswith("Let me look up your orders.\n<tool_call>\n")
    assert [t["from"] for t in turns] == ["system", "human", "gpt", "tool", "gpt", "human", "gpt", "tool", "gpt"]
    assert len(_blocks("tool_response", turns[7]["value"])) == 2


def test_hermes_failed_call_replies_with_an_error_object():
    turns = to_hermes(FAILED)["conversations"]
    assert _blocks("tool_response", turns[-1]["value"]) == [
        {"name": "convert_length", "content": {"error": "ValueError: unknown unit 'parsec'"}}]


# -- BFCL -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", [SIMPLE, MULTIPLE, PARALLEL, PARALLEL_MULTIPLE], ids=lambda r: r["form"])
def test_bfcl_category_is_the_rows_form(row):
    assert bfcl_category(row) == row["form"]
    question, answer = to_bfcl(row, 7)
    assert question["id"] == answer["id"] == f"{row['form']}_7"
    assert question["question"] == [[{"role": "user", "content": row["query"]}]]
    assert [f["name"] for f in question["function"]] == [t["function"]["name"] for t in row["tools"]]
    assert [next(iter(g)) for g in answer["ground_truth"]] == [c["name"] for c in row["calls"]]


def test_bfcl_function_uses_bfcl_type_names():
    assert bfcl_function(LOOKUP["function"]) == {
        "name": "country_capital", "description": "The capital of a country.",
        "parameters": {"type": "dict", "properties": {
            "country": {"type": "string"}, "options": {"type": "dict", "properties": {"lang": {"type": "string"}}}},
            "required": ["country"]}}
    assert bfcl_function({"name": "f", "parameters": {"type": "object", "properties": {
        "xs": {"type": "array", "items": {"type": "number"}}, "n": {"type": ["integer", "null"]}}}})["parameters"] == {
        "type": "dict", "properties": {"xs": {"type": "array", "items": {"type": "float"}}, "n": {"type": "integer"}},
        "required": []}


def test_bfcl_ground_truth_marks_omitted_optional_parameters():
    _, answer = to_bfcl(PARALLEL, 0)
    assert answer["ground_truth"] == [
        {"convert_length": {"value": [5], "to_unit": ["mi"], "precision": [2, ""]}},
        {"convert_length": {"value": [12], "to_unit": ["mi"], "precision": [1]}}]
    _, answer = to_bfcl(PARALLEL_MULTIPLE, 0)
    assert answer["ground_truth"] == [{"add": {"a": [1], "b": [2]}},
                                      {"country_capital": {"country": ["Chile"], "options": [{"lang": ["es"]}]}}]
    _, answer = to_bfcl(MULTIPLE, 0)
    assert answer["ground_truth"] == [{"country_capital": {"country": ["Peru"], "options": [""]}}]


def test_bfcl_multi_turn_lists_calls_per_user_turn():
    question, answer = to_bfcl(MULTI_TURN, 0)
    assert question["id"] == "multi_turn_0"
    assert question["question"] == [
        [{"role": "system", "content": POLICY}, {"role": "user", "content": "Hi, I am user u7. Please cancel my latest order."}],
        [{"role": "user", "content": "Yes, because I ordered twice."}]]
    assert answer["ground_truth"] == [["find_orders(user_id='u7')"],
                                      ["cancel_order(order_id='o2', reason='duplicate')", "find_orders(user_id='u7')"]]


def test_bfcl_has_nothing_to_score_without_calls():
    chat = single("Say hi.", [ADD], [], [], "Hi!", "simple")
    assert to_openai(chat)["messages"] == [{"role": "user", "content": "Say hi."}, {"role": "assistant", "content": "Hi!"}]
    with pytest.raises(NothingToScore):
        to_bfcl(chat, 0)


# -- rows that cannot be exported ---------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r["results"].pop(), "1 calls but 0 results"),
    (lambda r: r["calls"][0].update(name="subtract"), "'subtract', which is not among the row's tools"),
    (lambda r: r["calls"][0].update(arguments="{a: 1"), "calls\\[0\\]: the arguments are not valid JSON"),
    (lambda r: r["calls"][0].update(arguments=[1, 2]), "the arguments are list, not a JSON object"),
    (lambda r: r["results"][0].update(call_id="call_zzz"), "results\\[0\\] answers call 'call_zzz'"),
    (lambda r: r.update(query="  "), "query is empty"),
    (lambda r: r.update(tools=[{"type": "function"}]), "tools\\[0\\] is not a function tool"),
    (lambda r: r["tools"][0]["function"].update(parameters="a, b"), "parameters must be a JSON schema object"),
    (lambda r: r["results"].__setitem__(0, "5.5"), "results\\[0\\] is not a result object"),
    (lambda r: r.update(calls={"id": "x"}), "not a tool-use row: calls must be a list, not dict"),
])
@pytest.mark.parametrize("convert", [to_openai, to_sharegpt, to_hermes, lambda r: to_bfcl(r, 0)],
                         ids=["openai", "sharegpt", "hermes", "bfcl"])
def test_malformed_single_turn_rows_raise_a_clear_error(change, message, convert):
    row = copy.deepcopy(SIMPLE)
    change(row)
    with pytest.raises(ToolRowError, match=message):
        convert(row)


def test_tool_reply_to_an_unknown_call_is_an_error():
    row = copy.deepcopy(MULTI_TURN)
    row["messages"][3]["tool_call_id"] = "nope"
    with pytest.raises(ToolRowError, match="messages\\[3\\] answers call 'nope'"):
        to_openai(row)


def test_converters_do_not_change_the_row():
    rows = copy.deepcopy(ALL_ROWS)
    for row in rows:
        to_openai(row), to_sharegpt(row), to_hermes(row), to_bfcl(row, 0)
    assert rows == ALL_ROWS


def test_bfcl_parallel_is_several_calls_of_one_tool_even_among_several_offered():
    row = {**PARALLEL, "tools": [CONVERT, ADD]}
    assert bfcl_category(row) == "parallel"
    assert bfcl_category({**SIMPLE, "tools": [ADD, LOOKUP], "form": "simple"}) == "multiple"  # BFCL's simple has one tool
