"""Tool calls from the in-process llama.cpp backend: prompts that offer tools, and the embedded 135M
model's calls constrained by a grammar made from the tool schemas."""

from __future__ import annotations

import asyncio

import pytest

from synthloom.llm.backends.gguf_chat import GgufChatTemplate
from synthloom.llm.structured import validate
from synthloom.llm.tools import ToolCall, assistant_message, stable_call_id, tool_message
from synthloom.llm.types import PermanentError, Request

SMOL = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
        "{{ '<|im_start|>system\nYou are SmolLM<|im_end|>\n' }}{% endif %}"
        "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather forecast for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo", "Rome"]},
                                                    "days": {"type": "integer", "minimum": 1, "maximum": 7}},
                   "required": ["city", "days"], "additionalProperties": False}}}
CONVERT = {"type": "function", "function": {
    "name": "convert_currency", "description": "Convert an amount between currencies.",
    "parameters": {"type": "object", "properties": {"amount": {"type": "number"},
                                                    "to": {"type": "string", "enum": ["EUR", "USD"]}},
                   "required": ["amount", "to"], "additionalProperties": False}}}
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in (WEATHER, CONVERT)}
ASK = [{"role": "user", "content": "What will the weather be in Oslo for the next 3 days?"}]


def test_a_template_without_tools_gets_them_in_the_system_message_and_calls_as_json():
    template = GgufChatTemplate(SMOL, bos_token="", eos_token="<|im_end|>")
    assert not template.knows_tools
    call = ToolCall.parse("call_1", "get_weather", '{"city": "Oslo", "days": 3}')
    text = template.render([*ASK, assistant_message([call]), tool_message("call_1", "4C, rain")], [WEATHER])
    system = text.split("<|im_end|>")[0]
    assert system.startswith("<|im_start|>system\nYou can call these functions:") and '"name": "get_weather"' in system
    assert '<|im_start|>assistant\n{"name": "get_weather", "arguments": {"city": "Oslo", "days": 3}}<|im_end|>' in text
    assert "<|im_start|>tool\n4C, rain<|im_end|>" in text
    with_system = template.render([{"role": "system", "content": "Be brief."}, *ASK], [WEATHER])
    assert with_system.startswith("<|im_start|>system\nBe brief.\n\nYou can call these functions:")
    assert template.render(ASK) == template.render(ASK, None)  # no tools: the prompt is as before


def test_a_template_that_knows_tools_gets_them_as_transformers_passes_them():
    source = ("{% if tools %}TOOLS:{% for t in tools %}{{ t.function.name }};{% endfor %}{% endif %}"
              "{% for m in messages %}[{{ m.role }}] {{ m.content }}{% endfor %}")
    template = GgufChatTemplate(source, bos_token="", eos_token="")
    assert template.knows_tools
    assert template.render(ASK, [WEATHER, CONVERT]).startswith("TOOLS:get_weather;convert_currency;[user] What")


def _run(backend, request):
    return asyncio.run(asyncio.wait_for(backend.complete(request), timeout=120))


@pytest.mark.slow
def test_the_embedded_model_makes_a_forced_call_that_validates(backend):
    request = Request.chat(ASK, tools=[WEATHER, CONVERT], max_tokens=48, temperature=0.0,
                           tool_choice={"type": "function", "function": {"name": "get_weather"}})
    response = _run(backend, request)
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.text == ""
    (call,) = choice.tool_calls
    assert call.ok and call.name == "get_weather"
    validate(call.arguments, SCHEMAS["get_weather"])
    assert call.id == stable_call_id(request.fingerprint(), 0, 0)


@pytest.mark.slow
def test_required_calls_any_tool_in_each_sampled_choice_and_validate(backend):
    request = Request.chat([{"role": "user", "content": "Convert 20 dollars to euros."}], tools=[WEATHER, CONVERT],
                           tool_choice="required", max_tokens=64, temperature=0.8, seed=7, n=2)
    response = _run(backend, request)
    assert len(response.choices) == 2
    for i, choice in enumerate(response.choices):
        assert choice.finish_reason == "tool_calls", choice.text
        assert choice.tool_calls
        for j, call in enumerate(choice.tool_calls):
            assert call.ok and call.name in SCHEMAS
            validate(call.arguments, SCHEMAS[call.name])
            assert call.id == stable_call_id(request.fingerprint(), i, j)


@pytest.mark.slow
def test_auto_and_a_schema_with_a_forced_call_are_refused(backend):
    with pytest.raises(PermanentError, match="tool calls only when they are forced"):
        _run(backend, Request.chat(ASK, tools=[WEATHER], max_tokens=4))
    with pytest.raises(PermanentError, match="cannot force both a json_schema and a tool call"):
        _run(backend, Request.chat(ASK, tools=[WEATHER], tool_choice="required", json_schema={"type": "object"}))
