"""``ModelStep.call`` with tools on a scripted model: the request carries them, the calls come back
with stable ids, the lineage names the tools called."""

from __future__ import annotations

import asyncio

import pytest

from synthloom.llm.tools import ToolCall, stable_call_id
from synthloom.llm.types import InvalidRequest
from synthloom.pipeline.model_step import ModelStep, chat, lineage_entry
from synthloom.records import ID
from synthloom.testing.scripted import ScriptedModel, scripted_context, tool_calls

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                          "required": ["city"]}}}
CLOCK = {"type": "function", "function": {"name": "get_time"}}


class Caller(ModelStep):
    """Offers the two tools and stores the calls of the first choice."""

    default_sampling = {"temperature": 0.7}

    async def process(self, record):
        response, lineage = await self.call(record, chat(record["q"]), tools=[WEATHER, CLOCK],
                                            tool_choice=record.get("choice"), n=record.get("n"))
        return [{**record, "calls": [c.to_dict() for c in response.tool_calls], "lineage": lineage}]


def run(model, record):
    step = Caller("caller")
    step.setup(scripted_context(model, step=step.name))
    return asyncio.run(step.process(record))


def test_call_passes_tools_and_records_the_tools_called():
    model = ScriptedModel(lambda req: tool_calls(("get_weather", {"city": "Oslo"}), ("get_time", {})))
    (out,) = run(model, {ID: "r1", "q": "Weather and time in Oslo?", "choice": "required"})
    (req,) = model.requests
    assert req.tools == (WEATHER, CLOCK) and req.tool_choice == "required" and req.seed is not None
    assert [(c["name"], c["arguments"]) for c in out["calls"]] == [("get_weather", {"city": "Oslo"}),
                                                                   ("get_time", {})]
    assert [c["id"] for c in out["calls"]] == [stable_call_id(req.fingerprint(), 0, i) for i in range(2)]
    entry = out["lineage"]
    assert entry["tool_calls"] == ["get_weather", "get_time"] and entry["finish_reason"] == "tool_calls"
    assert entry["params"]["tools"] == ["get_weather", "get_time"] and entry["params"]["tool_choice"] == "required"


def test_each_choice_gets_its_own_ids_and_a_text_answer_records_no_calls():
    def reply(req, j):
        return tool_calls(("get_time", {})) if j == 0 else "It is noon."

    (out,) = run(ScriptedModel(reply), {ID: "r2", "q": "Time?", "n": 2})
    assert out["lineage"]["tool_calls"] == ["get_time"]
    (text,) = run(ScriptedModel(lambda req: "No tools needed."), {ID: "r3", "q": "Hi"})
    assert text["calls"] == [] and text["lineage"]["tool_calls"] == []


def test_the_same_scripted_choice_returned_twice_is_not_shared():
    choice = tool_calls(("get_time", {}))
    model = ScriptedModel(lambda req: choice)
    first = asyncio.run(model.complete(Caller("c").request({ID: "a"}, "x", tools=[CLOCK])))
    second = asyncio.run(model.complete(Caller("c").request({ID: "b"}, "x", tools=[CLOCK])))
    assert first.tool_calls[0].id != second.tool_calls[0].id and choice.tool_calls[0].id == ""


def test_broken_arguments_and_a_bad_tool_choice():
    broken = ToolCall.parse("", "get_weather", '{"city": ')
    (out,) = run(ScriptedModel(lambda req: tool_calls(broken)), {ID: "r4", "q": "?"})
    assert out["calls"][0]["error"].startswith("the arguments are not valid JSON")
    with pytest.raises(InvalidRequest, match="'get_date', which is not among the tools"):
        run(ScriptedModel(lambda req: "x"), {ID: "r5", "q": "?",
                                              "choice": {"type": "function", "function": {"name": "get_date"}}})


def test_steps_without_tools_keep_their_lineage_and_requests():
    step = Caller("plain")
    req = step.request({ID: "1"}, "hi")
    assert req.tools is None and "tools" not in req.to_dict()
    response = asyncio.run(ScriptedModel(lambda r: "hello").complete(req))
    entry = lineage_entry("plain", None, "default", req, response)
    assert "tool_calls" not in entry and "tools" not in entry["params"]
