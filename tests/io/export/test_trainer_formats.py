"""Each trainer format on one SFT row, one pair row (single- and multi-turn), one KTO row and tool-use rows: the
exact records, their provenance for the card, and the rows a layout cannot hold."""

from __future__ import annotations

import json

import pytest
from tool_row_samples import PARALLEL, SIMPLE

from synthloom.io.export.chat_rows import Columns, Unusable
from synthloom.io.export.tool_formats import to_openai, to_sharegpt
from synthloom.io.export.trainer_formats import CONVERTERS

SYSTEM = {"role": "system", "content": "Answer briefly."}
USER = {"role": "user", "content": "What is the capital of Peru?"}
SFT = {"instruction": "What is the capital of Peru?", "system": "Answer briefly.", "response": "Lima.", "model": "big"}
PAIR = {"prompt": "What is the capital of Peru?", "system": "Answer briefly.", "chosen": "Lima.", "rejected": "Cusco.",
        "chosen_model": "big", "rejected_model": "small", "pair_rule": "best_vs_random", "margin": 2.0}
TURNS = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}, USER]
MULTI = {**PAIR, "system": None, "prompt_messages": TURNS}
KTO = {"prompt": "What is the capital of Peru?", "completion": "Cusco.", "label": False, "model": "small", "score": 1.5}
DEFAULT = Columns()


def convert(fmt: str, row: dict, style: str = "conversational", tool_row: bool = False):
    return CONVERTERS[fmt](row, DEFAULT, style, tool_row)


def records(fmt: str, row: dict, style: str = "conversational") -> list[dict]:
    return [w.record for w in convert(fmt, row, style)]


def assistant(text: str) -> dict:
    return {"role": "assistant", "content": text}


def test_sft_formats_of_a_prompt_response_row():
    chat = [SYSTEM, USER, assistant("Lima.")]
    assert records("trl-sft", SFT) == [{"messages": chat}]
    assert records("trl-sft", SFT, "standard") == [{"prompt": "Answer briefly.\n\nWhat is the capital of Peru?", "completion": "Lima."}]
    assert records("openai-chat", SFT) == [{"messages": chat}]
    assert records("sharegpt", SFT) == [{"conversations": [{"from": "system", "value": "Answer briefly."},
                                                           {"from": "human", "value": "What is the capital of Peru?"},
                                                           {"from": "gpt", "value": "Lima."}]}]
    assert records("alpaca", {**SFT, "input": "Answer in Spanish."}) == [
        {"instruction": "What is the capital of Peru?", "input": "Answer in Spanish.", "output": "Lima.", "system": "Answer briefly."}]
    [written] = convert("trl-sft", SFT)
    assert written.sources == [("big", "response")] and written.pair_rule is None


def test_dpo_kto_and_reward_layouts_of_a_pair():
    prompt = [SYSTEM, USER]
    assert records("trl-dpo", PAIR) == [{"prompt": prompt, "chosen": [assistant("Lima.")], "rejected": [assistant("Cusco.")]}]
    text = "Answer briefly.\n\nWhat is the capital of Peru?"
    assert records("trl-dpo", PAIR, "standard") == [{"prompt": text, "chosen": "Lima.", "rejected": "Cusco."}]
    assert records("trl-rm", PAIR) == [{"chosen": [*prompt, assistant("Lima.")], "rejected": [*prompt, assistant("Cusco.")]}]
    assert records("trl-rm", PAIR, "standard") == [{"chosen": f"{text}\n\nLima.", "rejected": f"{text}\n\nCusco."}]
    assert records("trl-kto", PAIR) == [{"prompt": prompt, "completion": [assistant("Lima.")], "label": True},
                                        {"prompt": prompt, "completion": [assistant("Cusco.")], "label": False}]
    assert records("trl-kto", PAIR, "standard")[1] == {"prompt": text, "completion": "Cusco.", "label": False}
    [dpo] = convert("trl-dpo", PAIR)
    assert dpo.sources == [("big", "chosen"), ("small", "rejected")] and dpo.pair_rule == "best_vs_random"
    assert [w.sources for w in convert("trl-kto", PAIR)] == [[("big", "desirable")], [("small", "undesirable")]]


def test_a_multi_turn_prompt_in_conversational_and_standard_forms():
    assert records("trl-dpo", MULTI)[0]["prompt"] == TURNS
    assert records("trl-sft", MULTI) == [{"messages": [*TURNS, assistant("Lima.")]}]
    for fmt, style in [("trl-dpo", "standard"), ("trl-sft", "standard"), ("trl-kto", "standard"), ("trl-rm", "standard"),
                       ("alpaca", "conversational")]:
        with pytest.raises(Unusable) as caught:
            convert(fmt, MULTI, style)
        assert caught.value.reason == "multi_turn", fmt


def test_kto_rows_keep_their_label_and_are_no_sft_target_when_undesirable():
    assert records("trl-kto", KTO, "standard") == [{"prompt": "What is the capital of Peru?", "completion": "Cusco.", "label": False}]
    assert convert("trl-kto", KTO)[0].sources == [("small", "undesirable")]
    with pytest.raises(Unusable) as caught:
        convert("openai-chat", KTO)
    assert caught.value.reason == "undesirable"
    assert records("openai-chat", {**KTO, "label": True}) == [{"messages": [USER, assistant("Cusco.")]}]


def test_tool_rows_go_to_the_tool_layouts_where_the_format_has_one():
    assert records_tool("trl-sft", SIMPLE) == [to_openai(SIMPLE)]  # TRL's tool-calling layout, arguments as objects
    assert records_tool("sharegpt", PARALLEL) == [to_sharegpt(PARALLEL)]  # LLaMA-Factory's
    [record] = records_tool("openai-chat", PARALLEL)  # OpenAI fine-tuning: arguments as JSON text, no name on replies
    calls = record["messages"][1]["tool_calls"]
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [{"value": 5, "to_unit": "mi"},
                                                                       {"value": 12, "to_unit": "mi", "precision": 1}]
    assert record["messages"][2] == {"role": "tool", "tool_call_id": "call_1", "content": '{"value": 3.11, "unit": "mi"}'}
    assert record["tools"] == to_openai(PARALLEL)["tools"]
    assert to_openai(PARALLEL)["messages"][1]["tool_calls"][0]["function"]["arguments"] == {"value": 5, "to_unit": "mi"}
    for fmt, style in [("trl-dpo", "conversational"), ("trl-kto", "conversational"), ("trl-rm", "conversational"),
                       ("alpaca", "conversational"), ("trl-sft", "standard")]:
        with pytest.raises(Unusable) as caught:
            convert(fmt, SIMPLE, style, tool_row=True)
        assert caught.value.reason == "tool_use", fmt


def records_tool(fmt: str, row: dict) -> list[dict]:
    return [w.record for w in convert(fmt, row, tool_row=True)]
