"""The contract between the agent loop (``methods/agentic/agent_loop.py``) and the environments it acts in.

An :class:`AgentEnvironment` opens one private :class:`AgentSession` per trajectory (fresh state: a database, a
workspace). The loop offers the session's ``tools`` to the model, passes the model's calls to
:meth:`AgentSession.act` (executed for real, in the sandbox), shows each result to the model as
:meth:`AgentSession.observation` text and, when the trajectory ends, asks :meth:`AgentSession.check` for the
:class:`Verdict` that keeps or rejects it (ReAct, Yao et al. 2022, arXiv:2210.03629: thought → action →
observation; environment-checked trajectories as in SWE-Gym and SWE-smith).

**The finish call.** The loop ends a trajectory when the model calls the finish tool (``finish`` by default, one
``answer`` string argument; :func:`finish_tool` declares it). When the session's ``tools`` include a tool of that
name, the finish call is passed to :meth:`AgentSession.act` like any other call (the text-to-SQL session runs and
records the submitted SQL that way); otherwise the loop offers :func:`finish_tool` itself and only records it.

**Optional members:** a session's ``instructions`` (a str attribute): text the loop adds to the agent's system prompt
(what the environment is, how to answer); an environment's ``fingerprint() -> str``: a digest of what it runs (tool
source, bundled data), so that editing it recomputes the agent loop's rows instead of resuming stale ones. Neither is
required.

State that must survive between calls travels as JSON/text through the executor's ``files=`` into the jail and back
out through a hidden dump call (as ``envs/environment.py`` does); the host never executes an agent's action.

**Registry.** :func:`register_environment` maps a name to a factory (``factory(**options) -> AgentEnvironment``);
:func:`open_environment` builds one by name, :func:`agent_environments` lists the names. Bundled environments are
registered lazily by dotted path (:data:`BUILTIN_ENVIRONMENTS`), so importing this module imports none of them.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..llm.tools import ToolCall
from ..tools.executor import CallResult, ToolExecutor
from ..tools.spec import Tool

#: longest observation text shown to the model (characters), unless an environment says otherwise
OBSERVATION_LIMIT = 4000


@dataclass
class Verdict:
    """An environment's judgement of a finished trajectory: ``passed``, a one-line ``reason`` (``"passed"`` when it
    passed, else why not: ``"tests still failing: test_parse_empty"``) and env-specific ``details``."""

    passed: bool
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Verdict:
        return Verdict(bool(d["passed"]), str(d["reason"]), dict(d.get("details") or {}))


@runtime_checkable
class AgentSession(Protocol):
    """One trajectory's private environment instance."""

    tools: list[Tool]

    async def act(self, calls: list[ToolCall]) -> list[CallResult]:
        """Execute ``calls`` in order, for real, in the sandbox; update the session's state; one result per call."""
        ...

    async def check(self) -> Verdict:
        """Whether the task was done, judged from the session's final state."""
        ...

    def observation(self, result: CallResult) -> str:
        """The text of the ``tool`` message that shows ``result`` to the model (bounded length)."""
        ...


@runtime_checkable
class AgentEnvironment(Protocol):
    """A kind of environment: opens a fresh :class:`AgentSession` for one task."""

    name: str

    async def open(self, task: dict[str, Any], executor: ToolExecutor) -> AgentSession:
        ...


def finish_tool(name: str = "finish", description: str | None = None) -> Tool:
    """The tool that ends a trajectory: one required ``answer`` string (no implementation: the loop handles it)."""
    return Tool(name=name, description=description or "Call this when the task is done; give your final answer.",
                parameters={"type": "object", "properties": {"answer": {"type": "string", "description": "your final answer"}},
                            "required": ["answer"]},
                category="agent", module=None, entry=name)


def result_text(result: CallResult, *, limit: int = OBSERVATION_LIMIT) -> str:
    """A default observation: the JSON value of an ``ok`` result, else ``"<status>: <error>"``, cut to ``limit``."""
    if result.ok:
        value = result.value
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = f"{result.status}: {result.error or 'no detail'}"
    return clip(text, limit)


def clip(text: str, limit: int = OBSERVATION_LIMIT) -> str:
    """``text`` cut to at most ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    note = f"\n... [{len(text) - limit} more characters cut]"
    return text[: max(0, limit - len(note))] + note


TASK_TEXT_KEYS = ("prompt", "question", "statement", "instruction", "task", "intent")


def task_text(task: dict[str, Any]) -> str:
    """The words that state a task to the agent: the first of :data:`TASK_TEXT_KEYS` it has, else its JSON."""
    for key in TASK_TEXT_KEYS:
        value = task.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return json.dumps(task, ensure_ascii=False, sort_keys=True, default=str)


# -- registry ------------------------------------------------------------------------------------------------------

EnvironmentFactory = Callable[..., AgentEnvironment]

#: bundled environments, imported on first use: name -> "module:attribute" of the factory
BUILTIN_ENVIRONMENTS: dict[str, str] = {
    "text_to_sql": "synthloom.envs.text_to_sql.environment:TextToSqlEnvironment",
    "code_workspace": "synthloom.envs.code_workspace.workspace:CodeWorkspaceEnvironment",
    "store": "synthloom.envs.stateful_agent:StoreAgentEnvironment",
    "airline": "synthloom.envs.stateful_agent:AirlineAgentEnvironment",
    "shell": "synthloom.envs.shell.environment:ShellEnvironment",
}
_registered: dict[str, EnvironmentFactory] = {}


def register_environment(name: str, factory: EnvironmentFactory | str) -> None:
    """Make ``factory`` (a callable ``factory(**options) -> AgentEnvironment``, or its ``"module:attribute"`` path)
    available under ``name``; a later registration of the same name replaces the earlier one."""
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"agent environment name {name!r} must be letters, digits, '_' or '-'")
    if isinstance(factory, str):
        BUILTIN_ENVIRONMENTS[name] = factory
        _registered.pop(name, None)
    else:
        _registered[name] = factory


def agent_environments() -> list[str]:
    """The names :func:`open_environment` accepts."""
    return sorted(set(_registered) | set(BUILTIN_ENVIRONMENTS))


def _factory(name: str) -> EnvironmentFactory:
    if name in _registered:
        return _registered[name]
    path = BUILTIN_ENVIRONMENTS.get(name)
    if path is None:
        close = difflib.get_close_matches(name, agent_environments(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown agent environment {name!r}{hint}: known ones are {', '.join(agent_environments())}")
    module, _, attr = path.partition(":")
    factory = getattr(importlib.import_module(module), attr)
    _registered[name] = factory
    return factory


def open_environment(name: str, **options: Any) -> AgentEnvironment:
    """The environment registered as ``name``, built with ``options`` (the factory's keyword arguments)."""
    factory = _factory(name)
    try:
        inspect.signature(factory).bind(**options)
    except TypeError as exc:
        raise ValueError(f"agent environment {name!r}: bad options {sorted(options)} ({exc})") from None
    except ValueError:  # a callable without a signature: let it check its own options
        pass
    return factory(**options)


__all__ = ["BUILTIN_ENVIRONMENTS", "OBSERVATION_LIMIT", "AgentEnvironment", "AgentSession", "Verdict", "agent_environments",
           "clip", "finish_tool", "open_environment", "register_environment", "result_text", "task_text"]
