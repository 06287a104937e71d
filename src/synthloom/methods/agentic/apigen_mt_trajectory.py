"""APIGen-MT, phase 2: simulated user-agent dialogues over the environment, kept by their final state.

Prabhakar et al. 2025, "APIGen-MT: Agentic Pipeline for Multi-Turn Data Generation via Simulated
Agent-Human Interplay", arXiv:2504.03601; the evaluation is τ-bench's (Yao et al. 2024,
arXiv:2406.12045): a trajectory counts only when the database ends in the state the ground-truth
actions produce and the agent said the required outputs; pass^k asks that all k trials succeed.

:class:`ApigenMtTrajectory` (``apigen_mt_trajectory``) runs ``trials`` conversations per validated
blueprint: an LLM user simulator (its system prompt holds the blueprint's intent; it says
``###STOP###`` when done) talks to the agent model, which is offered the environment's tools and
acts turn by turn (ReAct: each call is executed in the sandbox on the trial's own copy of the
database and its result comes back as a ``role: tool`` message) until the user stops, the agent
transfers to a human (``end_tools``) or ``max_steps`` agent turns ran. Each trial's final state is
compared with the state that replaying the blueprint's actions on a fresh copy produces.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from ...envs.environment import Environment, EnvironmentStateLost, State, state_hash, states_equal
from ...llm.tools import ToolCall, assistant_message, tool_message
from ...pipeline.model_step import ModelStep
from ...pipeline.step import Rejected
from ...records import adopt_rows, user_columns
from ...tools.executor import ToolExecutor
from ...tools.validate import call_problem
from .apigen_mt import CITATION, TAU_BENCH, output_said, row_environment

STOP = "###STOP###"
RESPOND = "respond_to_user"
RESPOND_TOOL = {"type": "function", "function": {
    "name": RESPOND, "description": "Send a message to the user: ask for information, confirm an action or answer.",
    "parameters": {"type": "object", "properties": {"content": {"type": "string", "description": "the message"}},
                   "required": ["content"], "additionalProperties": False}}}
TOOL_CHOICES = ("auto", "required")
KEEP = ("first", "all")


@dataclass
class Trial:
    """One conversation: its chat ``messages`` (as the agent saw them), the ``state`` it left, how it
    ``ended`` (``user_stop``, ``end_tool``, ``max_steps``, ``agent_silent``, ``agent_cut`` (its reply
    hit ``max_tokens``), ``user_silent``, ``state_lost``), the agent's model-call ``steps``, its tool ``calls`` and the verdict."""

    index: int
    messages: list[dict[str, Any]] = field(default_factory=list)
    state: State | None = None
    said: list[str] = field(default_factory=list)
    ended: str = "max_steps"
    steps: int = 0
    calls: int = 0
    success: bool = False
    reason: str | None = None
    lineage: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k in ("index", "success", "reason", "ended", "steps", "calls")}


class ApigenMtTrajectory(ModelStep):
    """APIGen-MT's simulated agent-human interplay with τ-bench's state check. Per row (``domain``,
    ``blueprint`` from ``apigen_mt_blueprint``) it runs ``trials`` conversations between the user
    simulator (``user_model``, default the agent's model; ``user_temperature``, ``user_max_tokens``)
    and the agent (the step's model, offered the environment's tools with ``agent_tool_choice``:
    ``auto``, or ``required`` for models that only call tools when forced, such as the embedded one:
    the agent then also gets a ``respond_to_user`` tool, and those calls become plain assistant
    messages in the data). A trial succeeds when the final state equals the blueprint's expected
    state and (``check_outputs``) every required output was said by the agent.

    Emits the first successful trial (``keep: first``) or every one (``all``) as a row with
    ``messages`` (system policy, user, assistant with ``tool_calls``, ``tool`` results, ...),
    ``tools``, ``trial``, ``trials`` (each trial's success, reason, end, steps, calls), ``pass_k``
    (all trials succeeded) and ``simulated: false``. Rejected when no trial succeeds, with each
    trial's reason (the state differences, the outputs never said)."""

    type_name = "apigen_mt_trajectory"
    runtime_options = ("workers",)
    default_sampling = {"temperature": 0.7, "max_tokens": 512}

    def __init__(self, name: str, *, trials: int = 1, max_steps: int = 20, agent_tool_choice: str = "auto",
                 user_model: str | None = None, user_temperature: float | None = None, user_max_tokens: int = 256,
                 keep: str = "first", check_outputs: bool = True, end_tools: list[str] | None = None,
                 greeting: str = "Hi! How can I help you today?", user_template: str | None = None,
                 agent_template: str | None = None, timeout: float = 10.0, memory_mb: int = 512,
                 workers: int | None = None, citations: Iterable[str] = (), **kwargs: Any) -> None:
        where = f"apigen_mt_trajectory {name!r}"
        for opt, v in (("trials", trials), ("max_steps", max_steps), ("user_max_tokens", user_max_tokens)):
            if int(v) < 1:
                raise ValueError(f"{where}: {opt} must be >= 1, not {v}")
        if agent_tool_choice not in TOOL_CHOICES:
            raise ValueError(f"{where}: agent_tool_choice must be 'auto' or 'required' (for models that call tools only "
                             f"when forced, e.g. the embedded one), not {agent_tool_choice!r}")
        if keep not in KEEP:
            raise ValueError(f"{where}: keep must be 'first' or 'all' (successful trials emitted), not {keep!r}")
        super().__init__(name, reads=["domain", "blueprint"],
                         writes=["messages", "tools", "trial", "trials", "pass_k", "simulated"],
                         citations=[CITATION, TAU_BENCH, *citations], **kwargs)
        if user_model and user_model not in self.models:
            self.models.append(user_model)
        self.trials, self.max_steps, self.agent_tool_choice = int(trials), int(max_steps), agent_tool_choice
        self.user_model, self.user_temperature, self.user_max_tokens = user_model, user_temperature, int(user_max_tokens)
        self.keep, self.check_outputs, self.greeting = keep, bool(check_outputs), greeting
        self.end_tools = ["transfer_to_human_agents"] if end_tools is None else list(end_tools)
        self.user_template = user_template if user_template is not None else self.load_template("apigen_mt_user.jinja")
        self.agent_template = agent_template if agent_template is not None else self.load_template("apigen_mt_agent.jinja")
        self.read_columns(self.user_template, self.agent_template, not_columns={"intent", "policy", "respond_tool"})
        self.executor = ToolExecutor(timeout=timeout, memory_mb=memory_mb, workers=workers)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        env = row_environment(record, self.name)
        blueprint = record.get("blueprint")
        if not (isinstance(blueprint, dict) and isinstance(blueprint.get("intent"), str)
                and isinstance(blueprint.get("actions"), list)):
            raise ValueError(f"apigen_mt_trajectory {self.name!r}: column 'blueprint' must be {{intent, actions, outputs}}; "
                             "apigen_mt_blueprint makes it")
        expected = await self.expected_state(env, blueprint, record.get("expected_state_hash"))
        trials = await asyncio.gather(*(self.run_trial(record, env, blueprint, expected, t) for t in range(self.trials)))
        summaries = [t.summary() for t in trials]
        pass_k = all(t.success for t in trials)
        won = [t for t in trials if t.success]
        if not won:
            reasons = "; ".join(f"trial {t.index + 1}: {t.reason}" for t in trials)
            return Rejected(f"no trial reached the blueprint's outcome ({reasons})", 0.0)
        base = user_columns(record)
        rows, lineage = [], []
        for t in won[:1] if self.keep == "first" else won:
            rows.append({**base, "messages": self.data_messages(env, record, t.messages), "tools": env.openai_tools(),
                         "trial": t.index, "trials": summaries, "pass_k": pass_k, "simulated": False})
            lineage += t.lineage
        return adopt_rows(record, rows[0] if len(rows) == 1 else rows, self.name, lineage)

    async def expected_state(self, env: Environment, blueprint: dict[str, Any], digest: Any) -> State:
        """The state replaying the blueprint's actions on a fresh copy produces (checked against the
        digest phase 1 recorded)."""
        calls = [{"id": f"action_{i}", "name": a.get("name"), "arguments": a.get("arguments") or {}}
                 for i, a in enumerate(blueprint["actions"], 1) if isinstance(a, dict)]
        problems = [p for p in (call_problem(c, env.tools) for c in calls) if p]
        if problems or len(calls) != len(blueprint["actions"]):
            raise ValueError(f"apigen_mt_trajectory {self.name!r}: the blueprint's actions do not validate "
                             f"({problems[0] if problems else 'an action is not an object'}); validate it with apigen_mt_blueprint")
        results, state = await env.aexecute(self.executor, env.initial_state(), calls)
        failed = [r for r in results if not r.ok]
        if failed or (digest is not None and digest != state_hash(state)):
            why = f"action {failed[0].name} fails ({failed[0].error})" if failed else "its final state differs"
            raise ValueError(f"apigen_mt_trajectory {self.name!r}: replaying the blueprint no longer gives the state "
                             f"phase 1 validated ({why}): environment {env.name!r} changed; rerun apigen_mt_blueprint")
        return state

    def agent_system(self, record: dict[str, Any], env: Environment, respond_tool: bool) -> str:
        view = {**user_columns(record), "policy": env.policy, "respond_tool": respond_tool}
        return self.render(self.agent_template, view).strip()

    def data_messages(self, env: Environment, record: dict[str, Any], messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The trial's messages as training data: the system prompt without the respond-tool note
        (``respond_to_user`` calls are in the conversation as plain assistant text already)."""
        return [{"role": "system", "content": self.agent_system(record, env, False)}, *messages[1:]]

    async def user_says(self, record: dict[str, Any], view: list[dict[str, Any]], trial: Trial, turn: int) -> str:
        response, entry = await self.call(record, view, model=self.user_model, salt=f"trial{trial.index}:user{turn}",
                                          temperature=self.user_temperature, max_tokens=self.user_max_tokens,
                                          lineage={"role": "user_simulator", "trial": trial.index})
        trial.lineage.append(entry)
        return (response.text or "").strip()

    async def run_trial(self, record: dict[str, Any], env: Environment, blueprint: dict[str, Any], expected: State,
                        index: int) -> Trial:
        trial = Trial(index, state=env.initial_state())
        respond = self.agent_tool_choice == "required"
        tools = env.openai_tools() + ([RESPOND_TOOL] if respond else [])
        user_system = self.render(self.user_template, {**user_columns(record), "intent": blueprint["intent"]}).strip()
        user_view = [{"role": "system", "content": user_system}, {"role": "user", "content": self.greeting}]
        trial.messages = [{"role": "system", "content": self.agent_system(record, env, respond)}]
        said = await self.user_says(record, user_view, trial, 0)
        if not said or STOP in said:
            trial.ended, trial.reason = "user_silent", "the simulated user ended the conversation before asking anything"
            return trial
        trial.messages.append({"role": "user", "content": said})
        user_view.append({"role": "assistant", "content": said})
        for step in range(1, self.max_steps + 1):
            trial.steps = step
            response, entry = await self.call(record, trial.messages, tools=tools, tool_choice=self.agent_tool_choice,
                                              salt=f"trial{index}:agent{step}", lineage={"role": "agent", "trial": index})
            trial.lineage.append(entry)
            calls, text = list(response.tool_calls), (response.text or "").strip()
            if respond and len(calls) == 1 and calls[0].name == RESPOND:  # a message to the user, kept as plain text
                text, calls = str(calls[0].arguments.get("content") or "").strip(), []
            if calls:
                trial.messages.append(assistant_message(calls, content=text or None))
                if not await self.act(env, trial, calls):
                    break
                continue
            if not text or (response.choices and response.choices[0].finish_reason == "length"):
                trial.ended = "agent_silent" if not text else "agent_cut"  # cut: a message or a call ran out of tokens
                break
            trial.messages.append({"role": "assistant", "content": text})
            trial.said.append(text)
            user_view.append({"role": "user", "content": text})
            reply = await self.user_says(record, user_view, trial, step)
            if not reply or STOP in reply:
                trial.ended = "user_stop" if reply else "user_silent"
                break
            trial.messages.append({"role": "user", "content": reply})
            user_view.append({"role": "assistant", "content": reply})
        self.judge(env, trial, blueprint, expected)
        return trial

    async def act(self, env: Environment, trial: Trial, calls: list[ToolCall]) -> bool:
        """Execute the agent's ``calls`` on the trial's state and append their ``tool`` messages;
        False when the trial ends here (an end tool ran, or the state was lost)."""
        trial.calls += len(calls)
        problems = {c.id: self.call_problem(env, c) for c in calls}
        valid = [c for c in calls if problems[c.id] is None]
        results = {}
        if valid:
            try:
                done, trial.state = await env.aexecute(self.executor, trial.state, valid)
            except EnvironmentStateLost as exc:
                trial.ended, trial.reason = "state_lost", str(exc)
                return False
            results = {r.call_id: r for r in done}
        for c in calls:
            r = results.get(c.id)
            content = f"Error: {problems[c.id]}" if r is None else \
                json.dumps(r.value, ensure_ascii=False) if r.ok else f"Error: {r.error or r.status}"
            trial.messages.append(tool_message(c.id, content))
        if any(r.ok and r.name in self.end_tools for r in results.values()):
            trial.ended = "end_tool"
            return False
        return True

    @staticmethod
    def call_problem(env: Environment, call: ToolCall) -> str | None:
        if call.name == RESPOND:
            return f"{RESPOND} must be the only call of its turn"
        return call.error or call_problem(call, env.tools)

    def judge(self, env: Environment, trial: Trial, blueprint: dict[str, Any], expected: State) -> None:
        """τ-bench's reward: the final state equals the expected one, and every required output was said."""
        if trial.reason is not None:  # the trial already failed (the state was lost)
            return
        if not states_equal(trial.state or {}, expected):
            differences = "; ".join(env.diff(expected, trial.state or {}, limit=6))
            trial.reason = f"the final state differs from the blueprint's (expected → actual): {differences}"
            return
        if self.check_outputs:
            missing = [o for o in blueprint.get("outputs") or [] if not output_said(o, "\n".join(trial.said))]
            if missing:
                trial.reason = f"the agent never said the required output(s) {', '.join(map(repr, missing))}"
                return
        trial.success = True

    async def aclose(self) -> None:
        self.executor.close()
