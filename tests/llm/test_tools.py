"""Tool calls in the model layer: request fields, their checks, fingerprints, parsing and the cache."""

from __future__ import annotations

import asyncio

import pytest

from synthloom.llm.cache import CachedBackend, ResponseCache
from synthloom.llm.tools import (
    ToolCall,
    assistant_message,
    calls_from_json,
    calls_schema,
    stable_call_id,
    tool_message,
)
from synthloom.llm.types import Choice, InvalidRequest, Request, Response, Usage

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather of a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                    "unit": {"type": "string", "enum": ["c", "f"]}},
                   "required": ["city"]}}}
CLOCK = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
USER = [{"role": "user", "content": "Weather in Paris?"}]


def test_tools_and_tool_choice_enter_the_fingerprint():
    plain = Request.chat(USER)
    with_tools = Request.chat(USER, tools=[WEATHER])
    auto = Request.chat(USER, tools=[WEATHER], tool_choice="auto")
    forced = Request.chat(USER, tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "get_weather"}})
    two = Request.chat(USER, tools=[WEATHER, CLOCK])
    assert len({r.fingerprint() for r in (plain, with_tools, auto, forced, two)}) == 5
    assert Request.chat(USER, tools=[WEATHER]).fingerprint() == with_tools.fingerprint()
    assert "tools" not in plain.to_dict() and "tool_choice" not in plain.to_dict()
    assert with_tools.to_dict()["tools"] == [WEATHER]
    assert forced.sampling_params() == {"tools": ["get_weather"],
                                        "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}


def test_a_request_without_tools_keeps_its_old_fingerprint():
    # the cache key of every existing request must not move: this is the hash before tools existed
    assert Request.chat(USER, temperature=0).to_dict() == {"messages": USER, "temperature": 0}


@pytest.mark.parametrize("tools, problem", [
    ([], "tools must be a non-empty list"),
    ("get_weather", "tools must be a non-empty list"),
    ([{"name": "f"}], r"tools\[0\] must be \{'type': 'function'"),
    ([{"type": "function", "function": {"name": "bad name"}}], "function name must be 1-64 letters"),
    ([WEATHER, WEATHER], "two tools are named 'get_weather'"),
    ([{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}],
     r"tools\[0\] \(f\): parameters must be a JSON schema of type 'object'"),
    ([{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"x": {"type": "int"}}}}}], r"at \$\.x uses unknown type 'int'"),
    ([{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"x": {"type": "string"}}, "required": ["y"]}}}],
     "required names 'y', which is not in properties"),
    ([{"type": "function", "function": {"name": "f", "params": {}}}], r"unknown function field\(s\) \['params'\]"),
    ([{"type": "function", "function": {"name": "f", "description": 3}}], "description must be text"),
])
def test_bad_tool_schemas_are_refused_when_the_request_is_built(tools, problem):
    with pytest.raises(InvalidRequest, match=problem):
        Request.chat(USER, tools=tools)


@pytest.mark.parametrize("choice, problem", [
    ("sometimes", "tool_choice must be one of auto, none, required"),
    ({"type": "function", "function": {"name": "get_time"}},
     "tool_choice names the function 'get_time', which is not among the tools \\(get_weather\\)"),
    ({"type": "function"}, "tool_choice must be one of"),
])
def test_a_bad_tool_choice_is_refused(choice, problem):
    with pytest.raises(InvalidRequest, match=problem):
        Request.chat(USER, tools=[WEATHER], tool_choice=choice)


def test_tool_choice_without_tools_and_tools_on_a_raw_prompt_are_refused():
    with pytest.raises(InvalidRequest, match="tool_choice 'required' needs tools"):
        Request.chat(USER, tool_choice="required")
    with pytest.raises(InvalidRequest, match="tools need a chat request"):
        Request.completion("hi", tools=[WEATHER])


def test_a_tool_conversation_is_a_valid_request():
    call = ToolCall.parse("call_1", "get_weather", '{"city": "Paris"}')
    messages = [*USER, assistant_message([call]), tool_message("call_1", '{"temp": 21}')]
    req = Request.chat(messages, tools=[WEATHER])
    assert req.messages[1] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}


@pytest.mark.parametrize("message, problem", [
    ({"role": "tool", "content": "21"}, r"message 1 \(tool\) needs a tool_call_id"),
    ({"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]}, r"tool_calls\[0\] must be"),
    ({"role": "assistant", "content": None, "tool_calls": [
        {"id": "1", "type": "function", "function": {"name": "f", "arguments": {"x": 1}}}]},
     r"'arguments': JSON text"),
    ({"role": "user", "content": "x", "tool_calls": [
        {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
     "only assistant messages make calls"),
])
def test_malformed_tool_messages_are_refused(message, problem):
    with pytest.raises(InvalidRequest, match=problem):
        Request.chat([*USER, message])


def test_tool_call_arguments_parse_or_are_kept_raw_and_marked():
    good = ToolCall.parse("c", "f", '{"a": [1, 2]}')
    assert good.ok and good.arguments == {"a": [1, 2]} and good.raw_arguments == '{"a": [1, 2]}'
    decoded = ToolCall.parse("c", "f", {"a": 1})
    assert decoded.ok and decoded.raw_arguments == '{"a":1}'
    assert ToolCall.parse("c", "f", "").arguments == {}
    broken = ToolCall.parse("c", "f", '{"a": ')
    assert not broken.ok and broken.arguments == {} and broken.raw_arguments == '{"a": '
    assert "not valid JSON" in broken.error
    listed = ToolCall.parse("c", "f", "[1]")
    assert not listed.ok and "not an object" in listed.error


def test_calls_schema_and_parsing_of_a_forced_call():
    forced = calls_schema([WEATHER, CLOCK], {"type": "function", "function": {"name": "get_time"}})
    assert forced["properties"]["name"] == {"const": "get_time"}
    assert forced["properties"]["arguments"] == CLOCK["function"]["parameters"]
    required = calls_schema([WEATHER, CLOCK], "required")
    one, many = required["anyOf"]
    assert [o["properties"]["name"]["const"] for o in one["anyOf"]] == ["get_weather", "get_time"]
    assert many == {"type": "array", "items": one, "minItems": 1}
    calls = calls_from_json('[{"name": "get_time", "arguments": {}}, {"name": "get_weather", '
                            '"arguments": {"city": "Oslo"}}]', "fp", 0)
    assert [(c.name, c.arguments) for c in calls] == [("get_time", {}), ("get_weather", {"city": "Oslo"})]
    assert [c.id for c in calls] == [stable_call_id("fp", 0, 0), stable_call_id("fp", 0, 1)]
    assert calls[0].id != stable_call_id("fp", 1, 0) and calls[0].id.startswith("call_")
    assert calls_from_json('{"name": "get_time", "argu', "fp", 0) is None


def test_parallel_tool_calls_round_trip_through_the_response_cache(tmp_path):
    calls = [ToolCall.parse("call_a", "get_weather", '{"city": "Paris"}'),
             ToolCall.parse("call_b", "get_weather", '{"city": "Rome"'),
             ToolCall.parse("call_c", "get_time", "{}")]
    answer = Response([Choice("", "tool_calls", None, None, calls), Choice("plain", "stop")], Usage(5, 7), "m")

    class Backend:
        identity = "tools:test"
        asked = 0

        async def complete(self, request: Request) -> Response:
            Backend.asked += 1
            return answer

        async def aclose(self) -> None:
            pass

    req = Request.chat(USER, tools=[WEATHER, CLOCK], tool_choice="required")

    async def twice() -> list[Response]:
        with ResponseCache(tmp_path / "c.sqlite") as cache:
            layer = CachedBackend(Backend(), cache)
            first = await layer.complete(req)
            cache.flush()
        with ResponseCache(tmp_path / "c.sqlite") as cache:
            return [first, await CachedBackend(Backend(), cache).complete(req)]

    first, again = asyncio.run(twice())
    assert Backend.asked == 1 and again.cached
    assert again.tool_calls == calls and again.choices[0].finish_reason == "tool_calls"
    assert again.choices[0].tool_calls[1].error == calls[1].error is not None
    assert again.choices[1].tool_calls == [] and "tool_calls" not in again.to_dict()["choices"][1]
