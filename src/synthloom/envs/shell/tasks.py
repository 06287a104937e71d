"""Shell tasks: their format, the bundled seed tasks, and the check that makes a task usable.

A task follows the OS tasks of AgentBench (Liu et al. 2023, "AgentBench: Evaluating LLMs as Agents",
arXiv:2308.03688) and InterCode-Bash (Yang et al. 2023, "InterCode: Standardizing and Benchmarking Interactive Coding
with Execution Feedback", arXiv:2306.14898): a ``setup`` that builds the work dir (``files``: relative path -> text,
then an optional bash ``script``), a natural-language ``instruction``, a reference ``solution`` (bash) and a
``checker`` (bash, run in the work dir after the trajectory; exit 0 = done) that judges the final state of the work
dir, never the trajectory's text. ``kind`` is one of :data:`KINDS`.

:func:`validate_task` runs it all in the sandbox: the setup must succeed, the checker must FAIL on the untouched
setup (else the task is trivial or its checker broken) and must PASS after the reference solution.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

KINDS = ("files", "text", "archives", "processes")
SEEDS_FILE = Path(__file__).with_name("seed_tasks.jsonl")
MAX_SCRIPT_CHARS = 4000
MAX_SETUP_CHARS = 60_000

#: the JSON schema of a task a model writes (setup files as a list of {path, content}: schemas cannot constrain keys)
TASK_SCHEMA = {
    "type": "object",
    "properties": {
        "instruction": {"type": "string", "minLength": 1, "maxLength": 600},
        "setup_files": {"type": "array", "maxItems": 8, "items": {
            "type": "object", "properties": {"path": {"type": "string", "minLength": 1, "maxLength": 80},
                                             "content": {"type": "string", "maxLength": 2000}},
            "required": ["path", "content"], "additionalProperties": False}},
        "setup_script": {"type": "string", "maxLength": 1000},
        "solution": {"type": "string", "minLength": 1, "maxLength": 1000},
        "checker": {"type": "string", "minLength": 1, "maxLength": 1000},
    },
    "required": ["instruction", "setup_files", "setup_script", "solution", "checker"],
    "additionalProperties": False,
}


def task_problem(task: Any) -> str | None:
    """Why ``task`` is not a shell task, or None."""
    if not isinstance(task, Mapping):
        return f"a shell task must be an object, not {type(task).__name__}"
    for key in ("instruction", "checker"):
        if not isinstance(task.get(key), str) or not task[key].strip():
            return f"a shell task needs a non-empty {key!r} (text)"
    if not isinstance(task.get("solution", ""), str):
        return "a shell task's 'solution' must be text (bash commands)"
    for key in ("checker", "solution"):
        if len(task.get(key) or "") > MAX_SCRIPT_CHARS:
            return f"a shell task's {key!r} is over {MAX_SCRIPT_CHARS} characters"
    setup = task.get("setup", {})
    if not isinstance(setup, Mapping):
        return "a shell task's 'setup' must be an object {files: {path: text}, script: text}"
    files = setup.get("files", {})
    if not isinstance(files, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        return "a shell task's setup 'files' must map relative paths to text"
    for path in files:
        parts = path.split("/")
        if not path or path.startswith("/") or ".." in parts or "" in parts:
            return f"setup file {path!r} must be a relative path inside the work dir, without '..'"
    if not isinstance(setup.get("script", ""), str):
        return "a shell task's setup 'script' must be text (bash)"
    if sum(len(v) for v in files.values()) + len(setup.get("script", "")) > MAX_SETUP_CHARS:
        return f"a shell task's setup is over {MAX_SETUP_CHARS} characters"
    if task.get("kind") is not None and task["kind"] not in KINDS:
        return f"a shell task's kind must be one of {', '.join(KINDS)}, not {task['kind']!r}"
    return None


def _relative(path: str) -> str:
    path = path.strip()
    while path.startswith("./"):
        path = path[2:]
    return path


def task_from_written(value: Mapping[str, Any], *, kind: str | None = None) -> dict[str, Any]:
    """A task in the bundled format from a model's reply that matched :data:`TASK_SCHEMA` (later setup files of the
    same path win)."""
    files = {_relative(str(f["path"])): str(f["content"]) for f in value.get("setup_files") or [] if isinstance(f, Mapping)}
    task = {"instruction": str(value.get("instruction", "")).strip(),
            "setup": {"files": files, "script": str(value.get("setup_script", ""))},
            "solution": str(value.get("solution", "")), "checker": str(value.get("checker", ""))}
    if kind is not None:
        task["kind"] = kind
    return task


def task_for_prompt(task: Mapping[str, Any]) -> dict[str, Any]:
    """A task in the shape of :data:`TASK_SCHEMA` (a few-shot example for the task writer)."""
    setup = task.get("setup") or {}
    return {"instruction": task["instruction"],
            "setup_files": [{"path": p, "content": c} for p, c in sorted((setup.get("files") or {}).items())],
            "setup_script": setup.get("script", ""), "solution": task.get("solution", ""), "checker": task["checker"]}


@lru_cache(maxsize=1)
def _seed_tasks() -> tuple[str, ...]:
    lines = SEEDS_FILE.read_text(encoding="utf-8").splitlines()
    out = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        task = json.loads(line)
        problem = task_problem(task)
        if problem or not task.get("id") or task.get("kind") not in KINDS:
            raise ValueError(f"{SEEDS_FILE} line {number}: {problem or 'a seed task needs an id and a kind'}")
        out.append(json.dumps(task, sort_keys=True))
    return tuple(out)


def seed_tasks(kinds: list[str] | tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """The bundled hand-written tasks (fresh copies), of ``kinds`` when given."""
    tasks = [json.loads(t) for t in _seed_tasks()]
    return [t for t in tasks if kinds is None or t["kind"] in kinds]


@dataclass
class TaskCheck:
    """The outcome of :func:`validate_task`: ``ok``, the ``reason`` when not, and the runs' exit codes and output."""

    ok: bool
    reason: str
    details: dict[str, Any]


def _brief(run: Mapping[str, Any]) -> str:
    text = (run.get("stderr") or run.get("stdout") or "").strip().splitlines()
    tail = f": {text[-1][:200]}" if text else ""
    return f"exit {run.get('exit_code')}{' (timed out)' if run.get('timed_out') else ''}{tail}"


async def validate_task(env: Any, task: Mapping[str, Any], executor: Any) -> TaskCheck:
    """Run ``task`` in the sandbox: setup, checker on the untouched work dir (must fail), reference solution, checker
    (must pass). ``env`` is a :class:`~synthloom.envs.shell.environment.ShellEnvironment`."""
    from .environment import ShellSetupFailed

    problem = task_problem(task)
    if problem:
        return TaskCheck(False, f"not a shell task: {problem}", {})
    if not str(task.get("solution") or "").strip():
        return TaskCheck(False, "the task has no reference solution to check it with", {})
    try:
        session = await env.open(dict(task), executor)
    except ShellSetupFailed as exc:
        return TaskCheck(False, str(exc), {})
    untouched = await session.check()
    details: dict[str, Any] = {"untouched": untouched.details.get("checker")}
    if untouched.details.get("checker") is None:
        return TaskCheck(False, f"the checker did not run on the untouched setup: {untouched.reason}", details)
    if untouched.passed:
        return TaskCheck(False, "the checker passes on the untouched setup: the task is trivial or its checker is broken",
                         details)
    solved = await session.run(str(task["solution"]))
    details["solution"] = {k: solved.get(k) for k in ("exit_code", "stdout", "stderr", "timed_out")}
    if solved.get("lost"):
        return TaskCheck(False, f"the reference solution's work dir could not be read back ({solved['stderr']})", details)
    verdict = await session.check()
    details["solved"] = verdict.details.get("checker")
    if not verdict.passed:
        checker = verdict.details.get("checker")
        said = f"checker {_brief(checker)}" if checker else verdict.reason
        return TaskCheck(False, f"the reference solution does not make the checker pass (solution {_brief(solved)}; {said})",
                         details)
    return TaskCheck(True, "valid", details)
