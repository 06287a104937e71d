"""The agent-environment contract: verdicts, the finish tool, observations, task text and the registry."""

from __future__ import annotations

import asyncio

import pytest

from synthloom.envs import agent_env
from synthloom.envs.agent_env import (
    AgentEnvironment,
    AgentSession,
    Verdict,
    agent_environments,
    clip,
    finish_tool,
    open_environment,
    register_environment,
    result_text,
    task_text,
)
from synthloom.tools.executor import CallResult
from synthloom.tools.validate import call_problem


class EchoSession:
    tools: list = []

    def __init__(self, task):
        self.task = task

    async def act(self, calls):
        return [CallResult(c.id, c.name, "ok", c.arguments) for c in calls]

    async def check(self):
        return Verdict(True, "passed")

    def observation(self, result):
        return result_text(result)


class EchoEnvironment:
    name = "echo"

    def __init__(self, *, loud: bool = False):
        self.loud = loud

    async def open(self, task, executor):
        return EchoSession(task)


@pytest.fixture
def registry(monkeypatch):
    """A registry the test may change (restored afterwards)."""
    monkeypatch.setattr(agent_env, "_registered", dict(agent_env._registered))
    monkeypatch.setattr(agent_env, "BUILTIN_ENVIRONMENTS", dict(agent_env.BUILTIN_ENVIRONMENTS))


def test_verdict_round_trips_as_a_dict():
    v = Verdict(False, "tests still failing: test_parse_empty", {"failing": ["test_parse_empty"]})
    assert Verdict.from_dict(v.to_dict()) == v
    assert Verdict(True, "passed").to_dict() == {"passed": True, "reason": "passed", "details": {}}


def test_the_finish_tool_takes_one_answer_string():
    tool = finish_tool("submit")
    assert tool.name == "submit" and not tool.executable
    assert call_problem({"name": "submit", "arguments": {"answer": "SELECT 1"}}, [tool]) is None
    assert "missing the required argument 'answer'" in call_problem({"name": "submit", "arguments": {}}, [tool])
    assert "must be a string" in call_problem({"name": "submit", "arguments": {"answer": 3}}, [tool])


def test_observations_are_bounded_and_say_how_a_call_failed():
    assert result_text(CallResult("1", "f", "ok", {"a": [1, 2]})) == '{"a": [1, 2]}'
    assert result_text(CallResult("1", "f", "ok", "plain")) == "plain"
    assert result_text(CallResult("1", "f", "timeout", None, "ran past 5 s")) == "timeout: ran past 5 s"
    long = result_text(CallResult("1", "f", "ok", "x" * 10_000), limit=500)
    assert len(long) == 500 and long.endswith("more characters cut]")
    assert clip("short", 500) == "short"


def test_task_text_takes_the_first_known_field_else_the_json():
    assert task_text({"question": "How many?", "database": "x"}) == "How many?"
    assert task_text({"statement": "Fix it", "prompt": "Do it"}) == "Do it"
    assert task_text({"database": "x"}) == '{"database": "x"}'


def test_bundled_environments_are_listed_and_open_by_name():
    assert {"text_to_sql", "store", "airline"} <= set(agent_environments())
    env = open_environment("text_to_sql")
    assert isinstance(env, AgentEnvironment) and env.name == "text_to_sql"
    assert open_environment("store").name == "store"


def test_an_unknown_name_or_option_is_one_clear_error():
    with pytest.raises(ValueError, match=r"unknown agent environment 'text_to_sq' \(did you mean 'text_to_sql'\?\)"):
        open_environment("text_to_sq")
    with pytest.raises(ValueError, match=r"agent environment 'text_to_sql': bad options \['colour'\]"):
        open_environment("text_to_sql", colour="red")


def test_environments_register_by_factory_or_by_path(registry):
    register_environment("echo", EchoEnvironment)
    assert "echo" in agent_environments()
    env = open_environment("echo", loud=True)
    assert env.loud is True
    session = asyncio.run(env.open({"prompt": "hi"}, None))
    assert isinstance(session, AgentSession)
    register_environment("echo_by_path", f"{__name__}:EchoEnvironment")
    assert isinstance(open_environment("echo_by_path"), EchoEnvironment)
    with pytest.raises(ValueError, match="must be letters, digits"):
        register_environment("bad name!", EchoEnvironment)
