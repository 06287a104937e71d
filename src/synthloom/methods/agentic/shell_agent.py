"""The shell agent: trajectories of bash commands in a real sandbox, kept when the task's checker passes.

"Recording successful trajectories in real sandboxes like OS or Web" (AgentTrek, Xu et al. 2024, arXiv:2412.09605;
WebArena, Zhou et al. 2023, arXiv:2307.13854), in the OS setting of AgentBench (Liu et al. 2023, arXiv:2308.03688) and
InterCode-Bash (Yang et al. 2023, arXiv:2306.14898): each turn the model answers with one JSON action (constrained by
a JSON schema) — ``{"thought", "action": "run", "command"}`` or ``{"thought", "action": "finish", "command": ""}`` —
the command runs with bash in the task's work dir in the sandbox (``envs/shell``: state persists across the turns of
one episode, processes do not), and the model sees its exit code, stdout and stderr (cut). After ``finish`` or
``max_steps`` the task's checker judges the final work dir; the trajectory (every command and its output) is kept
only when the checker passes and the model said ``finish``. Saying the task is done, in any words, changes nothing.

Rerun = resume: every request is a pure function of the record, the attempt and the turn (seed salt
``"{attempt}:{turn}"``), and the observations are the sandbox's deterministic results, so a rerun replays the cache.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ...envs.agent_env import clip
from ...envs.shell import ShellEnvironment, ShellSetupFailed, format_run
from ...llm.structured import StructuredOutputError
from ...pipeline.model_step import ModelStep
from ...pipeline.step import Rejected
from ...records import adopt_rows, user_columns
from ...tools.executor import ToolExecutor
from .shell_tasks import AGENTBENCH, INTERCODE

AGENTTREK = "Xu et al. 2024, AgentTrek: Agent Trajectory Synthesis via Guiding Replay with Web Tutorials, arXiv:2412.09605"
WEBARENA = "Zhou et al. 2023, WebArena: A Realistic Web Environment for Building Autonomous Agents, arXiv:2307.13854"
ACTION_SCHEMA = {
    "type": "object",
    "properties": {"thought": {"type": "string", "maxLength": 300},
                   "action": {"type": "string", "enum": ["run", "finish"]},
                   "command": {"type": "string", "maxLength": 400}},
    "required": ["thought", "action", "command"],
    "additionalProperties": False,
}
ENDINGS = {"finish": "the finish action", "max_steps": "max_steps reached", "invalid": "a reply that is not a valid action"}


@dataclass
class Episode:
    """One attempt: chat ``messages``, the ``trajectory`` (per turn: thought, command, exit code, output), how it
    ``ended`` and the checker's verdict."""

    attempt: int
    messages: list[dict[str, Any]]
    trajectory: list[dict[str, Any]] = field(default_factory=list)
    ended: str = "max_steps"
    verdict: dict[str, Any] = field(default_factory=dict)
    lineage: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.verdict.get("passed"))

    def summary(self) -> dict[str, Any]:
        return {"attempt": self.attempt, "passed": self.passed, "reason": self.verdict.get("reason"), "ended": self.ended,
                "steps": len(self.trajectory)}


class ShellAgent(ModelStep):
    """Runs ``attempts`` episodes per row on the shell task in ``task_column`` (the bundled format: ``instruction``,
    ``setup``, ``checker``; see ``envs/shell/tasks.py``), each at most ``max_steps`` commands; ``command_timeout`` is
    one command's limit in seconds, ``observation_limit`` the characters of a result shown to the model.

    Writes one row per passing attempt: ``instruction``, ``messages`` (the chat), ``trajectory`` (per turn:
    ``thought``, ``command``, ``exit_code``, ``stdout``, ``stderr``, ``timed_out``), ``verdict`` (the checker's run
    and the final work dir's listing), ``ended``, ``attempt``, ``attempts`` (every attempt's summary). Rejected, with
    the checker's reason, when no attempt passed; a task whose setup fails is rejected as such."""

    type_name = "shell_agent"
    runtime_options = ("workers",)
    default_sampling = {"temperature": 0.7, "max_tokens": 300}

    def __init__(self, name: str, *, task_column: str = "task", max_steps: int = 8, attempts: int = 1,
                 command_timeout: float = 3.0, observation_limit: int = 2000, system: str | None = None,
                 timeout: float = 10.0, memory_mb: int = 512, workers: int | None = None, citations: Iterable[str] = (),
                 **kwargs: Any) -> None:
        where = f"shell_agent {name!r}"
        for opt, v in (("max_steps", max_steps), ("attempts", attempts)):
            if int(v) < 1:
                raise ValueError(f"{where}: {opt} must be >= 1, not {v}")
        super().__init__(name, reads=[task_column], writes=["instruction", "messages", "trajectory", "verdict", "ended",
                                                            "attempt", "attempts"],
                         citations=[AGENTTREK, WEBARENA, AGENTBENCH, INTERCODE, *citations], **kwargs)
        try:
            self.env = ShellEnvironment(command_timeout=command_timeout, observation_limit=observation_limit)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        self.task_column, self.max_steps, self.attempts = task_column, int(max_steps), int(attempts)
        self.system = system if system is not None else self.load_template("shell_agent_system.jinja")
        self.read_columns(self.system, not_columns={"instructions", "max_steps"})
        self.executor = ToolExecutor(timeout=timeout, memory_mb=memory_mb, workers=workers)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        task = record.get(self.task_column)
        if not isinstance(task, dict) or not isinstance(task.get("instruction"), str):
            raise ValueError(f"shell_agent {self.name!r}: column {self.task_column!r} must hold a shell task (an object with "
                             f"instruction, setup, checker), not {type(task).__name__}")
        try:
            episodes = await asyncio.gather(*(self.episode(record, task, a) for a in range(self.attempts)))
        except ShellSetupFailed as exc:
            return Rejected(str(exc), 0.0)
        passing = [e for e in episodes if e.passed]
        if not passing:
            reasons = [f"attempt {e.attempt + 1}: {e.verdict.get('reason')}" for e in episodes]
            return Rejected("; ".join(reasons) if len(episodes) > 1 else str(episodes[0].verdict.get("reason")), 0.0)
        base = {**user_columns(record), self.task_column: task, "instruction": task["instruction"],
                "attempts": [e.summary() for e in episodes]}
        rows = [{**base, "messages": e.messages, "trajectory": e.trajectory, "verdict": e.verdict, "ended": e.ended,
                 "attempt": e.attempt} for e in passing]
        return adopt_rows(record, rows[0] if len(rows) == 1 else rows, self.name, [x for e in passing for x in e.lineage])

    async def episode(self, record: dict[str, Any], task: dict[str, Any], attempt: int) -> Episode:
        session = await self.env.open(task, self.executor)
        view = {**user_columns(record), "instructions": session.instructions, "max_steps": self.max_steps}
        messages = [{"role": "system", "content": self.render(self.system, view).strip()},
                    {"role": "user", "content": task["instruction"]}]
        ep = Episode(attempt, messages)
        for turn in range(1, self.max_steps + 1):
            try:
                response, entry = await self.call(record, ep.messages, json_schema=ACTION_SCHEMA, salt=f"{attempt}:{turn}",
                                                  lineage={"attempt": attempt, "turn": turn})
            except StructuredOutputError:
                ep.ended = "invalid"
                break
            ep.lineage.append(entry)
            action = response.parsed
            ep.messages.append({"role": "assistant", "content": response.text})
            if action["action"] == "finish":
                ep.ended = "finish"
                break
            command = action["command"]
            if not command.strip():
                observation = "Error: the run action needs a command. Give one, or finish."
                ep.trajectory.append({"thought": action["thought"], "command": command, "exit_code": None, "stdout": "",
                                      "stderr": "no command", "timed_out": False})
            else:
                run = await session.run(command)
                observation = format_run(run)
                ep.trajectory.append({"thought": action["thought"], "command": command,
                                      **{k: run.get(k) for k in ("exit_code", "stdout", "stderr", "timed_out")}})
            ep.messages.append({"role": "user", "content": clip(observation, self.env.observation_limit)})
        verdict = await session.check()
        ep.verdict = verdict.to_dict()
        if not verdict.passed and ep.ended != "finish":
            ep.verdict["reason"] = f"{verdict.reason} (stopped by {ENDINGS[ep.ended]})"
        elif verdict.passed and ep.ended != "finish":
            ep.verdict.update(passed=False, reason=f"the checker passed but the agent never finished (stopped by {ENDINGS[ep.ended]})")
        return ep

    def describe(self) -> dict[str, Any]:
        d = super().describe()  # an edited jail module or environment option recomputes the episodes
        d["environment_version"] = self.env.fingerprint()
        return d

    async def aclose(self) -> None:
        self.executor.close()
