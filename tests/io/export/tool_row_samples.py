"""Tool-use rows in the layouts the tool methods write (brief: single-turn and multi-turn), for the export tests."""

from __future__ import annotations

import json
from typing import Any


def tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description,
                                             "parameters": {"type": "object", "properties": properties, "required": required}}}


ADD = tool("add", "Add two numbers.", {"a": {"type": "number", "description": "first"},
                                       "b": {"type": "number", "description": "second"}}, ["a", "b"])
CONVERT = tool("convert_length", "Convert a length between units.", {
    "value": {"type": "number"},
    "to_unit": {"type": "string", "enum": ["km", "mi"]},
    "precision": {"type": "integer", "default": 2},
}, ["value", "to_unit"])
LOOKUP = tool("country_capital", "The capital of a country.", {"country": {"type": "string"},
                                                               "options": {"type": "object", "properties": {"lang": {"type": "string"}}}},
              ["country"])


def ok(call_id: str, name: str, value: Any) -> dict[str, Any]:
    return {"call_id": call_id, "name": name, "status": "ok", "value": value, "error": None}


def failed(call_id: str, name: str, error: str, status: str = "error") -> dict[str, Any]:
    return {"call_id": call_id, "name": name, "status": status, "value": None, "error": error}


def single(query: str, tools: list[dict], calls: list[dict], results: list[dict], answer: str, form: str,
           simulated: bool = False) -> dict[str, Any]:
    return {"query": query, "tools": tools, "calls": calls, "results": results, "answer": answer, "form": form,
            "simulated": simulated}


SIMPLE = single("What is 2 plus 3.5?", [ADD], [{"id": "call_a", "name": "add", "arguments": {"a": 2, "b": 3.5}}],
                [ok("call_a", "add", 5.5)], "2 plus 3.5 is 5.5.", "simple")
MULTIPLE = single("What is the capital of Peru?", [ADD, LOOKUP],
                  [{"id": "call_c", "name": "country_capital", "arguments": {"country": "Peru"}}],
                  [ok("call_c", "country_capital", "Lima")], "Lima.", "multiple")
PARALLEL = single("Convert 5 km and 12 km to miles.", [CONVERT], [
    {"id": "call_1", "name": "convert_length", "arguments": {"value": 5, "to_unit": "mi"}},
    {"id": "call_2", "name": "convert_length", "arguments": {"value": 12, "to_unit": "mi", "precision": 1}},
], [ok("call_1", "convert_length", {"value": 3.11, "unit": "mi"}), ok("call_2", "convert_length", {"value": 7.5, "unit": "mi"})],
    "5 km is 3.11 mi and 12 km is 7.5 mi.", "parallel")
PARALLEL_MULTIPLE = single("Add 1 and 2, and give me the capital of Chile in Spanish.", [ADD, LOOKUP], [
    {"id": "call_x", "name": "add", "arguments": {"a": 1, "b": 2}},
    {"id": "call_y", "name": "country_capital", "arguments": {"country": "Chile", "options": {"lang": "es"}}},
], [ok("call_x", "add", 3), ok("call_y", "country_capital", "Santiago de Chile")],
    "1 + 2 = 3, and the capital of Chile is Santiago de Chile.", "parallel_multiple")
FAILED = single("Convert 5 parsecs to km.", [CONVERT],
                [{"id": "call_f", "name": "convert_length", "arguments": {"value": 5, "to_unit": "km"}}],
                [failed("call_f", "convert_length", "ValueError: unknown unit 'parsec'")], "", "simple")
SIMULATED = {**SIMPLE, "simulated": True}

POLICY = "You are a store agent. Only act on the user's own orders."
CANCEL = tool("cancel_order", "Cancel an order.", {"order_id": {"type": "string"}, "reason": {"type": "string"}}, ["order_id"])
FIND = tool("find_orders", "The user's orders.", {"user_id": {"type": "string"}}, ["user_id"])
MULTI_TURN = {
    "messages": [
        {"role": "system", "content": POLICY},
        {"role": "user", "content": "Hi, I am user u7. Please cancel my latest order."},
        {"role": "assistant", "content": "Let me look up your orders.", "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "find_orders", "arguments": json.dumps({"user_id": "u7"})}}]},
        {"role": "tool", "tool_call_id": "t1", "content": json.dumps([{"order_id": "o2", "status": "pending"}])},
        {"role": "assistant", "content": "Your latest order is o2. Shall I cancel it?"},
        {"role": "user", "content": "Yes, because I ordered twice."},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "t2", "type": "function", "function": {"name": "cancel_order",
                                                          "arguments": json.dumps({"order_id": "o2", "reason": "duplicate"})}},
            {"id": "t3", "type": "function", "function": {"name": "find_orders", "arguments": json.dumps({"user_id": "u7"})}}]},
        {"role": "tool", "tool_call_id": "t2", "content": json.dumps({"order_id": "o2", "status": "cancelled"})},
        {"role": "tool", "tool_call_id": "t3", "content": json.dumps([{"order_id": "o2", "status": "cancelled"}])},
        {"role": "assistant", "content": "Order o2 is cancelled."},
    ],
    "tools": [FIND, CANCEL],
    "domain": "retail",
    "simulated": False,
}

# ToolAlpaca-style: a single-turn row (simulated results) that also carries its conversation, in two rounds
TWO_ROUNDS = {
    **single("Convert 3 miles to km, then add 1 to the result.", [CONVERT, ADD], [
        {"id": "s1", "name": "convert_length", "arguments": {"value": 3, "to_unit": "km"}},
        {"id": "s2", "name": "add", "arguments": {"a": 4.83, "b": 1}},
    ], [ok("s1", "convert_length", {"value": 4.83, "unit": "km"}), ok("s2", "add", 5.83)], "It is 5.83.", "parallel_multiple",
        simulated=True),
    "messages": [
        {"role": "system", "content": "You are a helpful assistant with access to the functions of the Units API."},
        {"role": "user", "content": "Convert 3 miles to km, then add 1 to the result."},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "s1", "type": "function", "function": {"name": "convert_length", "arguments": '{"value": 3, "to_unit": "km"}'}}]},
        {"role": "tool", "tool_call_id": "s1", "content": '{"value": 4.83, "unit": "km"}'},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "s2", "type": "function", "function": {"name": "add", "arguments": '{"a": 4.83, "b": 1}'}}]},
        {"role": "tool", "tool_call_id": "s2", "content": "5.83"},
        {"role": "assistant", "content": "It is 5.83."},
    ],
    "steps": 2,
}
