"""The agent loop on a scripted model and the real sandbox: kept and rejected trajectories, the stops (finish, steps,
token budget, no action), bad calls as observations, pairs, deterministic requests, and kill -9 mid-trajectory."""

from __future__ import annotations

import asyncio
import json

import pytest

from synthloom.envs.agent_env import Verdict
from synthloom.llm.tools import ToolCall
from synthloom.llm.types import Choice
from synthloom.methods.agentic.agent_loop import AgentLoop
from synthloom.pipeline.step import Rejected
from synthloom.testing.scripted import ScriptedModel, run_step, scripted_context, tool_calls
from synthloom.tools.executor import CallResult

TASK = {"database": "university", "question": "How many students come from Kenya?",
        "reference_sql": "SELECT COUNT(*) FROM students WHERE country = 'Kenya'"}
RIGHT = "SELECT count(student_id) FROM students WHERE country = 'Kenya'"
WRONG = "SELECT count(*) FROM students"


def turns(req) -> int:
    """How many tool-call rounds the trajectory has had before this request."""
    return sum(1 for m in req.messages if m["role"] == "assistant")


def solver(answer=RIGHT):
    """An agent that looks at the tables, runs a query, then submits ``answer``."""
    def reply(req):
        n = turns(req)
        if n == 0:
            return tool_calls(("list_tables", {}), text="First, the tables.")
        if n == 1:
            return tool_calls(("run_query", {"sql": "SELECT country, COUNT(*) FROM students GROUP BY country"}))
        return tool_calls(("finish", {"answer": answer}))
    return reply


def record(task=TASK):
    return {"id": "row1", "task": task}


def run(step, reply, task=TASK):
    (out,) = run_step(step, reply, [record(task)])
    return out


def test_a_trajectory_whose_sql_gives_the_reference_result_is_kept():
    model = ScriptedModel(solver())
    (row,) = run(AgentLoop("agent", environment="text_to_sql"), model)
    assert row["verdict"]["passed"] and row["verdict"]["reason"] == "passed"
    assert row["ended"] == "finish" and row["attempt"] == 0 and row["environment"] == "text_to_sql"
    assert row["task"] == TASK and row["attempts"] == [{"attempt": 0, "passed": True, "reason": "passed", "ended": "finish",
                                                        "steps": 3, "tokens": 90}]
    roles = [m["role"] for m in row["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "tool", "assistant", "tool"]
    assert "database 'university'" in row["messages"][0]["content"] and row["messages"][1]["content"] == TASK["question"]
    assert row["messages"][2]["content"] == "First, the tables."
    assert row["messages"][2]["tool_calls"][0]["function"]["name"] == "list_tables"
    assert row["messages"][5]["content"].startswith("country | COUNT(*)\n")  # the observation of the real query
    assert [s["calls"][0]["name"] for s in row["steps"]] == ["list_tables", "run_query", "finish"]
    for s in row["steps"]:
        assert s["usage"] == {"prompt_tokens": 10, "completion_tokens": 20} and s["results"][0]["status"] == "ok"
        assert s["seconds"] >= s["action_seconds"] > 0
    assert {t["function"]["name"] for t in row["tools"]} == {"list_tables", "describe_table", "sample_rows", "run_query", "finish"}
    assert [r.tool_choice for r in model.requests] == ["auto"] * 3


def test_a_different_result_is_rejected_with_the_verdicts_reason():
    out = run(AgentLoop("agent", environment="text_to_sql"), solver(WRONG))
    assert isinstance(out, Rejected) and out.reason.startswith("1 of the reference's rows are missing (e.g. (")


def test_the_token_budget_stops_the_trajectory_and_caps_the_last_call():
    model = ScriptedModel(lambda req: tool_calls(("list_tables", {})))  # 30 tokens a call, never finishes
    step = AgentLoop("agent", environment="text_to_sql", max_tokens_total=70, max_steps=10)
    out = run(step, model)
    assert isinstance(out, Rejected) and out.reason == ("no SQL was submitted (the agent never called finish with a query that runs) "
                                                        "(stopped by max_tokens_total spent)")
    assert [r.max_tokens for r in model.requests] == [70, 40, 10]  # each call capped by what is left of the budget


def test_max_steps_and_a_reply_without_a_call_end_the_trajectory():
    model = ScriptedModel(lambda req: tool_calls(("list_tables", {})))
    out = run(AgentLoop("agent", environment="text_to_sql", max_steps=2), model)
    assert isinstance(out, Rejected) and out.reason.endswith("(stopped by max_steps reached)") and len(model.requests) == 2
    talker = ScriptedModel(lambda req: Choice(text="The answer is 7.", finish_reason="stop"))
    step = AgentLoop("agent", environment="text_to_sql")
    step.setup(scripted_context(talker, "agent"))
    traj = asyncio.run(step.run_attempt(record(), TASK, 0))
    asyncio.run(step.aclose())
    assert traj.ended == "no_action" and traj.messages[-1] == {"role": "assistant", "content": "The answer is 7."}
    assert not traj.verdict.passed and len(talker.requests) == 1


def test_a_passing_state_without_the_finish_call_is_not_kept():
    """The code-workspace kind of environment: the task can be done before the agent says so."""
    class DoneSession:
        tools: list = []
        instructions = ""

        async def act(self, calls):
            return [CallResult(c.id, c.name, "ok", "done") for c in calls]

        async def check(self):
            return Verdict(True, "passed")

        def observation(self, result):
            return "done"

    class DoneEnv:
        name = "done"

        async def open(self, task, executor):
            return DoneSession()

    step = AgentLoop("agent", environment="text_to_sql", max_steps=1)
    step.env = DoneEnv()
    out = run(step, lambda req: Choice(text="All good.", finish_reason="stop"))
    assert isinstance(out, Rejected) and out.reason == ("the environment's check passed but the agent never called finish "
                                                        "(stopped by a reply without a tool call)")


def test_bad_calls_become_observations_and_the_agent_can_recover():
    def clumsy(req):
        n = turns(req)
        if n == 0:  # an unknown argument, arguments that are not JSON, and a tool that does not exist
            return tool_calls(("run_query", {"query": "SELECT 1"}), ToolCall.parse("", "run_query", '{"sql": "SEL'),
                              ("drop_table", {"table": "students"}))
        return tool_calls(("finish", {"answer": RIGHT}))

    (row,) = run(AgentLoop("agent", environment="text_to_sql"), clumsy)
    first = row["steps"][0]
    assert [r["status"] for r in first["results"]] == ["error", "error", "error"]
    tool_texts = [m["content"] for m in row["messages"][3:6]]
    assert tool_texts[0] == "Error: call of 'run_query': unknown argument 'query' (its arguments: sql). Fix the call and try again."
    assert "not valid JSON" in tool_texts[1]
    assert tool_texts[2].startswith("Error: unknown tool 'drop_table'")
    assert [m["tool_call_id"] for m in row["messages"][3:6]] == [c["id"] for c in first["calls"]]
    assert row["verdict"]["passed"] and row["ended"] == "finish"


def attempt_of(step, rec, attempts, steps=10):
    """The attempt each request seed belongs to (seeds are ``seed_for(record, f"{attempt}:{step}")``)."""
    return {step.seed_for(rec, f"{a}:{s}"): a for a in range(attempts) for s in range(1, steps + 1)}


def test_pairs_put_a_passing_and_a_failing_attempt_of_one_task_together():
    step = AgentLoop("agent", environment="text_to_sql", attempts=3, emit="pairs")
    which = attempt_of(step, record(), 3)
    rows = run(step, lambda req: solver(RIGHT if which[req.seed] == 1 else WRONG)(req))
    (pair,) = rows  # one passing attempt: one pair
    assert pair["chosen_attempt"] == 1 and pair["rejected_attempt"] == 0 and pair["pair_rule"] == "passed vs failed (environment check)"
    assert pair["prompt"] == TASK["question"] and [m["role"] for m in pair["prompt_messages"]] == ["system", "user"]
    assert pair["chosen"][-2]["tool_calls"][0]["function"]["arguments"] == json.dumps({"answer": RIGHT}, separators=(",", ":"))
    assert pair["chosen_verdict"]["passed"] and not pair["rejected_verdict"]["passed"]
    assert [a["passed"] for a in pair["attempts"]] == [False, True, False]
    step = AgentLoop("agent", environment="text_to_sql", attempts=2, emit="pairs")
    out = run(step, solver())
    assert isinstance(out, Rejected) and out.reason == "all 2 attempts passed: no failing one to pair with"


def test_kept_rows_come_from_every_passing_attempt_and_record_the_others():
    step = AgentLoop("agent", environment="text_to_sql", attempts=3)
    which = attempt_of(step, record(), 3)
    rows = run(step, lambda req: solver(WRONG if which[req.seed] == 1 else RIGHT)(req))
    assert [r["attempt"] for r in rows] == [0, 2] and len({r["id"] for r in rows}) == 2
    assert [a["passed"] for a in rows[0]["attempts"]] == [True, False, True]
    out = run(AgentLoop("agent", environment="text_to_sql", attempts=2), solver(WRONG))
    assert isinstance(out, Rejected) and out.reason.startswith("attempt 1: 1 of the reference's rows") and "; attempt 2: " in out.reason


def test_every_request_is_a_pure_function_of_record_attempt_and_step():
    first, second = ScriptedModel(solver()), ScriptedModel(solver())
    run(AgentLoop("agent", environment="text_to_sql", attempts=2), first)
    run(AgentLoop("agent", environment="text_to_sql", attempts=2), second)
    assert sorted(r.fingerprint() for r in first.requests) == sorted(r.fingerprint() for r in second.requests)
    assert len({r.seed for r in first.requests}) == 6  # 2 attempts x 3 steps, each its own seed


def test_the_store_environment_runs_through_the_same_loop():
    task = {"intent": "Cancel order #W4456498 of mia_garcia_1991; it is no longer needed.", "outputs": ["cancelled"],
            "actions": [{"name": "cancel_pending_order", "arguments": {"order_id": "#W4456498", "reason": "no longer needed"}}]}

    def agent(req):
        if turns(req) == 0:
            return tool_calls(("cancel_pending_order", {"order_id": "#W4456498", "reason": "no longer needed"}))
        return tool_calls(("finish", {"answer": "Your order #W4456498 is cancelled."}))

    (row,) = run(AgentLoop("agent", environment="store", tool_choice="required"), agent, task)
    assert row["verdict"]["passed"] and row["messages"][1]["content"] == task["intent"]
    assert json.loads(row["messages"][3]["content"])["status"] == "cancelled"


@pytest.mark.parametrize("options, message", [
    ({"environment": "sql"}, "unknown agent environment 'sql'"),
    ({"environment": "text_to_sql", "emit": "pairs"}, "emit: pairs needs attempts >= 2"),
    ({"environment": "text_to_sql", "emit": "best"}, "emit must be 'kept'"),
    ({"environment": "text_to_sql", "max_steps": 0}, "max_steps must be >= 1"),
    ({"environment": "text_to_sql", "max_tokens_total": 0}, "max_tokens_total must be >= 1"),
    ({"environment": "text_to_sql", "tool_choice": "none"}, "tool_choice must be 'auto' or 'required'"),
    ({"environment": "text_to_sql", "environment_options": {"size": 3}}, "bad options"),
    ({"environment": "text_to_sql", "finish_tool": "say done"}, "finish_tool: tool name 'say done' must be"),
])
def test_options_are_checked(options, message):
    with pytest.raises(ValueError, match=message):
        AgentLoop("agent", **options)


def test_a_task_that_is_not_an_object_is_an_error():
    with pytest.raises(ValueError, match="column 'task' must hold the task as an object"):
        run_step(AgentLoop("agent", environment="text_to_sql"), solver(), [{"id": "r", "task": "How many?"}])
