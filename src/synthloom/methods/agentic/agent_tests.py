"""ALMITA: test cases for tool-augmented conversational agents, generated from procedures and checked against them.

Arcadinho et al. 2024, "Automated test generation to evaluate tool-augmented LLMs as conversational AI agents",
arXiv:2409.15934. The paper's pipeline: intents → procedures → flow graphs → conversation graphs → sampled
paths → an LLM writes a conversation along each path → test cases, each the conversation up to an agent
turn and the expected next agent action (a reply or an API call with its arguments).

Here (:mod:`.agent_tests_paths` draws the grounded paths of the bundled procedures), :class:`AgentTests`
(``agent_tests``), per path:

1. **intent** — the model writes the customer's intent from the procedure and what the customer does on the
   path (JSON-schema constrained ``{"intent": ...}``);
2. **conversation** — the customer opens with the intent; then, step by step along the path, the agent
   (the model, with the procedure and the path's next action in its system prompt) writes each message, and
   at each call step is offered the environment's tools and must call one; the customer (the model again, in
   the customer's role) answers as the path says;
3. **checks** — each call must be the path's tool at that point (a call out of the procedure's order rejects
   the conversation), its arguments must validate against the tool's schema and equal the case's facts, and
   it is executed against the environment (:mod:`synthloom.envs`, in the sandbox, on the conversation's own
   copy of the database), whose answer must take the path's branch (ok, error, the status the path expects);
4. **tests** — every agent turn of a kept conversation becomes a test case: ``context`` (the messages before
   it) and ``expected`` (``{"type": "tool_call", "name", "arguments"}`` or ``{"type": "message", "content"}``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ...envs.environment import Environment, EnvironmentStateLost, State, load_environment
from ...llm.structured import StructuredOutputError
from ...llm.tools import ToolCall, assistant_message, tool_message
from ...pipeline.model_step import ModelStep
from ...pipeline.step import Rejected
from ...records import adopt_rows, user_columns
from ...tools.executor import ToolExecutor
from ...tools.validate import call_problem
from .agent_tests_paths import CITATION, meets

INTENT_SCHEMA = {"type": "object", "properties": {"intent": {"type": "string", "minLength": 1}},
                 "required": ["intent"], "additionalProperties": False}
EMITS = ("tests", "conversations")
OPENING = "state what you want"


def same_value(given: Any, expected: Any) -> bool:
    """Whether a call's argument is the expected one (strings compared without case and outer spaces)."""
    if isinstance(given, str) and isinstance(expected, str):
        return given.strip().casefold() == expected.strip().casefold()
    return given == expected


class Conversation:
    """One conversation along a path: the agent's ``messages`` (system first), the customer's own view, the
    environment's state, and the lineage of the calls."""

    def __init__(self, env: Environment, agent_system: str, user_system: str) -> None:
        self.messages: list[dict[str, Any]] = [{"role": "system", "content": agent_system}]
        self.user_view: list[dict[str, Any]] = [{"role": "system", "content": user_system}]
        self.state: State = env.initial_state()
        self.lineage: list[dict[str, Any]] = []

    def customer(self, text: str) -> None:
        self.messages.append({"role": "user", "content": text})
        self.user_view.append({"role": "assistant", "content": text})

    def agent(self, text: str) -> None:
        self.messages.append({"role": "assistant", "content": text})
        self.user_view.append({"role": "user", "content": text})


class AgentTests(ModelStep):
    """ALMITA (Arcadinho et al. 2024) over a grounded path (from ``agent_test_paths``): the model writes the
    customer's intent, then a conversation along the path — customer turns (``user_max_tokens``), agent
    messages and agent tool calls (``tool_choice: required`` at call steps), each call checked against the
    procedure (the path's tool in order, schema-valid arguments equal to the case's facts) and executed
    against the environment, whose answer must take the path's branch. A conversation failing a check is
    rejected with the step and the reason. ``emit: tests`` writes one row per agent turn (``context``,
    ``expected``, ``turn``), ``conversations`` one row per path (``messages``, ``test_cases``); both with
    ``intent``, ``tools`` (the environment's, as a request offers them) and the path's columns."""

    type_name = "agent_tests"
    runtime_options = ("workers",)
    default_sampling = {"temperature": 0.7, "max_tokens": 256}

    def __init__(self, name: str, *, emit: str = "tests", user_max_tokens: int = 128, intent_max_tokens: int = 128,
                 timeout: float = 10.0, memory_mb: int = 512, workers: int | None = None,
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        where = f"agent_tests {name!r}"
        if emit not in EMITS:
            raise ValueError(f"{where}: emit must be 'tests' (one row per agent turn) or 'conversations', not {emit!r}")
        for opt, value in (("user_max_tokens", user_max_tokens), ("intent_max_tokens", intent_max_tokens)):
            if int(value) < 1:
                raise ValueError(f"{where}: {opt} must be >= 1, not {value}")
        writes = ["intent", "tools", "context", "expected", "turn"] if emit == "tests" else \
            ["intent", "tools", "messages", "test_cases"]
        super().__init__(name, reads=["environment", "title", "procedure_text", "path"], writes=writes,
                         citations=[CITATION, *citations], **kwargs)
        self.emit, self.user_max_tokens, self.intent_max_tokens = emit, int(user_max_tokens), int(intent_max_tokens)
        self.intent_template = self.load_template("agent_tests_intent.jinja")
        self.agent_template = self.load_template("agent_tests_agent.jinja")
        self.user_template = self.load_template("agent_tests_user.jinja")
        self.read_columns(self.intent_template, self.agent_template, self.user_template,
                          not_columns={"intent", "next_action", "step"})
        self.executor = ToolExecutor(timeout=timeout, memory_mb=memory_mb, workers=workers)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        path = record.get("path")
        if not isinstance(path, list) or not path or not all(isinstance(s, dict) for s in path):
            raise ValueError(f"agent_tests {self.name!r}: column 'path' must be a list of steps; agent_test_paths makes it")
        env = load_environment(str(record.get("environment")))
        view = user_columns(record)
        lineage: list[dict[str, Any]] = []
        intent = await self.intent(record, view, lineage)
        if isinstance(intent, Rejected):
            return intent
        talk = Conversation(env, self.render(self.agent_template, {**view, "next_action": None}).strip(),
                            self.render(self.user_template, {**view, "intent": intent, "next_action": None}).strip())
        talk.lineage = lineage
        failed = await self.customer_says(record, view, intent, talk, OPENING, 0)
        for k, step in enumerate(path, 1):
            if failed:
                break
            if "call" in step:
                failed = await self.agent_calls(record, view, env, talk, step, k)
            else:
                failed = await self.agent_says(record, view, talk, step, k)
                if not failed and step.get("user"):
                    failed = await self.customer_says(record, view, intent, talk, step["user"], k)
        if failed:
            return Rejected(failed)
        return adopt_rows(record, self.rows(record, env, intent, talk.messages), self.name, talk.lineage)

    async def intent(self, record: dict[str, Any], view: dict[str, Any], lineage: list[dict[str, Any]]) -> str | Rejected:
        messages = [{"role": "user", "content": self.render(self.intent_template, view).strip()}]
        try:
            response, entry = await self.call(record, messages, json_schema=INTENT_SCHEMA, salt="intent",
                                              max_tokens=self.intent_max_tokens, lineage={"role": "intent"})
        except StructuredOutputError as e:
            return Rejected(f"intent: no usable intent ({e})")
        lineage.append(entry)
        intent = " ".join(str((response.parsed or {}).get("intent") or "").split())
        return intent or Rejected("intent: the intent is empty")

    async def customer_says(self, record: dict[str, Any], view: dict[str, Any], intent: str, talk: Conversation,
                            action: str, k: int) -> str | None:
        system = self.render(self.user_template, {**view, "intent": intent, "next_action": action}).strip()
        response, entry = await self.call(record, [{"role": "system", "content": system}, *talk.user_view[1:]],
                                          salt=f"user{k}", max_tokens=self.user_max_tokens,
                                          lineage={"role": "customer", "path_step": k})
        talk.lineage.append(entry)
        text = (response.text or "").strip()
        if not text:
            return f"step {k}: the customer said nothing (to {action})"
        talk.customer(text)
        return None

    async def agent_says(self, record: dict[str, Any], view: dict[str, Any], talk: Conversation, step: dict[str, Any],
                         k: int) -> str | None:
        response, entry = await self.call(record, self.agent_view(view, talk, step["say"]), salt=f"agent{k}",
                                          lineage={"role": "agent", "path_step": k})
        talk.lineage.append(entry)
        text = (response.text or "").strip()
        if response.tool_calls:
            return f"step {k}: out of procedure order: the path has the agent say something ({step['say']}), " \
                   f"it called {response.tool_calls[0].name}"
        if not text:
            return f"step {k}: the agent said nothing (to {step['say']})"
        talk.agent(text)
        return None

    async def agent_calls(self, record: dict[str, Any], view: dict[str, Any], env: Environment, talk: Conversation,
                          step: dict[str, Any], k: int) -> str | None:
        tool = step["call"]
        response, entry = await self.call(record, self.agent_view(view, talk, f"call the tool {tool}"), salt=f"agent{k}",
                                          tools=env.openai_tools(), tool_choice="required",
                                          lineage={"role": "agent", "path_step": k})
        talk.lineage.append(entry)
        calls = list(response.tool_calls)
        if len(calls) != 1:
            return f"step {k}: the path calls {tool} here; the agent made {len(calls)} calls"
        call = calls[0]
        problem = self.call_problem(env, call, step, k)
        if problem:
            return problem
        talk.messages.append(assistant_message([call], content=(response.text or "").strip() or None))
        try:
            (result,), talk.state = await env.aexecute(self.executor, talk.state, [call])
        except EnvironmentStateLost as e:
            return f"step {k}: {e}"
        outcome = step.get("outcome", "ok")
        if result.ok != (outcome != "error"):
            said = f"failed ({result.error})" if not result.ok else "succeeded"
            return f"step {k}: {tool} {said} in the environment; the path expects {outcome}"
        answer = result.value if isinstance(result.value, dict) else {}
        unmet = [f"{name} {answer.get(name)!r}, not {req}" for name, req in step.get("expect") or []
                 if name not in answer or not meets(answer[name], req)]
        if unmet:
            return f"step {k}: {tool} answered {'; '.join(unmet)} as the path's branch {outcome} expects"
        content = json.dumps(result.value, ensure_ascii=False) if result.ok else f"Error: {result.error}"
        talk.messages.append(tool_message(call.id, content))
        return None

    @staticmethod
    def call_problem(env: Environment, call: ToolCall, step: dict[str, Any], k: int) -> str | None:
        """Why ``call`` does not follow the path at step ``k``: another tool (out of the procedure's order),
        arguments that do not validate, or arguments other than the case's facts."""
        if call.name != step["call"]:
            return f"step {k}: out of procedure order: the path calls {step['call']} here, the agent called {call.name}"
        problem = call.error or call_problem(call, env.tools)
        if problem:
            return f"step {k}: malformed arguments: {problem}"
        expected = step.get("arguments") or {}
        wrong = [f"{a} {call.arguments.get(a)!r} (expected {v!r})" for a, v in expected.items()
                 if not same_value(call.arguments.get(a), v)]
        return f"step {k}: {call.name} called with the wrong arguments: {', '.join(wrong)}" if wrong else None

    def agent_view(self, view: dict[str, Any], talk: Conversation, action: str) -> list[dict[str, Any]]:
        system = self.render(self.agent_template, {**view, "next_action": action}).strip()
        return [{"role": "system", "content": system}, *talk.messages[1:]]

    def rows(self, record: dict[str, Any], env: Environment, intent: str, messages: list[dict[str, Any]]):
        base = {**user_columns(record), "intent": intent, "tools": env.openai_tools()}
        cases = []
        for i, m in enumerate(messages):
            if m["role"] != "assistant":
                continue
            if m.get("tool_calls"):
                fn = m["tool_calls"][0]["function"]
                expected = {"type": "tool_call", "name": fn["name"], "arguments": json.loads(fn["arguments"])}
            else:
                expected = {"type": "message", "content": m["content"]}
            cases.append({"context": messages[:i], "expected": expected, "turn": len(cases) + 1})
        if self.emit == "conversations":
            return {**base, "messages": messages, "test_cases": cases}
        return [{**base, **case} for case in cases]

    async def aclose(self) -> None:
        self.executor.close()
