"""The shell (OS) environment: an agent does a task in a work dir with bash, one command per step, in the sandbox.

AgentBench's OS tasks (Liu et al. 2023, arXiv:2308.03688) and InterCode-Bash (Yang et al. 2023, arXiv:2306.14898):
the agent issues shell commands, reads their exit code and output, and is judged by a checker script run on the
final state of the work dir. Every command runs in the project's bubblewrap sandbox (``synthloom.sandbox``, through
the :class:`~synthloom.tools.executor.ToolExecutor` an agent step owns): a fresh jail row per step with no network,
a read-only system, a private PID namespace, rlimits (processes, memory, file size) and a size-capped work dir.
The work dir persists across the steps of one episode as state carried by the host: a gzip'd tar (base64) shipped
into the row with ``files=`` and read back by hidden ``dump_chunk`` calls, as ``envs/environment.py`` does with its
database; processes do not outlive their step (``jail_tools.py`` kills every process a command started). The host
never runs a command, nor unpacks the archive (it only reads its headers to list the final files).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import stat
import tarfile
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from ...llm.tools import ToolCall
from ...tools.executor import CallResult, Invocation
from ...tools.spec import Tool, ToolModule, tools_from_module_source
from ...tools.validate import call_problem
from ..agent_env import Verdict, clip
from .tasks import task_problem

HERE = Path(__file__).parent
MODULE_NAME = "shell_jail_tools"
AGENT_TOOL = "run_command"
STATE_FILE, CONFIG_FILE = "shell_state.b64", "shell_config.json"
CHUNK = 60_000  # jail_tools.CHUNK
RUN_MARGIN = 1.5  # seconds of a sandbox run kept for unpacking and packing the work dir
INSTRUCTIONS = ("You are in a bash shell, in the work dir of a task (a Linux sandbox without network). Each command runs "
                "with bash in that directory; files you create stay there for your next commands, but processes end "
                "when their command ends. You see each command's exit code, stdout and stderr. Do the task by changing "
                "the files in the work dir; saying it is done does not do it.")


class ShellSetupFailed(ValueError):
    """A task's setup did not build its work dir (the setup script failed, or the sandbox run did not complete)."""


@lru_cache(maxsize=1)
def jail_module() -> tuple[ToolModule, Tool]:
    """The sandbox-side module and the one tool offered to an agent (``run_command``)."""
    source = (HERE / "jail_tools.py").read_text(encoding="utf-8")
    tools = tools_from_module_source(MODULE_NAME, source, category="shell")
    return tools[0].module, next(t for t in tools if t.name == AGENT_TOOL)


@lru_cache(maxsize=1)
def alternatives() -> dict[str, str]:
    """Commands of ``/usr/bin`` that are links through ``/etc/alternatives`` (``awk`` -> ``/usr/bin/mawk``), which the
    jail does not mount: the jail puts links to their real programs first on the PATH."""
    out = {}
    for entry in sorted(Path("/usr/bin").iterdir()):
        try:
            if entry.is_symlink() and os.readlink(entry).startswith("/etc/alternatives/"):
                real = os.path.realpath(entry)
                if real.startswith("/usr/") and os.path.isfile(real):
                    out[entry.name] = real
        except OSError:
            continue
    return out


def state_listing(state: str, *, limit: int = 200) -> list[dict[str, Any]]:
    """The entries of a work-dir state (path, type, octal mode, size), read from the archive's headers only."""
    if not state:
        return []
    out = []
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(state)), mode="r:gz") as tar:
        for member in tar.getmembers()[:limit]:
            kind = "dir" if member.isdir() else "link" if member.issym() else "file" if member.isreg() else "other"
            out.append({"path": member.name, "type": kind, "mode": oct(stat.S_IMODE(member.mode)), "size": member.size})
    return out


def format_run(run: Mapping[str, Any]) -> str:
    """A command's result as the agent reads it: exit code, then stdout and stderr (each marked when cut)."""
    head = f"exit code: {run.get('exit_code')}" + (" (timed out: the command was killed)" if run.get("timed_out") else "")
    parts = [head]
    for stream in ("stdout", "stderr"):
        text = str(run.get(stream) or "")
        if text or stream == "stdout":
            cut = " [cut]" if run.get(f"{stream}_truncated") else ""
            parts.append(f"{stream}:{cut}\n{text.rstrip(chr(10)) if text else '(empty)'}")
    return "\n".join(parts)


class ShellSession:
    """One episode's work dir (``state``: a base64 gzip'd tar) and the commands run on it (``history``)."""

    def __init__(self, env: ShellEnvironment, task: Mapping[str, Any], executor: Any, state: str) -> None:
        self.env, self.task, self.executor, self.state = env, dict(task), executor, state
        self.tools: list[Tool] = [jail_module()[1]]
        self.instructions = INSTRUCTIONS
        self.history: list[dict[str, Any]] = []
        self.lost_steps = 0

    async def run(self, command: str) -> dict[str, Any]:
        """Run one command on the work dir (in the sandbox) and keep the work dir it leaves; returns the command's
        ``exit_code``, ``stdout``, ``stderr``, ``timed_out`` (and ``lost``: the work dir could not be read back, so this
        command's changes were undone). The command and its result go to ``history``."""
        result, state, loss = await self.env.execute(self.executor, self.state,
                                                     [Invocation("cmd", AGENT_TOOL, {"command": command})])
        (call,) = result
        if call.ok and isinstance(call.value, dict):
            run = dict(call.value)
        else:
            run = {"exit_code": None, "stdout": "", "stderr": f"{call.status}: {call.error or 'no detail'}",
                   "timed_out": call.status == "timeout"}
        if state is None:
            self.lost_steps += 1
            run["lost"] = True
            run["stderr"] = (str(run.get("stderr") or "") + "\n[the work dir could not be read back after this command "
                             f"({loss}); its changes were undone]").lstrip("\n")
        else:
            self.state = state
        self.history.append({"command": command, **{k: run.get(k) for k in ("exit_code", "stdout", "stderr", "timed_out")},
                             **({"lost": True} if run.get("lost") else {})})
        return run

    async def act(self, calls: list[ToolCall]) -> list[CallResult]:
        """The agent-loop contract: each valid ``run_command`` call runs as :meth:`run`; others get an ``error``."""
        out = []
        for c in calls:
            problem = call_problem(c, self.tools)
            if problem is not None:
                out.append(CallResult(c.id, c.name, "error", None, problem))
                continue
            run = await self.run(str(c.arguments.get("command", "")))
            out.append(CallResult(c.id, c.name, "ok", run))
        return out

    def observation(self, result: CallResult) -> str:
        if not result.ok:
            return clip(f"Error: {result.error or result.status}", self.env.observation_limit)
        return clip(format_run(result.value), self.env.observation_limit)

    async def check(self) -> Verdict:
        """Run the task's checker on the work dir as it is now, in a fresh jail row: passed when it exits 0.
        ``details`` has the checker's run and the work dir's listing."""
        results, _, _ = await self.env.execute(self.executor, self.state,
                                            [Invocation("check", "run_check", {"script": self.task["checker"]})], dump=False)
        (call,) = results
        details: dict[str, Any] = {"files": state_listing(self.state)}
        if not call.ok or not isinstance(call.value, dict):
            return Verdict(False, f"the checker did not run ({call.status}: {call.error or 'no detail'})", details)
        run = {k: call.value.get(k) for k in ("exit_code", "stdout", "stderr", "timed_out")}
        details["checker"] = run
        if run["exit_code"] == 0 and not run["timed_out"]:
            return Verdict(True, "passed", details)
        said = (str(run.get("stderr") or "") or str(run.get("stdout") or "")).strip().splitlines()
        return Verdict(False, f"the checker failed (exit {run['exit_code']}{', timed out' if run['timed_out'] else ''})"
                       + (f": {said[-1][:200]}" if said else ""), details)


class ShellEnvironment:
    """The ``shell`` agent environment (see the module doc). ``command_timeout``: seconds one command may run (at most
    the executor's limit minus a margin); ``observation_limit``: characters of a result shown to the agent;
    ``output_limit``: bytes of stdout and of stderr kept per command; ``state_limit``: largest packed work dir
    (base64 characters) carried between steps."""

    name = "shell"

    def __init__(self, *, command_timeout: float = 3.0, observation_limit: int = 2000, output_limit: int = 4000,
                 state_limit: int = 400_000) -> None:
        if not float(command_timeout) > 0:
            raise ValueError(f"shell environment: command_timeout must be a positive number of seconds, not {command_timeout}")
        if int(observation_limit) < 200:
            raise ValueError(f"shell environment: observation_limit must be at least 200 characters, not {observation_limit}")
        if int(output_limit) < 1:
            raise ValueError(f"shell environment: output_limit must be at least 1 byte, not {output_limit}")
        if not CHUNK <= int(state_limit) <= 700_000:
            raise ValueError(f"shell environment: state_limit must be between {CHUNK} and 700000 characters, not {state_limit}")
        self.command_timeout, self.observation_limit = float(command_timeout), int(observation_limit)
        self.output_limit, self.state_limit = int(output_limit), int(state_limit)

    @property
    def tools(self) -> list[Tool]:
        return [jail_module()[1]]

    def fingerprint(self) -> str:
        text = "\x1f".join([jail_module()[0].source, INSTRUCTIONS, str(self.command_timeout), str(self.observation_limit),
                            str(self.output_limit), str(self.state_limit)])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def _config(self, executor: Any) -> str:
        budget = max(0.2, float(getattr(executor, "timeout", 5.0)) - RUN_MARGIN)
        pool = executor.pool() if hasattr(executor, "pool") else None
        return json.dumps({"command_timeout": min(self.command_timeout, budget), "output_limit": self.output_limit,
                           "state_limit": self.state_limit, "isolated": getattr(pool, "isolation", "") == "bwrap",
                           "commands": alternatives()})

    async def execute(self, executor: Any, state: str, invocations: list[Invocation], *,
                      dump: bool = True) -> tuple[list[CallResult], str | None, str]:
        """Run ``invocations`` (functions of ``jail_tools.py``) in order in ONE sandbox run on the work dir ``state``;
        returns their results, the work dir after them (None when it could not be read back) and why it was lost
        (``""`` when it was not). ``dump=False`` does not read the work dir back and returns ``state``."""
        module, _ = jail_module()
        chunks = -(-self.state_limit // CHUNK) if dump else 0
        calls = [*invocations, *(Invocation(f"dump:{i}", "dump_chunk", {"index": i}) for i in range(chunks))]
        results = await executor.arun([module], calls, files={STATE_FILE: state, CONFIG_FILE: self._config(executor)})
        done, dumps = results[: len(invocations)], results[len(invocations):]
        if not dump:
            return done, state, ""
        failed = [d for d in dumps if not d.ok or not isinstance(d.value, str)]
        if failed:
            return done, None, f"{failed[0].status}: {failed[0].error or 'not text'}"
        return done, "".join(d.value for d in dumps), ""

    async def open(self, task: dict[str, Any], executor: Any) -> ShellSession:
        """A session on a fresh work dir built by ``task``'s setup (in the sandbox). Raises ValueError for a task that
        is not a shell task, :class:`ShellSetupFailed` when the setup fails."""
        problem = task_problem(task)
        if problem:
            raise ValueError(f"shell environment: {problem}")
        setup = task.get("setup") or {}
        args = {"files": dict(setup.get("files") or {}), "script": str(setup.get("script") or "")}
        results, state, loss = await self.execute(executor, "", [Invocation("setup", "run_setup", args)])
        (call,) = results
        if not call.ok:
            raise ShellSetupFailed(f"the task's setup did not run ({call.status}: {call.error or 'no detail'})")
        if call.value.get("exit_code") != 0:
            said = (str(call.value.get("stderr") or "") or str(call.value.get("stdout") or "")).strip().splitlines()
            raise ShellSetupFailed(f"the task's setup script failed (exit {call.value.get('exit_code')})"
                                   + (f": {said[-1][:200]}" if said else ""))
        if state is None:
            raise ShellSetupFailed(f"the task's work dir could not be read back after its setup ({loss})")
        return ShellSession(self, task, executor, state)
