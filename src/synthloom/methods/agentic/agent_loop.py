"""The agent loop: ReAct trajectories in an environment, kept when the environment says the task was done.

Yao et al. 2022, "ReAct: Synergizing Reasoning and Acting in Language Models", arXiv:2210.03629: the model
interleaves thoughts (the assistant message's text) with actions (native tool calls) and reads each action's
observation before the next. The environment (``envs/agent_env.py``: text-to-SQL, the code workspace, the store)
executes every action for real in the sandbox and, at the end, checks the final state (the result set equals the
reference's, the failing tests pass); as in SWE-Gym (Pan et al. 2024, arXiv:2412.21139) and SWE-smith (Yang et al.
2025, arXiv:2504.21798) only trajectories that pass are kept, and ``attempts`` > 1 is rejection sampling, which also
gives passing/failing pairs of one task.

Rerun = resume: every request of a trajectory is a pure function of the record, the attempt and the step (its seed is
``seed_for(record, salt=f"{attempt}:{step}")`` and its messages are the trajectory so far, whose observations are the
deterministic results of the sandboxed actions), so a rerun after a kill replays the cached responses and produces the
same rows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ...envs.agent_env import AgentEnvironment, AgentSession, Verdict, open_environment, task_text
from ...envs.agent_env import finish_tool as finish_tool_of
from ...llm.tools import ToolCall, assistant_message, tool_message
from ...pipeline.model_step import ModelStep
from ...pipeline.step import Rejected
from ...records import adopt_rows, user_columns
from ...tools.executor import CallResult, ToolExecutor
from ...tools.spec import Tool
from ...tools.validate import call_problem

CITATION = "Yao et al. 2022, ReAct: Synergizing Reasoning and Acting in Language Models, arXiv:2210.03629"
EMITS = ("kept", "pairs")
TOOL_CHOICES = ("auto", "required")
#: why a trajectory ended, in words
ENDINGS = {"finish": "the finish call", "max_steps": "max_steps reached", "budget": "max_tokens_total spent",
           "no_action": "a reply without a tool call", "cut": "a reply cut by max_tokens"}


@dataclass
class Trajectory:
    """One attempt: the chat ``messages``, per-step records, how it ``ended``, the tokens ``used``, the verdict."""

    attempt: int
    tools: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    ended: str = "max_steps"
    used: int = 0
    verdict: Verdict | None = None
    lineage: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.verdict is not None and self.verdict.passed

    @property
    def reason(self) -> str:
        """The verdict's reason, saying how the trajectory stopped when it was not by the finish call."""
        assert self.verdict is not None
        if self.verdict.passed or self.ended == "finish":
            return self.verdict.reason
        return f"{self.verdict.reason} (stopped by {ENDINGS[self.ended]})"

    def summary(self) -> dict[str, Any]:
        assert self.verdict is not None
        return {"attempt": self.attempt, "passed": self.verdict.passed, "reason": self.reason, "ended": self.ended,
                "steps": len(self.steps), "tokens": self.used}


class AgentLoop(ModelStep):
    """Runs ``attempts`` ReAct trajectories per row in ``environment`` (a name from
    :func:`~synthloom.envs.agent_env.agent_environments`, built with ``environment_options``) on the task in
    ``task_column`` (an object the environment understands, e.g. ``{"database", "question", "reference_sql"}``).

    Each step asks the model with the session's tools (plus the ``finish_tool``, one ``answer`` argument, when the
    environment does not declare it) and ``tool_choice`` (``auto``; ``required`` for models that call tools only when
    forced, such as the embedded one); every call is checked against its tool's schema (a bad call becomes an
    observation saying what was wrong) and executed through the session in the sandbox. A trajectory ends at the
    finish call, after ``max_steps`` steps, when ``max_tokens_total`` (prompt + completion tokens over its calls) is
    spent, or when the model answers without a call; then the environment checks it.

    ``emit: kept`` — one row per passing attempt (``task``, ``messages``, ``steps`` (per step: ``calls``,
    ``results``, ``seconds``, ``action_seconds``, ``usage``), ``verdict``, ``attempt``, ``environment``, ``ended``,
    ``tools``, ``attempts``); rejected (with the verdicts' reasons) when none passed. ``emit: pairs`` — rows pairing a
    passing with a failing attempt of the same task (``prompt``, ``prompt_messages``, ``chosen``, ``rejected`` (the
    messages after the prompt), their verdicts and attempts); rejected when there is no such pair."""

    type_name = "agent_loop"
    runtime_options = ("workers",)
    default_sampling = {"temperature": 0.7, "max_tokens": 512}

    def __init__(self, name: str, *, environment: str, environment_options: dict[str, Any] | None = None,
                 task_column: str = "task", system: str | None = None, user: str | None = None, max_steps: int = 10,
                 max_tokens_total: int | None = None, attempts: int = 1, emit: str = "kept", finish_tool: str = "finish",
                 tool_choice: str = "auto", timeout: float = 10.0, memory_mb: int = 512, workers: int | None = None,
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        where = f"agent_loop {name!r}"
        for opt, v in (("max_steps", max_steps), ("attempts", attempts)):
            if int(v) < 1:
                raise ValueError(f"{where}: {opt} must be >= 1, not {v}")
        if max_tokens_total is not None and int(max_tokens_total) < 1:
            raise ValueError(f"{where}: max_tokens_total must be >= 1 (or left out for no budget), not {max_tokens_total}")
        if emit not in EMITS:
            raise ValueError(f"{where}: emit must be 'kept' (passing trajectories) or 'pairs' (passing vs failing), not {emit!r}")
        if emit == "pairs" and int(attempts) < 2:
            raise ValueError(f"{where}: emit: pairs needs attempts >= 2 (a passing and a failing attempt of one task)")
        if tool_choice not in TOOL_CHOICES:
            raise ValueError(f"{where}: tool_choice must be 'auto' or 'required' (for models that call tools only when forced, "
                             f"e.g. the embedded one), not {tool_choice!r}")
        try:
            finish_tool_of(finish_tool)
        except ValueError as exc:
            raise ValueError(f"{where}: finish_tool: {exc}") from None
        writes = ["task", "environment", "tools", "attempts"] + (
            ["messages", "steps", "verdict", "attempt", "ended"] if emit == "kept" else
            ["prompt", "prompt_messages", "chosen", "rejected", "chosen_verdict", "rejected_verdict", "chosen_attempt",
             "rejected_attempt", "pair_rule"])
        super().__init__(name, reads=[task_column], writes=writes, citations=[CITATION, *citations], **kwargs)
        try:
            self.env: AgentEnvironment = open_environment(environment, **(environment_options or {}))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        self.environment, self.task_column = environment, task_column
        self.max_steps, self.attempts, self.emit = int(max_steps), int(attempts), emit
        self.max_tokens_total = None if max_tokens_total is None else int(max_tokens_total)
        self.finish_name, self.tool_choice = finish_tool, tool_choice
        self.system = system if system is not None else self.load_template("agent_loop_system.jinja")
        self.user = user if user is not None else self.load_template("agent_loop_user.jinja")
        self.read_columns(self.system, self.user, not_columns={"task", "task_text", "instructions", "finish_tool", "environment"})
        self.executor = ToolExecutor(timeout=timeout, memory_mb=memory_mb, workers=workers)

    # -- a row ------------------------------------------------------------------------------------------------------
    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        task = record.get(self.task_column)
        if not isinstance(task, dict):
            raise ValueError(f"agent_loop {self.name!r}: column {self.task_column!r} must hold the task as an object "
                             f"(what environment {self.environment!r} expects), not {type(task).__name__}")
        runs = await asyncio.gather(*(self.run_attempt(record, task, a) for a in range(self.attempts)))
        summaries = [t.summary() for t in runs]
        passing, failing = [t for t in runs if t.passed], [t for t in runs if not t.passed]
        reasons = "; ".join(f"attempt {t.attempt + 1}: {t.reason}" for t in failing)
        base = {**user_columns(record), "task": task, "environment": self.environment, "attempts": summaries}
        if self.emit == "kept":
            if not passing:
                return Rejected(reasons if len(runs) > 1 else runs[0].reason, 0.0)
            rows = [{**base, "tools": t.tools, "messages": t.messages, "steps": t.steps, "verdict": t.verdict.to_dict(),  # type: ignore[union-attr]
                     "attempt": t.attempt, "ended": t.ended} for t in passing]
            return adopt_rows(record, rows[0] if len(rows) == 1 else rows, self.name, [e for t in passing for e in t.lineage])
        if not passing or not failing:
            why = f"no attempt passed ({reasons})" if not passing else f"all {len(runs)} attempts passed: no failing one to pair with"
            return Rejected(why, 0.0)
        pairs = list(zip(passing, failing))
        rows = [{**base, "tools": good.tools, "prompt": good.messages[1]["content"], "prompt_messages": good.messages[:2],
                 "chosen": good.messages[2:], "rejected": bad.messages[2:], "chosen_verdict": good.verdict.to_dict(),  # type: ignore[union-attr]
                 "rejected_verdict": bad.verdict.to_dict(), "chosen_attempt": good.attempt, "rejected_attempt": bad.attempt,  # type: ignore[union-attr]
                 "pair_rule": "passed vs failed (environment check)"} for good, bad in pairs]
        lineage = [e for good, bad in pairs for e in [*good.lineage, *bad.lineage]]
        return adopt_rows(record, rows[0] if len(rows) == 1 else rows, self.name, lineage)

    # -- one trajectory ---------------------------------------------------------------------------------------------
    def offered(self, session: AgentSession) -> tuple[list[Tool], bool]:
        """The tools offered in this session and whether the session itself handles the finish call."""
        tools = list(session.tools)
        handles_finish = any(t.name == self.finish_name for t in tools)
        return (tools if handles_finish else [*tools, finish_tool_of(self.finish_name)]), handles_finish

    def opening(self, record: dict[str, Any], task: dict[str, Any], session: AgentSession) -> list[dict[str, Any]]:
        view = {**user_columns(record), "task": task, "task_text": task_text(task), "finish_tool": self.finish_name,
                "instructions": getattr(session, "instructions", "") or "", "environment": self.environment}
        return [{"role": "system", "content": self.render(self.system, view).strip()},
                {"role": "user", "content": self.render(self.user, view).strip()}]

    async def run_attempt(self, record: dict[str, Any], task: dict[str, Any], attempt: int) -> Trajectory:
        session = await self.env.open(task, self.executor)
        tools, handles_finish = self.offered(session)
        by_name = {t.name: t for t in tools}
        traj = Trajectory(attempt, tools=[t.openai() for t in tools], messages=self.opening(record, task, session))
        for step in range(1, self.max_steps + 1):
            max_tokens = self.sampling.get("max_tokens")
            if self.max_tokens_total is not None:
                left = self.max_tokens_total - traj.used
                if left <= 0:
                    traj.ended = "budget"
                    break
                max_tokens = left if max_tokens is None else min(int(max_tokens), left)
            started = time.perf_counter()
            response, entry = await self.call(record, traj.messages, tools=traj.tools, tool_choice=self.tool_choice,
                                              salt=f"{attempt}:{step}", max_tokens=max_tokens,
                                              lineage={"attempt": attempt, "turn": step})
            traj.lineage.append(entry)
            traj.used += response.usage.total_tokens
            choice = response.choices[0] if response.choices else None
            calls = list(choice.tool_calls) if choice else []
            text = (choice.text or "").strip() if choice else ""
            record_step = {"calls": [c.to_dict() for c in calls], "results": [], "seconds": 0.0, "action_seconds": 0.0,
                           "usage": response.usage.to_dict()}
            traj.steps.append(record_step)
            if not calls:
                traj.messages.append({"role": "assistant", "content": text})
                traj.ended = "cut" if choice is not None and choice.finish_reason == "length" else "no_action"
                record_step["seconds"] = round(time.perf_counter() - started, 4)
                break
            traj.messages.append(assistant_message(calls, content=text or None))
            acted = time.perf_counter()
            results = await self.act(session, calls, by_name, handles_finish)
            record_step["action_seconds"] = round(time.perf_counter() - acted, 4)
            record_step["results"] = [r.to_dict() for r in results]
            for call, result in zip(calls, results):
                traj.messages.append(tool_message(call.id, self.observe(session, result)))
            record_step["seconds"] = round(time.perf_counter() - started, 4)
            if any(c.name == self.finish_name and r.ok for c, r in zip(calls, results)):
                traj.ended = "finish"
                break
        else:
            traj.ended = "max_steps"
        traj.verdict = await session.check()
        if traj.ended != "finish" and traj.verdict.passed:  # the task was done, but the agent never said so
            traj.verdict = Verdict(False, f"the environment's check passed but the agent never called {self.finish_name}",
                                   traj.verdict.details)
        return traj

    async def act(self, session: AgentSession, calls: list[ToolCall], tools: dict[str, Tool],
                  handles_finish: bool) -> list[CallResult]:
        """One result per call: a format problem as an ``error`` result (never executed), the finish call answered
        here unless the session handles it, every other call executed by the session (in one sandbox run)."""
        problems = {c.id: c.error or call_problem(c, tools) for c in calls}
        run = [c for c in calls if problems[c.id] is None and (c.name != self.finish_name or handles_finish)]
        done = {r.call_id: r for r in (await session.act(run) if run else [])}
        results = []
        for c in calls:
            if problems[c.id] is not None:
                results.append(CallResult(c.id, c.name, "error", None, f"invalid call: {problems[c.id]}"))
            elif c.id in done:
                results.append(done[c.id])
            elif c.name == self.finish_name and not handles_finish:
                results.append(CallResult(c.id, c.name, "ok", {"answer": c.arguments.get("answer")}))
            else:
                results.append(CallResult(c.id, c.name, "not_run", None, "the environment returned no result for this call"))
        return results

    @staticmethod
    def observe(session: AgentSession, result: CallResult) -> str:
        if result.status == "error" and (result.error or "").startswith("invalid call: "):
            return f"Error: {result.error[len('invalid call: '):]}. Fix the call and try again."  # type: ignore[index]
        return session.observation(result)

    def describe(self) -> dict[str, Any]:
        d = super().describe()  # an edited environment (tools, data) recomputes the trajectories
        version = getattr(self.env, "fingerprint", None)
        if callable(version):
            d["environment_version"] = version()
        return d

    async def aclose(self) -> None:
        self.executor.close()
