"""ALMITA agent tests on a scripted model: the procedures' paths and their grounding in the store's data, a
conversation that follows its path kept and cut into test cases, and the ones that must not be kept (a call
out of the procedure's order, malformed or wrong arguments, an environment answer off the path's branch, a
silent agent); then the recipe end to end (scripted: the accounting; embedded: one path)."""

from __future__ import annotations

import json

import pytest

from synthloom.envs.environment import load_environment
from synthloom.methods.agentic.agent_tests import AgentTests
from synthloom.methods.agentic.agent_tests_paths import AgentTestPaths, load_procedures, procedure_paths
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step, tool_calls

SOURCE = AgentTestPaths("paths")
ROWS = {r["path_id"]: r for r in (SOURCE.draw(i) for i in range(SOURCE.count()))}
SEED = load_environment("store").seed


def intent_of(record) -> str:
    return " | ".join(s["user"] for s in record["path"] if s.get("user")) or record["title"]


def record_of(req) -> dict:
    """The path row a request's conversation is about (the scripted intent lists the customer's steps)."""
    opening = next(m["content"] for m in req.messages if m["role"] == "user")
    return next(r for r in ROWS.values() if intent_of(r) in opening)


def agent(record=None, *, call=None):
    """A scripted model playing every part faithfully; ``call(tool, arguments) -> (tool, arguments)`` may
    change what the agent calls."""
    def reply(req):
        system = req.messages[0]["content"] if req.messages and req.messages[0]["role"] == "system" else ""
        if req.json_schema:
            rec = record or next(r for r in ROWS.values() if all(
                s["user"] in req.messages[-1]["content"] for s in r["path"] if s.get("user")) and r["title"] in
                req.messages[-1]["content"])
            return json.dumps({"intent": intent_of(rec)})
        if system.startswith("You are a customer contacting"):
            action = system.split("In this reply, you ")[-1]
            return "Hi. " + system.split("Your intent: ")[1].split("\n")[0] if action.startswith("state what") else \
                "Hello, " + action
        action = system.split("Your next action: ")[-1]
        if action.startswith("call the tool "):
            tool = action.removeprefix("call the tool ").strip()
            rec = record or record_of(req)
            step = next(s for s in rec["path"] if s.get("call") == tool)
            name, args = (call or (lambda t, a: (t, a)))(tool, dict(step["arguments"]))
            return tool_calls((name, args))
        return "Agent: " + action
    return ScriptedModel(reply)


def run(path_id, model=None, *, record=None, **opts):
    rec = record or ROWS[path_id]
    return run_step(AgentTests("tests", **{"timeout": 30.0, **opts}), model or agent(rec), [dict(rec)])[0]


def rejected(path_id, model=None, **kw) -> str:
    out = run(path_id, model, **kw)
    assert isinstance(out, Rejected), out
    return out.reason


# -- paths ---------------------------------------------------------------------------------------------


def test_every_path_of_the_bundled_procedures_is_walked_and_grounded():
    assert sorted(ROWS) == [f"cancel_order/{i}" for i in range(5)] + [f"list_orders/{i}" for i in range(2)] + \
        [f"order_status/{i}" for i in range(3)]
    emails = {u["email"] for u in SEED["users"]}
    ok_cancel, not_pending, by_name = ROWS["cancel_order/0"], ROWS["cancel_order/1"], ROWS["cancel_order/2"]
    assert ok_cancel["facts"]["status"].startswith("pending") and not not_pending["facts"]["status"].startswith("pending")
    assert ok_cancel["facts"]["email"] in emails and by_name["facts"]["email"] not in emails
    assert [s.get("call") for s in ok_cancel["path"] if s.get("call")] == [
        "find_user_id_by_email", "get_order_details", "cancel_pending_order"]
    cancel = ok_cancel["path"][5]
    assert cancel["arguments"] == {"order_id": ok_cancel["facts"]["order_id"], "reason": ok_cancel["facts"]["reason"]}
    assert ok_cancel["path"][3]["expect"] == [["status", "pending"]] and not_pending["path"][3]["expect"] == [["status", "!pending"]]
    assert ROWS["order_status/2"]["facts"]["zip"] == "00000"
    assert SOURCE.draw(3) == AgentTestPaths("p").draw(3) != AgentTestPaths("p", seed=1).draw(3)
    assert AgentTestPaths("p", n=12).draw(11)["path_id"] == SOURCE.draw(1)["path_id"]


def test_procedure_files_and_options_are_checked(tmp_path):
    procs = load_procedures()
    assert len(procedure_paths(procs[0])) == 5
    bad = json.loads(json.dumps({"procedures": procs[:1]}))
    bad["procedures"][0]["nodes"]["cancel"]["call"] = "refund_everything"
    (tmp_path / "p.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="'refund_everything' is not a tool of 'store'"):
        AgentTestPaths("p", procedures=str(tmp_path / "p.json"))
    bad["procedures"][0]["nodes"]["cancel"] = {"call": "cancel_pending_order", "ok": "nowhere"}
    (tmp_path / "p.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="leads to 'nowhere', not a node"):
        AgentTestPaths("p", procedures=str(tmp_path / "p.json"))
    with pytest.raises(ValueError, match="no procedure 'refunds'; the file has cancel_order"):
        AgentTestPaths("p", names=["refunds"])
    assert {r["procedure"] for r in AgentTestPaths("p", names=["list_orders"]).read()} == {"list_orders"}
    with pytest.raises(ValueError, match="emit must be 'tests'"):
        AgentTests("t", emit="pairs")


# -- conversations -------------------------------------------------------------------------------------


def test_a_conversation_that_follows_its_path_is_kept_as_test_cases():
    model = agent(ROWS["cancel_order/0"])
    rows = run("cancel_order/0", model)
    facts = ROWS["cancel_order/0"]["facts"]
    assert [r["turn"] for r in rows] == list(range(1, 8))
    expected = [r["expected"] for r in rows]
    assert [e["type"] for e in expected] == ["message", "tool_call", "message", "tool_call", "message", "tool_call", "message"]
    assert expected[1] == {"type": "tool_call", "name": "find_user_id_by_email", "arguments": {"email": facts["email"]}}
    last = rows[-1]["context"]
    assert last[0]["role"] == "system" and "Your next action" not in last[0]["content"]
    results = [m["content"] for m in last if m["role"] == "tool"]
    assert json.loads(results[0]) == facts["user_id"]
    assert json.loads(results[2])["status"] == "cancelled"  # executed against the store, for real
    assert rows[0]["context"] == last[:2] and rows[0]["intent"] == intent_of(ROWS["cancel_order/0"])
    assert {t["function"]["name"] for t in rows[0]["tools"]} >= {"cancel_pending_order", "find_user_id_by_email"}
    calls = [r for r in model.requests if r.tools]
    assert len(calls) == 3 and all(r.tool_choice == "required" for r in calls)


def test_error_branches_are_taken_when_the_environment_answers_so():
    rows = run("cancel_order/4")
    assert isinstance(rows, list), rows.reason
    results = [m["content"] for m in rows[-1]["context"] if m["role"] == "tool"]
    assert len(results) == 2 and all(r.startswith("Error: ") for r in results)
    (row,) = run("order_status/2", emit="conversations")
    assert len(row["test_cases"]) == 5 and row["messages"][-1]["role"] == "assistant"


def test_a_call_out_of_procedure_order_is_rejected():
    skip = agent(ROWS["cancel_order/0"], call=lambda t, a: ("cancel_pending_order", {**a, "order_id": ROWS[
        "cancel_order/0"]["facts"]["order_id"], "reason": "no longer needed"}) if t == "get_order_details" else (t, a))
    reason = rejected("cancel_order/0", skip)
    assert reason == ("step 4: out of procedure order: the path calls get_order_details here, the agent called "
                      "cancel_pending_order")


def test_malformed_or_wrong_arguments_are_rejected():
    missing = agent(ROWS["cancel_order/0"], call=lambda t, a: (t, {}) if t == "cancel_pending_order" else (t, a))
    assert rejected("cancel_order/0", missing).startswith("step 6: malformed arguments: call of 'cancel_pending_order': "
                                                          "missing the required argument")
    other = agent(ROWS["list_orders/0"], call=lambda t, a: (t, {"email": "mia.garcia50@example.com"})
                  if t == "find_user_id_by_email" else (t, a))
    assert rejected("list_orders/0", other).startswith("step 2: find_user_id_by_email called with the wrong arguments: email "
                                                       "'mia.garcia50@example.com'")


def test_an_environment_answer_off_the_path_is_rejected():
    record = json.loads(json.dumps(ROWS["cancel_order/0"]))
    record["path"][3]["expect"] = [["status", "!pending"]]  # the path now expects the order not to be pending
    out = run("", agent(record), record=record)
    assert isinstance(out, Rejected) and "get_order_details answered status 'pending" in out.reason
    record = json.loads(json.dumps(ROWS["list_orders/0"]))
    record["path"][1]["outcome"] = "error"
    out = run("", agent(record), record=record)
    assert out.reason == "step 2: find_user_id_by_email succeeded in the environment; the path expects error"


def test_a_silent_agent_or_a_call_instead_of_a_message_is_rejected():
    def silent(req):
        system = req.messages[0]["content"] if req.messages[0]["role"] == "system" else ""
        if req.json_schema:
            return json.dumps({"intent": "I want my order cancelled."})
        return "" if system.startswith("You are a customer service agent") else "Hi."
    assert rejected("list_orders/1", ScriptedModel(silent)).startswith("step 1: the agent said nothing")

    def eager(req):
        if req.json_schema:
            return json.dumps({"intent": "Cancel it."})
        if req.messages[0]["content"].startswith("You are a customer contacting"):
            return "Hi."
        return tool_calls(("list_products", {}))
    assert rejected("list_orders/1", ScriptedModel(eager)).startswith("step 1: out of procedure order: the path has the agent say")


# -- the recipe ----------------------------------------------------------------------------------------


#: the recipe's paths in the scripted run (two of the three procedures keep the run short)
RECIPE_PATHS = [AgentTestPaths("p", names=["order_status", "list_orders"]).draw(i) for i in range(5)]


def recipe_agent(req):
    """Faithful on every path but where the agent should list orders: it asks for the profile instead."""
    text = json.dumps(req.messages)
    rec = next(r for r in RECIPE_PATHS if all(s["user"] in text for s in r["path"] if s.get("user")))
    return agent(rec, call=lambda t, a: ("get_user_details", a) if t == "list_user_orders" else (t, a)).reply(req)


def test_the_recipe_on_a_scripted_model(scripted_model, tmp_path):
    out = tmp_path / "run"
    run_ = run_recipe("agent-tests", out, "steps.paths.names=[order_status, list_orders]",
                      extra_cli_args=("--model", scripted_model(recipe_agent)))
    data, rejected_rows, errors = completed_outputs(run_, out)
    c = run_["counts"]["tests"]
    assert not errors and c["in"] == 5 and c["rejected"] == len(rejected_rows) == 1
    assert rejected_rows[0]["path_id"] == "list_orders/0" and "out of procedure order" in rejected_rows[0]["_reason"]
    assert len(data) == sum(len(r["path"]) for r in RECIPE_PATHS if r["path_id"] != "list_orders/0")
    assert {row["path_id"] for row in data} == {"order_status/0", "order_status/1", "order_status/2", "list_orders/1"}
    assert all(row["expected"]["type"] in ("message", "tool_call") and row["context"] for row in data)


@needs_embedded
@pytest.mark.slow
def test_the_recipe_on_the_embedded_model(tmp_path):
    """One path with short messages: the 135M model rarely follows the procedure, so the test checks the
    machinery: the path ends in test-case rows or in a rejected row naming the step that failed."""
    out = tmp_path / "run"
    run_ = run_recipe("agent-tests", out, "n=1", "steps.tests.max_tokens=48", "steps.tests.user_max_tokens=24",
                      "steps.tests.intent_max_tokens=48")
    data, rejected_rows, errors = completed_outputs(run_, out)
    assert not errors and (len(rejected_rows) == 1) != bool(data)
    assert all(row["expected"]["type"] in ("message", "tool_call") for row in data)
    for row in rejected_rows:
        assert row["_rejected_by"] == "tests" and row["_reason"].split(":")[0].split(" ")[0] in ("step", "intent")
