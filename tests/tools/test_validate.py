"""Format checks of tool calls against the tools' schemas."""

from __future__ import annotations

from typing import Literal

import pytest

from synthloom.llm.tools import ToolCall
from synthloom.tools import call_problem, tool_from_function, tool_from_schema
from synthloom.tools.validate import _validator


def add(a: float, b: float = 1.0) -> float:
    """Add two numbers."""
    return a + b


def convert(value: float, units: Literal["km", "mi"], tags: list[str] | None = None, counts: dict[str, int] | None = None,
            places: int = 2) -> float:
    """Convert a distance."""
    return value


TOOLS = {t.name: t for t in (tool_from_function(add, category="math"), tool_from_function(convert, category="units"))}


@pytest.mark.parametrize(("call", "expected"), [
    ({"name": "ad", "arguments": {"a": 1}}, "unknown tool 'ad' (did you mean 'add'?)"),
    ({"name": "zzz", "arguments": {}}, "unknown tool 'zzz' (the tools: add, convert)"),
    ({"arguments": {}}, "the call names no tool (name is null)"),
    ({"name": "add", "arguments": [1, 2]}, "call of 'add': the arguments must be a JSON object, not [1, 2]"),
    ({"name": "add", "arguments": "[1, 2]"}, "call of 'add': the arguments must be a JSON object, not [1, 2]"),
    ({"name": "add", "arguments": {"b": 2}}, "call of 'add': missing the required argument 'a'"),
    ({"name": "add", "arguments": {"a": 1, "c": 2}}, "call of 'add': unknown argument 'c' (its arguments: a, b)"),
    ({"name": "convert", "arguments": {"value": 1, "units": "km", "place": 1}},
     "call of 'convert': unknown argument 'place' (did you mean 'places'?)"),
    ({"name": "add", "arguments": {"a": "3"}}, "call of 'add': argument 'a' must be a number, not '3'"),
    ({"name": "add", "arguments": {"a": True}}, "call of 'add': argument 'a' must be a number, not true"),
    ({"name": "convert", "arguments": {"value": 1, "units": 3}}, "call of 'convert': argument 'units' must be a string, not 3"),
    ({"name": "convert", "arguments": {"value": 1, "units": "parsec"}},
     "call of 'convert': argument 'units' must be one of 'km', 'mi', not 'parsec'"),
    ({"name": "convert", "arguments": {"value": 1, "units": "km", "places": 1.5}},
     "call of 'convert': argument 'places' must be an integer, not 1.5"),
    ({"name": "convert", "arguments": {"value": 1, "units": "km", "tags": ["a", 2]}},
     "call of 'convert': argument 'tags[1]' must be a string, not 2"),
    ({"name": "convert", "arguments": {"value": 1, "units": "km", "counts": {"x": "many"}}},
     "call of 'convert': argument 'counts.x' must be an integer, not 'many'"),
])
def test_bad_calls_get_one_sentence(call: dict, expected: str) -> None:
    assert call_problem(call, TOOLS) == expected


@pytest.mark.parametrize("call", [
    {"name": "add", "arguments": {"a": 1}},
    {"name": "add", "arguments": {"a": 1.5, "b": -2}},
    {"name": "convert", "arguments": {"value": 3, "units": "mi", "tags": None, "places": 3.0}},
    {"name": "convert", "arguments": {"value": 3, "units": "mi", "tags": ["x"], "counts": {"y": 1}}},
    {"function": {"name": "add", "arguments": '{"a": 2}'}},
    {"name": "add", "arguments": '{"a": 2}'},
])
def test_good_calls_pass(call: dict) -> None:
    assert call_problem(call, TOOLS) is None


def test_tool_call_objects_and_their_parse_errors() -> None:
    assert call_problem(ToolCall.parse("c1", "add", '{"a": 1}'), TOOLS) is None
    bad = ToolCall.parse("c2", "add", "{not json")
    assert call_problem(bad, TOOLS).startswith("call of 'add': the arguments are not valid JSON")
    assert call_problem(ToolCall.parse("c3", "add", '{"a": "x"}'), list(TOOLS.values())) == \
        "call of 'add': argument 'a' must be a number, not 'x'"


def test_schema_constraints_beyond_types() -> None:
    schema = {"name": "pick", "parameters": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}},
                                             "required": ["n"], "additionalProperties": True}}
    tools = {"pick": tool_from_schema(schema, None, category="c")}
    assert call_problem({"name": "pick", "arguments": {"n": 0}}, tools) == \
        "call of 'pick': argument 'n': 0 is less than the minimum of 1"
    assert call_problem({"name": "pick", "arguments": {"n": 2, "extra": True}}, tools) is None


def test_validators_are_cached_per_schema() -> None:
    schema = TOOLS["convert"].parameters
    assert _validator(schema) is _validator(schema)
    assert _validator(schema) is not _validator(TOOLS["add"].parameters)
