"""APIGen-MT, phase 1: task blueprints over a stateful environment, validated by executing them.

Prabhakar et al. 2025, "APIGen-MT: Agentic Pipeline for Multi-Turn Data Generation via Simulated
Agent-Human Interplay", arXiv:2504.03601 (Salesforce xLAM-2), over τ-bench-style environments (Yao
et al. 2024, "τ-bench: A Benchmark for Tool-Agent-User Interaction in Real-World Domains",
arXiv:2406.12045). Phase 1 samples context from the environment (a user, their orders, the
products in them), asks an LLM for a *blueprint* — the user's intent, the ground-truth action
sequence and the outputs the agent must say — and keeps it only when it passes format checks, runs
without error on a fresh copy of the database, and (in the paper) an LLM review committee, with
failures fed back for another attempt. Phase 2 (:mod:`.apigen_mt_trajectory`) has a simulated user
with the intent talk to the agent model, and keeps a trajectory only when it leaves the database in
the state the blueprint's actions produce.

Here: :class:`ApigenMtTasks` (``apigen_mt_tasks``, a source) draws the domain, user, context rows and
a focus tool of each task; :class:`ApigenMtBlueprint` (``apigen_mt_blueprint``) writes and validates
the blueprint: decoding constrained by a JSON schema built from the tools' schemas; then (1) format:
every action validates against the tools (:func:`synthloom.tools.validate.call_problem`); (2)
execution: all actions ``ok`` on the initial state in the sandbox (the expected final state's digest
and its differences from the initial state are recorded); (3) grounding: every required output
occurs in the actions' results. A failed check is fed back to the model for another attempt
(``attempts``); the last failure is the rejection reason.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import xxhash

from ...envs.context import task_context
from ...envs.environment import Environment, EnvironmentStateLost, environments, load_environment, state_hash
from ...llm.structured import StructuredOutputError
from ...llm.tools import call_schema
from ...pipeline.model_step import ModelStep, chat
from ...pipeline.step import DrawnSource, Rejected
from ...records import adopt_rows, user_columns
from ...tools.executor import ToolExecutor
from ...tools.validate import call_problem

CITATION = ("Prabhakar et al. 2025, APIGen-MT: Agentic Pipeline for Multi-Turn Data Generation via Simulated "
            "Agent-Human Interplay, arXiv:2504.03601")
TAU_BENCH = ("Yao et al. 2024, τ-bench: A Benchmark for Tool-Agent-User Interaction in Real-World Domains, "
             "arXiv:2406.12045")


@lru_cache(maxsize=32)
def environment(domain: str) -> Environment:
    """The environment named by a row's ``domain`` (a bundled name or a folder)."""
    return load_environment(domain)


def row_environment(record: dict[str, Any], step: str) -> Environment:
    domain = record.get("domain")
    if not isinstance(domain, str) or not domain:
        raise ValueError(f"step {step!r}: column 'domain' must name an environment (store, airline or a folder), "
                         f"not {domain!r}; apigen_mt_tasks makes it")
    return environment(domain)


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[$,]", "", str(text))).strip().lower()


def output_said(output: str, text: str) -> bool:
    """Whether ``output`` occurs in ``text`` (case, whitespace, ``$`` and thousands commas ignored)."""
    return _normal(output) in _normal(text)


def tool_lines(env: Environment) -> str:
    """The tools as the blueprint prompt lists them: ``name(arg: type, ...)``: description."""
    lines = []
    for t in env.tools:
        props = t.parameters.get("properties") or {}
        args = ", ".join(f"{k}: {v.get('type') or '|'.join(map(str, v.get('enum', []))) or 'any'}" for k, v in props.items())
        lines.append(f"- {t.name}({args}): {t.description}")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return "null" if value is None else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def table_lines(rows: list[dict[str, Any]]) -> list[str]:
    """A table for a prompt: a header of column names, then one line of values per row (``|`` between)."""
    columns = list(rows[0])
    return [" | ".join(columns)] + [" | ".join(_cell(r.get(c)) for c in columns) for r in rows]


class ApigenMtTasks(DrawnSource):
    """Source of ``n`` APIGen-MT tasks to write: each names its ``domain`` (drawn in turn from
    ``domains``: bundled environments ``store``, ``airline`` or folders laid out like them), the user
    it is about (a row of ``start_table``), the ``context`` rows a blueprint is grounded in (the
    user's own rows, what they reference, and up to ``context_rows`` rows of every other table; see
    :mod:`synthloom.envs.context`) and a ``focus`` tool the task should need (drawn from ``focus_tools``
    present in the domain; default any of its tools). Deterministic in ``seed``."""

    type_name = "apigen_mt_tasks"
    columns = ("domain", "user", "context", "focus")

    def __init__(self, name: str, *, n: int = 20, domains: list[str] | None = None, focus_tools: list[str] | None = None,
                 start_table: str = "users", context_rows: int = 6, seed: int = 0,
                 citations: Iterable[str] = ()) -> None:
        super().__init__(name, citations=[CITATION, TAU_BENCH, *citations])
        where = f"apigen_mt_tasks {name!r}"
        if int(n) < 0 or int(context_rows) < 0:
            raise ValueError(f"{where}: n and context_rows must be >= 0, not {n} and {context_rows}")
        self.domains = list(domains or ["store", "airline"])
        self.envs = [environment(d) for d in self.domains]
        for d, env in zip(self.domains, self.envs):
            if start_table not in env.seed or len(env.keys.get(start_table, ())) != 1:
                raise ValueError(f"{where}: environment {d!r} has no table {start_table!r} with a one-column primary key "
                                 "(set start_table)")
        known = {t for env in [*self.envs, *map(environment, environments())] for t in env.tool_names}
        unknown = [t for t in focus_tools or () if t not in known]
        if unknown:
            raise ValueError(f"{where}: focus tool {unknown[0]!r} is not a tool of {', '.join(self.domains)} "
                             "(nor of a bundled environment)")
        for d, env in zip(self.domains, self.envs):
            if focus_tools and not set(focus_tools) & set(env.tool_names):
                raise ValueError(f"{where}: none of the focus_tools is a tool of {d!r}; add one of {', '.join(env.tool_names)}")
        self.focus_tools = list(focus_tools or [])
        self.n, self.start_table, self.context_rows, self.seed = int(n), start_table, int(context_rows), int(seed)

    def draw(self, index: int) -> dict[str, Any]:
        """Task ``index`` (a pure function of the seed and the index)."""
        domain, env = self.domains[index % len(self.domains)], self.envs[index % len(self.envs)]
        rng = random.Random(xxhash.xxh3_64_intdigest(f"{self.seed}\x1f{index}\x1fapigen-mt".encode()))
        state = env.seed
        key = env.keys[self.start_table][0]
        user = rng.choice(state[self.start_table])
        context = task_context(state, env.keys, self.start_table, user[key], rng=rng, limit=self.context_rows)
        pool = [t for t in env.tool_names if t in self.focus_tools] if self.focus_tools else env.tool_names
        return {"domain": domain, "user": user[key], "context": context, "focus": rng.choice(pool)}

    def fingerprint(self) -> str:
        parts = [(env.module.source, env.schema, state_hash(env.seed)) for env in self.envs]
        return xxhash.xxh3_64_hexdigest(json.dumps(parts).encode())


def blueprint_schema(env: Environment, *, max_actions: int, max_outputs: int, calls: bool) -> dict[str, Any]:
    """The JSON schema of a blueprint ``{"intent", "actions", "outputs"}``; with ``calls`` each action
    is a call of one of ``env``'s tools with that tool's argument schema (what constrained decoding
    follows), else any ``{"name", "arguments"}`` object (what the reply is validated against before
    the format check)."""
    if calls:
        options = [call_schema(t.openai()) for t in env.tools]
        action: dict[str, Any] = options[0] if len(options) == 1 else {"anyOf": options}
    else:
        action = {"type": "object", "properties": {"name": {"type": "string"}, "arguments": {"type": "object"}},
                  "required": ["name", "arguments"]}
    return {"type": "object", "properties": {
        "intent": {"type": "string", "minLength": 1},
        "actions": {"type": "array", "items": action, "minItems": 1, "maxItems": max_actions},
        "outputs": {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": max_outputs}},
        "required": ["intent", "actions", "outputs"], "additionalProperties": False}


class ApigenMtBlueprint(ModelStep):
    """APIGen-MT's blueprint generator and validator. For each task (``domain``, ``user``, ``context``,
    ``focus``: :class:`ApigenMtTasks` makes them) it asks for ``{"intent", "actions", "outputs"}`` —
    the instruction a simulated user follows, the ground-truth calls (at most ``max_actions``) and
    what the agent must tell the user (at most ``max_outputs``) — decoded under a JSON schema made
    from the tools (``constrain``), then checks format, execution on a fresh copy of the initial
    state in the sandbox and (``check_outputs``) that every output occurs in the actions' results.
    A failure is shown to the model for another try, up to ``attempts`` in all.

    Writes ``blueprint``, ``action_results`` (each call's result), ``expected_changes`` (how the
    expected final state differs from the initial one) and ``expected_state_hash``; rejected with
    the last check that failed."""

    type_name = "apigen_mt_blueprint"
    runtime_options = ("workers",)
    default_sampling = {"temperature": 0.7, "max_tokens": 1024}
    view_names = frozenset({"policy", "tools", "context_tables", "focus", "user", "max_actions", "max_outputs"})

    def __init__(self, name: str, *, max_actions: int = 6, max_outputs: int = 2, attempts: int = 2,
                 check_outputs: bool = True, constrain: bool = True, template: str | None = None,
                 system_template: str | None = None, feedback_template: str | None = None, timeout: float = 10.0,
                 memory_mb: int = 512, workers: int | None = None, citations: Iterable[str] = (), **kwargs: Any) -> None:
        where = f"apigen_mt_blueprint {name!r}"
        for opt, v, lo in (("max_actions", max_actions, 1), ("max_outputs", max_outputs, 0), ("attempts", attempts, 1)):
            if int(v) < lo:
                raise ValueError(f"{where}: {opt} must be >= {lo}, not {v}")
        super().__init__(name, reads=["domain", "user", "context", "focus"],
                         writes=["blueprint", "action_results", "expected_changes", "expected_state_hash",
                                 "blueprint_attempts"],
                         citations=[CITATION, TAU_BENCH, *citations], **kwargs)
        self.max_actions, self.max_outputs, self.attempts = int(max_actions), int(max_outputs), int(attempts)
        self.check_outputs, self.constrain = bool(check_outputs), bool(constrain)
        self.prompt = template if template is not None else self.load_template("apigen_mt_blueprint.jinja")
        self.system = system_template if system_template is not None else self.load_template("apigen_mt_blueprint_system.jinja")
        self.feedback = feedback_template if feedback_template is not None else \
            self.load_template("apigen_mt_blueprint_feedback.jinja")
        self.read_columns(self.prompt, self.system, self.feedback, not_columns=self.view_names | {"problem"})
        self.executor = ToolExecutor(timeout=timeout, memory_mb=memory_mb, workers=workers)

    def messages(self, record: dict[str, Any], env: Environment) -> list[dict[str, Any]]:
        context = record.get("context") or {}
        view = {**user_columns(record), "policy": env.policy, "tools": tool_lines(env), "max_actions": self.max_actions,
                "max_outputs": self.max_outputs, "focus": record.get("focus"), "user": record.get("user"),
                "context_tables": {t: table_lines(rows) for t, rows in context.items() if rows}}
        return chat(self.render(self.prompt, view).strip(), system=self.render(self.system, view).strip() or None)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        env = row_environment(record, self.name)
        messages = self.messages(record, env)
        lineage, problem = [], ""
        for attempt in range(1, self.attempts + 1):
            request = self.request(record, messages, salt=f"blueprint{attempt}")
            if self.constrain:
                request = request.replace(json_schema=blueprint_schema(env, max_actions=self.max_actions,
                                                                       max_outputs=self.max_outputs, calls=True))
            schema = blueprint_schema(env, max_actions=self.max_actions, max_outputs=self.max_outputs, calls=False)
            try:
                response, entry = await self.call(record, request, json_schema=schema, structured_attempts=1,
                                                  lineage={"attempt": attempt})
            except StructuredOutputError as exc:  # its own attempt: the feedback below is the re-ask
                problem, reply = f"format: the reply is not a blueprint ({exc.validation_error})", exc.raw_text or "(no reply)"
            else:
                lineage.append(entry)
                blueprint = {k: response.parsed[k] for k in ("intent", "actions", "outputs")}
                checked = await self.validate(env, blueprint)
                if not isinstance(checked, str):
                    out = {**user_columns(record), "blueprint": blueprint, **checked, "blueprint_attempts": attempt}
                    return adopt_rows(record, out, self.name, lineage)
                problem, reply = checked, json.dumps(blueprint, ensure_ascii=False)
            feedback = self.render(self.feedback, {**user_columns(record), "problem": problem})
            messages = [*messages, {"role": "assistant", "content": reply}, {"role": "user", "content": feedback.strip()}]
        return Rejected(f"{problem} (after {self.attempts} attempt{'s' if self.attempts > 1 else ''})")

    async def validate(self, env: Environment, blueprint: dict[str, Any]) -> dict[str, Any] | str:
        """The blueprint's columns when it passes format, execution and grounding; else why not."""
        if not blueprint["intent"].strip():
            return "format: the intent is empty"
        for i, action in enumerate(blueprint["actions"], 1):
            problem = call_problem(action, env.tools)
            if problem:
                return f"format: action {i}: {problem}"
        calls = [{"id": f"action_{i}", "name": a["name"], "arguments": a["arguments"]}
                 for i, a in enumerate(blueprint["actions"], 1)]
        initial = env.initial_state()
        try:
            results, final = await env.aexecute(self.executor, initial, calls)
        except EnvironmentStateLost as exc:
            return f"execution: {exc}"
        for i, r in enumerate(results, 1):
            if not r.ok:
                return f"execution: action {i} ({r.name}) failed: {r.error or r.status}"
        if self.check_outputs:
            said = "\n".join(json.dumps(r.value, ensure_ascii=False) for r in results)
            for output in blueprint["outputs"]:
                if not output_said(output, said):
                    return f"grounding: the output {output!r} is not in any action's result"
        return {"action_results": [r.to_dict() for r in results], "expected_changes": env.diff(initial, final, limit=50),
                "expected_state_hash": state_hash(final)}

    async def aclose(self) -> None:
        self.executor.close()
