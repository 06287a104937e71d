"""OpenAIBackend tool calls against the fake OpenAI-compatible server: what is sent, what is parsed,
broken arguments and injected faults on tool-call replies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from synthloom.llm.backends.openai import OpenAIBackend
from synthloom.llm.retries import RetryingBackend
from synthloom.llm.spec import parse_model_spec
from synthloom.llm.structured import validate
from synthloom.llm.tools import ToolCall, assistant_message, stable_call_id, tool_message
from synthloom.llm.types import Request, Response, TransientError
from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather of a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                    "days": {"type": "integer", "minimum": 1}},
                   "required": ["city", "days"]}}}
CLOCK = {"type": "function", "function": {"name": "get_time", "description": "The time now."}}
TOOLS = [WEATHER, CLOCK]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(FakeServerConfig()) as srv:
        yield srv


def run(url: str, request: Request, retries: int | None = None) -> Response:
    async def go() -> Response:
        backend: Any = OpenAIBackend(parse_model_spec(f"openai:test-model@{url}"))
        if retries is not None:
            backend = RetryingBackend(backend, max_retries=retries, base=0.0)
        try:
            return await backend.complete(request)
        finally:
            await backend.aclose()

    return asyncio.run(go())


def ask(text: str, **params: Any) -> Request:
    return Request.chat([{"role": "user", "content": text}], tools=TOOLS, **params)


def test_tools_and_tool_choice_are_sent(server):
    choice = {"type": "function", "function": {"name": "get_weather"}}
    run(server.url, ask("Weather in Oslo for 2 days?", tool_choice=choice))
    body = json.loads(server.last_request()["body"])
    assert body["tools"] == TOOLS and body["tool_choice"] == choice


def test_a_forced_function_call_is_parsed_and_validates(server):
    response = run(server.url, ask("Weather in Oslo?", tool_choice={"type": "function",
                                                                     "function": {"name": "get_weather"}}))
    (call,) = response.tool_calls
    assert call.ok and call.name == "get_weather"
    assert call.arguments == {"city": "Weather in Oslo?", "days": 1}
    assert json.loads(call.raw_arguments) == call.arguments and call.id.startswith("call_")
    validate(call.arguments, WEATHER["function"]["parameters"])
    assert response.choices[0].finish_reason == "tool_calls" and response.text == ""


def test_required_calls_the_first_tool_and_none_or_auto_answer_in_text(server):
    assert [c.name for c in run(server.url, ask("Hi", tool_choice="required")).tool_calls] == ["get_weather"]
    for choice in ("none", "auto", None):
        response = run(server.url, ask("Hi", tool_choice=choice))
        assert response.tool_calls == [] and response.text == "Reply to: Hi"
        assert response.choices[0].finish_reason == "stop"


def test_parallel_calls_keep_their_order_and_ids(server):
    response = run(server.url, ask("[[call:get_weather]] [[call:get_time]] [[call:get_weather]]", n=2))
    for choice in response.choices:
        assert [c.name for c in choice.tool_calls] == ["get_weather", "get_time", "get_weather"]
        assert choice.tool_calls[1].arguments == {} and all(c.ok for c in choice.tool_calls)
        assert len({c.id for c in choice.tool_calls}) == 3
    assert response.choices[0].tool_calls[0].id != response.choices[1].tool_calls[0].id


def test_arguments_that_are_not_json_are_kept_raw_and_marked(server):
    response = run(server.url, ask("[[call:get_weather:broken]] [[call:get_time]]"))
    broken, fine = response.tool_calls
    assert not broken.ok and broken.arguments == {} and "not valid JSON" in broken.error
    assert broken.raw_arguments and not broken.raw_arguments.endswith("}")
    assert fine.ok and fine.name == "get_time"


def test_a_truncated_tool_call_reply_is_retryable_and_the_retry_parses(server):
    text = "[[fault:truncate:1]] [[call:get_weather]]"
    with pytest.raises(TransientError, match="response body was complete"):
        run(server.url, ask(text + " once"))
    server.reset_stats()
    response = run(server.url, ask(text + " twice"), retries=2)
    assert [c.name for c in response.tool_calls] == ["get_weather"] and response.tool_calls[0].ok
    assert server.stats()["faults"] == {"truncate": 1}


def test_a_malformed_tool_call_reply_is_retryable(server):
    with pytest.raises(TransientError, match="unparseable JSON"):
        run(server.url, ask("[[fault:malformed]] [[call:get_time]]"))


def test_a_tool_conversation_is_sent_and_answered(server):
    call = ToolCall.parse("call_1", "get_weather", '{"city": "Oslo", "days": 1}')
    messages = [{"role": "user", "content": "[[call:get_weather]] Oslo?"}, assistant_message([call]),
                tool_message("call_1", '{"temp_c": 4}')]
    response = run(server.url, Request.chat(messages, tools=TOOLS))
    assert response.tool_calls == [] and response.text.startswith("Reply to:")  # the result came back: text
    sent = json.loads(server.last_request()["body"])["messages"]
    assert sent[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Oslo", "days": 1}'}
    assert sent[2] == {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 4}'}


def test_a_reply_without_call_ids_gets_ids_derived_from_the_request():
    backend = OpenAIBackend(parse_model_spec("openai:m@http://127.0.0.1:9/v1"))
    request = ask("x", tool_choice="required")
    data = {"choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": None,
            "tool_calls": [{"type": "function", "function": {"name": "get_time", "arguments": {}}},
                           {"type": "function", "function": {"arguments": "{}"}}]}}]}
    response = backend._parse(data, True, request)
    first, nameless = response.tool_calls
    assert first.id == stable_call_id(request.fingerprint(), 0, 0) and first.ok and first.raw_arguments == "{}"
    assert nameless.error == "the call names no function"
    assert response.choices[0].finish_reason == "tool_calls"
    asyncio.run(backend.aclose())
