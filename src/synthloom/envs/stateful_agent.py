"""The τ-bench-style environments (``store``, ``airline``: ``envs/environment.py``) as agent-loop environments.

A task is an APIGen-MT blueprint: ``{"intent" (or "prompt"), "actions": [{"name", "arguments"}, ...], "outputs":
[...]}``. The agent acts on its own copy of the database (every call runs in the sandbox, the state travels as JSON);
the trajectory passes when the final state equals the state the ground-truth ``actions`` produce on a fresh copy and
every required output is in the agent's finish answer (Yao et al. 2024, τ-bench, arXiv:2406.12045).
"""

from __future__ import annotations

import re
from typing import Any

import xxhash

from ..llm.tools import ToolCall
from ..tools.executor import CallResult, Invocation, ToolExecutor
from ..tools.spec import Tool
from .agent_env import Verdict, finish_tool, result_text
from .environment import Environment, EnvironmentStateLost, State, load_environment, state_hash, states_equal

FINISH = "finish"


def _normal(text: str) -> str:
    return re.sub(r"[\s$,]", "", str(text)).lower()


class StatefulSession:
    """One trajectory over a private copy of the environment's database."""

    def __init__(self, env: Environment, task: dict[str, Any], executor: ToolExecutor) -> None:
        self.env, self.task, self.executor = env, task, executor
        self.tools: list[Tool] = [*env.tools, finish_tool(FINISH, "Call this when the user's request is handled; give your "
                                                                  "final answer to the user.")]
        self.instructions = env.policy
        self.state: State = env.initial_state()
        self.answer: str | None = None
        self.lost: str | None = None

    async def act(self, calls: list[ToolCall]) -> list[CallResult]:
        finish = {c.id: CallResult(c.id, c.name, "ok", {"answer": c.arguments.get("answer")}) for c in calls if c.name == FINISH}
        for c in calls:
            if c.name == FINISH:
                self.answer = str(c.arguments.get("answer") or "")
        others = [c for c in calls if c.name != FINISH]
        done: dict[str, CallResult] = {}
        if others and self.lost is None:
            try:
                results, self.state = await self.env.aexecute(self.executor, self.state, [Invocation.of(c) for c in others])
                done = {r.call_id: r for r in results}
            except EnvironmentStateLost as exc:
                self.lost = str(exc)
        return [finish.get(c.id) or done.get(c.id) or CallResult(c.id, c.name, "crashed", None, self.lost or "not run")
                for c in calls]

    def observation(self, result: CallResult) -> str:
        return result_text(result)

    async def check(self) -> Verdict:
        if self.lost is not None:
            return Verdict(False, f"the environment's state was lost: {self.lost}", {})
        actions = self.task.get("actions") or []
        calls = [Invocation(f"action_{i}", a["name"], dict(a.get("arguments") or {})) for i, a in enumerate(actions)]
        results, expected = await self.env.aexecute(self.executor, self.env.initial_state(), calls)
        failed = [r for r in results if not r.ok]
        if failed:
            raise ValueError(f"{self.env.name}: the task's ground-truth action {failed[0].name} fails ({failed[0].error})")
        if not states_equal(self.state, expected):
            diff = "; ".join(self.env.diff(expected, self.state, limit=5))
            return Verdict(False, f"the final state differs from the expected one: {diff}", {"diff": diff})
        missing = [o for o in self.task.get("outputs") or [] if _normal(o) not in _normal(self.answer or "")]
        if missing:
            return Verdict(False, f"the answer does not say {', '.join(map(repr, missing))}", {"answer": self.answer})
        return Verdict(True, "passed", {"answer": self.answer})


class StatefulAgentEnvironment:
    """A bundled τ-bench-style environment (``store``, ``airline``) or a folder laid out like one, for the agent loop."""

    def __init__(self, environment: str) -> None:
        self.env = load_environment(environment)
        self.name = self.env.name

    def fingerprint(self) -> str:
        """A digest of the environment's tools, schema and seed state."""
        return xxhash.xxh3_64_hexdigest(f"{self.env.module.source}\x1f{self.env.schema}\x1f{state_hash(self.env.seed)}".encode())

    async def open(self, task: dict[str, Any], executor: ToolExecutor) -> StatefulSession:
        actions = task.get("actions") if isinstance(task, dict) else None
        if not isinstance(actions, list) or not all(isinstance(a, dict) and isinstance(a.get("name"), str) for a in actions):
            raise ValueError(f"{self.name}: a task needs 'actions', a list of {{name, arguments}} calls (an APIGen-MT blueprint)")
        return StatefulSession(self.env, task, executor)


def StoreAgentEnvironment() -> StatefulAgentEnvironment:  # noqa: N802 (a factory named like the class it makes)
    """The bundled ``store`` environment for the agent loop."""
    return StatefulAgentEnvironment("store")


def AirlineAgentEnvironment() -> StatefulAgentEnvironment:  # noqa: N802
    """The bundled ``airline`` environment for the agent loop."""
    return StatefulAgentEnvironment("airline")
