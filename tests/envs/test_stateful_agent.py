"""The store/airline environments as agent-loop environments: calls change a private copy of the database in the
sandbox, and the check compares the final state with the ground-truth actions' and looks for the outputs."""

from __future__ import annotations

import asyncio

import pytest

from synthloom.envs.agent_env import AgentSession, open_environment
from synthloom.envs.environment import load_environment
from synthloom.llm.tools import ToolCall

USER, ORDER, EMAIL = "mia_garcia_1991", "#W4456498", "mia.garcia50@example.com"
CANCEL = {"name": "cancel_pending_order", "arguments": {"order_id": ORDER, "reason": "no longer needed"}}
TASK = {"intent": f"You are {USER}; cancel order {ORDER}, you no longer need it.", "actions": [CANCEL], "outputs": ["cancelled"]}


def call(i, name, **arguments):
    return ToolCall.parse(f"c{i}", name, arguments)


def run(executor, calls, task=TASK):
    async def go():
        session = await open_environment("store").open(task, executor)
        results = await session.act(calls) if calls else []
        return session, results, await session.check()

    return asyncio.run(go())


def test_doing_the_task_and_saying_the_outcome_passes(executor):
    session, results, verdict = run(executor, [call(1, "get_user_details", user_id=USER),
                                               call(2, "cancel_pending_order", order_id=ORDER, reason="no longer needed"),
                                               call(3, "finish", answer="Your order is cancelled.")])
    assert isinstance(session, AgentSession) and "finish" in [t.name for t in session.tools]
    assert [r.status for r in results] == ["ok", "ok", "ok"] and results[0].value["email"] == EMAIL
    assert verdict.passed and verdict.reason == "passed"
    assert session.instructions == load_environment("store").policy


def test_a_different_final_state_fails_with_the_difference(executor):
    _, _, verdict = run(executor, [call(1, "cancel_pending_order", order_id=ORDER, reason="ordered by mistake"),
                                   call(2, "finish", answer="cancelled")])
    assert not verdict.passed
    assert "cancel_reason 'no longer needed' → 'ordered by mistake'" in verdict.reason


def test_nothing_done_fails_and_a_missing_output_fails(executor):
    _, _, verdict = run(executor, [])
    assert not verdict.passed and "status 'cancelled' → 'pending'" in verdict.reason
    _, _, verdict = run(executor, [call(1, "cancel_pending_order", order_id=ORDER, reason="no longer needed"),
                                   call(2, "finish", answer="Done.")])
    assert not verdict.passed and verdict.reason == "the answer does not say 'cancelled'"


def test_a_task_without_actions_is_refused():
    with pytest.raises(ValueError, match="a task needs 'actions'"):
        asyncio.run(open_environment("store").open({"intent": "x"}, None))
