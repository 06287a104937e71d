"""ToolAlpaca-style simulated tools: toolsets from OpenAPI documents and generated from API entries, the user agent's
instructions, the assistant / tool-executor simulation on a scripted model (calls validated against the schemas,
every row and result marked simulated), and the recipe end to end (scripted: exact counts; embedded: the counts add
up, kept calls validate and every row says simulated)."""

from __future__ import annotations

import json

import pytest
import yaml

from synthloom.llm.tools import ToolCall, tools_problem
from synthloom.methods.agentic.apigen_checks import offered_tools
from synthloom.methods.agentic.toolalpaca import (
    ToolalpacaInstructions,
    ToolalpacaToolset,
    ToolalpacaToolsets,
    openapi_toolset,
)
from synthloom.methods.agentic.toolalpaca_simulate import EXECUTOR_SCHEMA, ToolalpacaSimulate
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step, tool_calls, user_text
from synthloom.tools.validate import call_problem

WEATHER = {"temperature": 21, "description": "sunny"}


def weather_toolset() -> dict:
    (row,) = [t for t in ToolalpacaToolsets("t").read() if t["toolset"] == "Weather Forecast"]
    return {**row, "id": "weather"}


def instruction(query: str = "What's the weather in Lyon right now?") -> dict:
    return {**weather_toolset(), "id": "q1", "query": query}


def simulation_reply(rounds: list, *, final: str = "It is sunny in Lyon, 21 degrees.", executor=None):
    """Scripted agents: the assistant makes ``rounds[i]`` (a list of (name, arguments) calls) in round i and then
    answers ``final``; the tool executor answers ``executor(call)`` (default: an ok weather response)."""
    def reply(req):
        if req.json_schema == EXECUTOR_SCHEMA:
            call = json.loads(user_text(req).split("Call: ", 1)[1].split("\n", 1)[0])
            return json.dumps(executor(call) if executor else {"ok": True, "response": WEATHER})
        done = sum(1 for m in req.messages if m["role"] == "assistant")
        if req.tool_choice != "none" and done < len(rounds):
            return tool_calls(*rounds[done])
        return final
    return reply


# -- toolsets ------------------------------------------------------------------------------------------------


def test_bundled_openapi_toolsets_declare_valid_tools_without_implementations():
    source = ToolalpacaToolsets("t")
    rows = list(source.read())
    assert source.count() == len(rows) == 2 and {r["toolset"] for r in rows} == {"Weather Forecast", "Open Books Library"}
    for r in rows:
        assert tools_problem(r["tools"]) is None and r["toolset_description"]
        assert set(r["tool_returns"]) == {t["function"]["name"] for t in r["tools"]}
    library = next(r for r in rows if r["toolset"] == "Open Books Library")
    reserve = next(t["function"] for t in library["tools"] if t["function"]["name"] == "reserve_book")
    assert reserve["parameters"]["required"] == ["isbn", "card_number"]  # from the JSON request body
    assert list(source.read(1)) == rows[:1]


def test_a_users_openapi_document_and_its_errors(tmp_path):
    doc = {"openapi": "3.0.0", "info": {"title": "Jokes", "description": "Random jokes."},
           "paths": {"/joke": {"get": {"operationId": "random_joke", "summary": "A random joke.",
                                       "parameters": [{"name": "topic", "in": "query", "schema": {"type": "string"}}]}}}}
    path = tmp_path / "jokes.yaml"
    path.write_text(yaml.safe_dump(doc))
    (row,) = ToolalpacaToolsets("t", openapi=[str(path)]).read()
    assert row["toolset"] == "Jokes" and [t["function"]["name"] for t in row["tools"]] == ["random_joke"]
    with pytest.raises(ValueError, match="cannot be read"):
        openapi_toolset(tmp_path / "missing.json")
    (tmp_path / "swagger.json").write_text(json.dumps({"swagger": "2.0", "paths": {}}))
    with pytest.raises(ValueError, match=r"swagger.json: not an OpenAPI 3 document"):
        openapi_toolset(tmp_path / "swagger.json")
    with pytest.raises(ValueError, match="lists no document"):
        ToolalpacaToolsets("t", openapi=[])


def test_a_toolset_generated_from_an_api_entry_keeps_only_valid_functions():
    good = {"name": "get_fact", "description": "A random cat fact.", "returns": "an object with the fact text",
            "parameters": [{"name": "max_length", "type": "integer", "description": "longest fact", "required": False}]}
    bad = {"name": "get breed!", "description": "Breeds.", "parameters": [], "returns": "a list"}
    reply = json.dumps({"introduction": "Cat facts for everyone.", "functions": [good, bad, good]})
    model = ScriptedModel(lambda req: reply)
    entry = {"id": "e", "name": "Cat Facts", "description": "Daily cat facts", "category": "Animals"}
    ((row,),) = run_step(ToolalpacaToolset("g"), model, [entry])
    assert [t["function"]["name"] for t in row["tools"]] == ["get_fact"] and tools_problem(row["tools"]) is None
    assert row["toolset"] == "Cat Facts" and row["toolset_description"] == "Cat facts for everyone."
    assert row["tool_returns"] == {"get_fact": "an object with the fact text"}
    assert "not a Python function name" in row["dropped_functions"][0] and "two functions" in row["dropped_functions"][1]
    assert "Daily cat facts" in user_text(model.requests[0]) and model.requests[0].json_schema["required"] == ["introduction", "functions"]
    out = run_step(ToolalpacaToolset("g"), lambda req: json.dumps({"introduction": "x", "functions": [bad]}), [entry])
    assert isinstance(out[0], Rejected) and "no usable function" in out[0].reason


def test_the_user_agent_writes_distinct_instructions():
    reply = json.dumps({"instructions": ["Weather in Lyon?", "  weather in   lyon? ", "I'm sorry, I can't.", "Forecast for Oslo, 3 days."]})
    model = ScriptedModel(lambda req: reply)
    (rows,) = run_step(ToolalpacaInstructions("i", n_instructions=4), model, [weather_toolset()])
    assert [r["query"] for r in rows] == ["Weather in Lyon?", "Forecast for Oslo, 3 days."]
    assert [r["instruction_index"] for r in rows] == [0, 1] and len({r["id"] for r in rows}) == 2
    assert "get_daily_forecast" in user_text(model.requests[0])
    assert model.requests[0].json_schema["properties"]["instructions"]["maxItems"] == 4
    out = run_step(ToolalpacaInstructions("i"), lambda req: json.dumps({"instructions": [" "]}), [weather_toolset()])
    assert isinstance(out[0], Rejected)


# -- the simulation ----------------------------------------------------------------------------------------------


def test_a_simulated_row_is_marked_simulated_and_keeps_the_conversation():
    model = ScriptedModel(simulation_reply([[("get_current_weather", {"city": "Lyon"})]]))
    ((row,),) = run_step(ToolalpacaSimulate("s", max_steps=1), model, [instruction()])
    assert row["simulated"] is True and row["steps"] == 1 and row["form"] == "multiple"  # 3 tools offered, one call
    (call,) = row["calls"]
    assert call["name"] == "get_current_weather" and call["arguments"] == {"city": "Lyon"}
    assert row["results"] == [{"call_id": call["id"], "name": "get_current_weather", "status": "simulated",
                               "value": WEATHER, "error": None}]
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant", "tool", "assistant"]
    assert row["messages"][3] == {"role": "tool", "tool_call_id": call["id"], "content": json.dumps(WEATHER)}
    assert row["answer"] == row["messages"][-1]["content"]
    first, executor, final = model.requests
    assert first.tool_choice == "required" and list(first.tools) == instruction()["tools"]
    assert executor.json_schema == EXECUTOR_SCHEMA and executor.temperature == 0.0 and "Lyon" in user_text(executor)
    assert "temperature, feels-like" in user_text(executor)  # what the document says the response contains
    assert final.tool_choice == "none"  # out of rounds: asked for its answer
    assert [e.get("agent") for e in row["_lineage"]] == ["assistant", "tool_executor", "assistant"]


def test_several_rounds_and_parallel_calls():
    rounds = [[("get_current_weather", {"city": "Lyon"}), ("get_current_weather", {"city": "Oslo"})],
              [("get_air_quality", {"city": "Oslo"})]]
    model = ScriptedModel(simulation_reply(rounds))
    ((row,),) = run_step(ToolalpacaSimulate("s", max_steps=3), model, [instruction("Compare Lyon and Oslo.")])
    assert row["steps"] == 2 and [c["name"] for c in row["calls"]] == ["get_current_weather"] * 2 + ["get_air_quality"]
    assert row["form"] == "parallel_multiple" and all(r["status"] == "simulated" for r in row["results"])
    assert [r.tool_choice for r in model.requests if r.tools] == ["required", "auto", "auto"]  # the last one answered
    assert len({c["id"] for c in row["calls"]}) == 3


def test_a_simulated_error_is_recorded_not_hidden():
    reply = simulation_reply([[("get_current_weather", {"city": "Atlantis"})]],
                             executor=lambda call: {"ok": False, "response": None, "error": "city not found"})
    ((row,),) = run_step(ToolalpacaSimulate("s", max_steps=1), reply, [instruction("Weather in Atlantis?")])
    assert row["results"][0] == {"call_id": row["calls"][0]["id"], "name": "get_current_weather", "status": "simulated",
                                 "value": None, "error": "city not found"}
    assert json.loads(row["messages"][3]["content"]) == {"error": "city not found"}


@pytest.mark.parametrize(("rounds", "final", "reason"), [
    ([[("get_current_weather", {"city": 42})]], "ok", "round 1, call 1: call of 'get_current_weather'"),
    ([[("get_current_weather", {"city": "Lyon", "units": "kelvin"})]], "ok", "'kelvin'"),
    ([[("get_wether", {"city": "Lyon"})]], "ok", "unknown tool 'get_wether'"),
    ([[ToolCall.parse("", "get_current_weather", "{not json")]], "ok", "not valid JSON"),
    ([], "Lyon is nice.", "the assistant answered without calling a tool"),
    ([[("get_current_weather", {"city": "Lyon"})]], "", "no final answer"),
    ([[("get_current_weather", {"city": "Lyon"})]], "I'm sorry, I cannot help.", "the assistant refused"),
])
def test_the_simulation_rejects_with_the_reason(rounds, final, reason):
    out = run_step(ToolalpacaSimulate("s", max_steps=1), simulation_reply(rounds, final=final), [instruction()])
    assert isinstance(out[0], Rejected) and reason in out[0].reason, out[0]


def test_simulation_options():
    step = ToolalpacaSimulate("s", simulator_model="judge")
    assert step.models == ["default", "judge"]
    for bad, match in ((dict(max_steps=0), "max_steps"), (dict(first_tool_choice="none"), "first_tool_choice"),
                       (dict(simulator_max_tokens=4), "simulator_max_tokens")):
        with pytest.raises(ValueError, match=match):
            ToolalpacaSimulate("s", **bad)
    with pytest.raises(ValueError, match="column 'query'"):
        run_step(ToolalpacaSimulate("s"), lambda req: "", [{**weather_toolset(), "query": ""}])


# -- the recipe end to end ----------------------------------------------------------------------------------------


def recipe_reply(req):
    """Scripted user, assistant and executor agents for the bundled toolsets: each instruction names a tool; the
    assistant calls it with the first required argument filled; the executor answers ok."""
    if req.json_schema == EXECUTOR_SCHEMA:
        return json.dumps({"ok": True, "response": {"result": "simulated data"}})
    if req.json_schema:  # the user agent
        names = [line.split(":")[0].strip("- ") for line in user_text(req).splitlines() if line.startswith("- ")]
        return json.dumps({"instructions": [f"Please use {n} for me." for n in names[:2]]})
    if req.tool_choice == "required":
        wanted = user_text(req).split("use ")[1].split(" for")[0]
        fn = next(t["function"] for t in req.tools if t["function"]["name"] == wanted)
        args = {k: "Lyon" if fn["parameters"]["properties"][k]["type"] == "string" else 2 for k in fn["parameters"]["required"]}
        return tool_calls((wanted, args))
    return "Here is what I found."


@pytest.mark.slow
def test_toolalpaca_recipe_on_a_scripted_model(tmp_path, scripted_model):
    spec = scripted_model(recipe_reply)
    out = tmp_path / "toolalpaca"
    run = run_recipe("toolalpaca", out, "concurrency=2", extra_cli_args=("-n", "2", "--model", spec))
    data, rejected, errors = completed_outputs(run, out)
    c = run["counts"]
    assert not errors and not rejected and c["toolsets"]["out"] == 2 and c["instructions"]["out"] == 4 == len(data)
    for row in data:
        assert row["simulated"] is True and row["results"] and all(r["status"] == "simulated" for r in row["results"])
        assert all(call_problem(call, offered_tools(row["tools"], "test")) is None for call in row["calls"])
        assert row["messages"][0]["role"] == "system" and row["messages"][-1] == {"role": "assistant", "content": row["answer"]}


@pytest.mark.slow
@needs_embedded
def test_toolalpaca_recipe_on_the_embedded_model(tmp_path):
    out = tmp_path / "toolalpaca-embedded"
    run = run_recipe("toolalpaca", out, "concurrency=2", "instructions=1", "steps.instructions.max_tokens=96",
                     "steps.simulate.max_tokens=96", "steps.simulate.simulator_max_tokens=96", extra_cli_args=("-n", "1"))
    data, rejected, errors = completed_outputs(run, out)
    zero = {"in": 0, "ok": 0, "out": 0, "rejected": 0, "errors": 0}
    c = {name: run["counts"].get(name, zero) for name in ("toolsets", "instructions", "simulate")}
    assert c["toolsets"]["out"] == 1 == c["instructions"]["in"] and c["simulate"]["in"] == c["instructions"]["out"]
    assert all(r["_reason"] for r in rejected) and len(data) == c["simulate"]["ok"]
    for row in data:  # grammar-constrained calls: every kept call validates against the schemas
        assert row["simulated"] is True and all(r["status"] == "simulated" for r in row["results"])
        assert all(call_problem(call, offered_tools(row["tools"], "test")) is None for call in row["calls"])
