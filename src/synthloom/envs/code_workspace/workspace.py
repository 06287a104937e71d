"""The code workspace environment (``code_workspace``): an agent repairs a small repository with a bug.

SWE-smith in miniature (Yang et al. 2025, "SWE-smith: Scaling Data for Software Engineering Agents",
arXiv:2504.21798; the check is SWE-Gym's and SWE-bench's: Pan et al. 2024, "Training Software Engineering
Agents and Verifiers with SWE-Gym", arXiv:2412.21139). A task (what ``swe_bugs`` and ``swe_task`` make) holds
the buggy repository's ``files``, the tests the bug breaks (``fail_tests``) and the tests that still pass
(``pass_tests``). A session keeps the workspace's files as text; every step ships them with ``files=`` into ONE
fresh jail together with the tool module (``workspace_tools.py``) and the test runner, runs the agent's calls
there in order, and reads the files back with a hidden last call (``dump_workspace``), as ``envs/environment.py``
does with its database. The host never runs the repository's code, nor an agent's action.

The final check restores the original test files (an agent cannot pass by editing tests), runs every test as its
own sandbox harness run (``verdict.py``: the repository's code in the untrusted solution process, the original test
in the trusted harness process, which alone decides) and passes only when every ``fail_tests`` test now passes and
no ``pass_tests`` test broke. The agent's ``run_tests`` tool keeps the fast in-process runner: its report is only
an observation, which the verdict never trusts.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from ...llm.tools import ToolCall
from ...tools.executor import CallResult, Invocation
from ...tools.spec import Tool, ToolModule, tools_from_module_source
from ...tools.validate import call_problem
from ..agent_env import OBSERVATION_LIMIT, Verdict, clip
from .repos import MAX_FILE_CHARS, MAX_TOTAL_CHARS, is_test_file
from .verdict import SuiteRun, WorkspaceRunFailed, module_roots, run_suite

HERE = Path(__file__).parent
MODULE_NAME = "code_workspace_tools"
DUMP_ENTRY = "dump_workspace"
DUMP_CALL_ID = "workspace_state"
RUN_TESTS = "run_tests"
EDIT_TOOLS = ("replace_in_file",)
RUNNER_PATH = ".synthloom/runner.py"
CONFIG_PATH = ".synthloom/config.json"
RUN_MARGIN = 1.0  # seconds of a sandbox run kept for starting up and reading the files back
PATCH_LIMIT = 20_000
INSTRUCTIONS = ("You are working in a copy of the Python repository{repo}. list_files shows its files; view_file, search "
                "and replace_in_file read and edit them; run_tests runs its tests in a sandbox. Find the cause of the "
                "problem the user reports, fix it in the library's code and check the fix with run_tests. The original "
                "test files are restored before your fix is checked: fix the code, not the tests.")


@lru_cache(maxsize=1)
def workspace_module() -> tuple[ToolModule, tuple[Tool, ...]]:
    """The sandbox-side tool module and the tools offered to an agent (all but the hidden dump)."""
    source = (HERE / "workspace_tools.py").read_text(encoding="utf-8")
    tools = tools_from_module_source(MODULE_NAME, source, category="code_workspace")
    return tools[0].module, tuple(t for t in tools if t.name != DUMP_ENTRY)


@lru_cache(maxsize=1)
def runner_source() -> str:
    return (HERE / "runner.py").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def verdict_sources() -> str:
    return "\x1f".join((HERE / name).read_text(encoding="utf-8")
                        for name in ("verdict.py", "verdict_solution.py", "verdict_harness.py"))


def run_budget(executor: Any) -> float:
    """Seconds of one sandbox run the workspace's test runs may use (the executor's limit minus a margin)."""
    return max(0.5, float(getattr(executor, "timeout", 5.0)) - RUN_MARGIN)


def jail_files(files: Mapping[str, str], *, executor: Any, test_timeout: float) -> dict[str, str]:
    """What a run writes to the jail's work dir: the workspace, the runner and the run's configuration."""
    config = {"test_timeout": float(test_timeout), "run_budget": run_budget(executor),
              "max_file_chars": MAX_FILE_CHARS, "max_total_chars": MAX_TOTAL_CHARS}
    return {**files, RUNNER_PATH: runner_source(), CONFIG_PATH: json.dumps(config)}


async def observe_suite(executor: Any, files: Mapping[str, str], *, test_timeout: float = 2.0, selection: str = "") -> SuiteRun:
    """Run ``files``' tests (all, or ``selection``) with the workspace's runner in one sandbox run of ``executor``, as
    the agent's ``run_tests`` does: an observation, forgeable by the repository's code; verdicts use :func:`run_suite`."""
    module, _ = workspace_module()
    results = await executor.arun([module], [Invocation("suite", RUN_TESTS, {"selection": selection})],
                                  files=jail_files(files, executor=executor, test_timeout=test_timeout))
    result = results[0]
    if not result.ok:
        raise WorkspaceRunFailed(f"{result.status}: {result.error or 'no detail'}")
    return SuiteRun.from_value(result.value)


def patch_text(before: Mapping[str, str], after: Mapping[str, str], *, limit: int = PATCH_LIMIT) -> str:
    """A unified diff from ``before`` to ``after`` (files outside ``tests/``), cut to ``limit`` characters."""
    chunks = []
    for path in sorted(set(before) | set(after)):
        if is_test_file(path) or before.get(path) == after.get(path):
            continue
        old, new = before.get(path), after.get(path)
        chunks += difflib.unified_diff((old or "").splitlines(keepends=True), (new or "").splitlines(keepends=True),
                                       fromfile=f"a/{path}" if old is not None else "/dev/null",
                                       tofile=f"b/{path}" if new is not None else "/dev/null")
    text = "".join(c if c.endswith("\n") else c + "\n" for c in chunks)
    return text if len(text) <= limit else text[:limit] + "\n[diff cut]\n"


def _names(tests: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(tests[:limit])
    return shown + (f" and {len(tests) - limit} more" if len(tests) > limit else "")


def format_run_tests(value: Any) -> str:
    """The text an agent sees for a ``run_tests`` result: the summary, each test that did not pass with its
    message, then the tests that passed."""
    if not isinstance(value, dict):
        return str(value)
    lines = [str(value.get("summary") or "")]
    passed = []
    for entry in value.get("results") or []:
        if not isinstance(entry, dict):
            continue
        if entry.get("outcome") == "passed":
            passed.append(str(entry.get("test")))
            continue
        lines.append(f"{str(entry.get('outcome')).upper()} {entry.get('test')}")
        message = str(entry.get("message") or "").strip()
        if message:
            lines += ["    " + line for line in message.splitlines()]
    if passed:
        lines.append("passed: " + ", ".join(passed))
    return "\n".join(lines)


class CodeWorkspaceSession:
    """One trajectory's private copy of a buggy repository (see the module doc). ``files`` is its state."""

    def __init__(self, env: CodeWorkspaceEnvironment, task: Mapping[str, Any], executor: Any) -> None:
        self.env, self.executor = env, executor
        self.original: dict[str, str] = dict(task["files"])
        self.files: dict[str, str] = dict(task["files"])
        self.fail_tests: list[str] = list(task["fail_tests"])
        self.pass_tests: list[str] = list(task.get("pass_tests") or [])
        self.tools: list[Tool] = list(env.tools)
        named = task.get("repo")
        self.instructions = INSTRUCTIONS.format(repo=f" {named!r}" if isinstance(named, str) and named else "")
        self.lost_steps = 0

    def _problem(self, call: ToolCall) -> str | None:
        return call_problem(call, self.tools)

    async def act(self, calls: list[ToolCall]) -> list[CallResult]:
        """Run the valid ``calls`` in order in one jail on the workspace, then read the files back. An invalid call
        gets an ``error`` result and does not run. When the files cannot be read back (the step's run ended early,
        or a test grew a file past the size limit), the workspace stays as it was and this step's edits fail."""
        module, _ = workspace_module()
        problems = [self._problem(c) for c in calls]
        out: list[CallResult | None] = [None if p is None else CallResult(c.id, c.name, "error", None, p)
                                        for c, p in zip(calls, problems)]
        valid = [i for i, p in enumerate(problems) if p is None]
        if not valid:
            return [r for r in out if r is not None]
        invocations = [Invocation(calls[i].id, calls[i].name, dict(calls[i].arguments)) for i in valid]
        invocations.append(Invocation(DUMP_CALL_ID, DUMP_ENTRY, {"paths": sorted(self.files)}))
        results = await self.executor.arun([module], invocations,
                                           files=jail_files(self.files, executor=self.executor, test_timeout=self.env.test_timeout))
        done, dump = results[:-1], results[-1]
        files = dump.value if dump.ok else None
        if isinstance(files, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
            self.files = files
        else:
            self.lost_steps += 1
            why = dump.error or dump.status if not dump.ok else "the read-back was not a set of files"
            note = f"the workspace could not be read back after this step ({why}); its edits were undone"
            done = [CallResult(r.call_id, r.name, "error", None, note) if r.name in EDIT_TOOLS and r.ok else r for r in done]
        for i, r in zip(valid, done):
            out[i] = r
        return [r for r in out if r is not None]

    def observation(self, result: CallResult) -> str:
        """A result as the agent reads it: the tool's text (``run_tests``: summary, failures, passes), a file list,
        or ``Error: ...``; at most the environment's ``observation_limit`` characters."""
        if not result.ok:
            prefix = "Error" if result.status == "error" else f"Error ({result.status})"
            return clip(f"{prefix}: {result.error or 'no detail'}", self.env.observation_limit)
        value = result.value
        if result.name == RUN_TESTS:
            text = format_run_tests(value)
        elif isinstance(value, list):
            text = "\n".join(str(v) for v in value)
        else:
            text = value if isinstance(value, str) else str(value)
        return clip(text, self.env.observation_limit)

    def final_files(self) -> dict[str, str]:
        """The workspace as the check sees it: the agent's files with the original test files restored."""
        files = {p: t for p, t in self.files.items() if not is_test_file(p)}
        files.update({p: t for p, t in self.original.items() if is_test_file(p)})
        return files

    async def check(self) -> Verdict:
        """Run every test of the original test files as its own harness run in the sandbox (:func:`run_suite`):
        passed when every originally failing test passes and no originally passing test broke; ``details`` has each
        test's outcome, the failures' messages and the agent's patch."""
        restored = sorted(p for p in self.original if is_test_file(p) and self.files.get(p) != self.original[p])
        details: dict[str, Any] = {"patch": patch_text(self.original, self.files), "tests_restored": restored}
        try:
            run = await run_suite(self.executor, self.final_files(), test_timeout=self.env.test_timeout,
                                  roots=module_roots(self.original))
        except WorkspaceRunFailed as exc:
            return Verdict(False, f"the final test run did not complete ({exc})", details)
        still = [t for t in self.fail_tests if run.outcomes.get(t) != "passed"]
        broken = [t for t in self.pass_tests if run.outcomes.get(t) != "passed"]
        details.update({"tests": run.outcomes, "still_failing": still, "broken": broken,
                        "messages": {t: clip(run.messages.get(t) or "not run", 600) for t in [*still, *broken][:10]}})
        if not still and not broken:
            return Verdict(True, "passed", details)
        parts = ([f"tests still failing: {_names(still)}"] if still else []) + \
                ([f"passing tests broken: {_names(broken)}"] if broken else [])
        return Verdict(False, "; ".join(parts), details)


def task_problem(task: Any) -> str | None:
    """Why ``task`` is not a code-workspace task, or None."""
    if not isinstance(task, Mapping):
        return f"the task must be an object, not {type(task).__name__}"
    files = task.get("files")
    if not isinstance(files, Mapping) or not files or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        return "the task needs 'files' ({path: text}, the buggy repository)"
    if not any(is_test_file(p) for p in files):
        return "the task's files have no tests/ folder"
    for key in ("fail_tests", "pass_tests"):
        value = task.get(key, [] if key == "pass_tests" else None)
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            return f"the task needs {key!r} (a list of test ids such as 'tests/test_x.py::test_y')"
    if not task["fail_tests"]:
        return "the task's 'fail_tests' is empty: there is nothing to fix"
    return None


class CodeWorkspaceEnvironment:
    """The ``code_workspace`` agent environment: sessions over a task's buggy repository (see the module doc).
    ``test_timeout`` is each test's limit in seconds; ``observation_limit`` the longest observation shown."""

    name = "code_workspace"

    def __init__(self, *, test_timeout: float = 2.0, observation_limit: int = OBSERVATION_LIMIT) -> None:
        if float(test_timeout) <= 0:
            raise ValueError(f"code_workspace: test_timeout must be a positive number of seconds, not {test_timeout}")
        if int(observation_limit) < 200:
            raise ValueError(f"code_workspace: observation_limit must be at least 200 characters, not {observation_limit}")
        self.test_timeout, self.observation_limit = float(test_timeout), int(observation_limit)

    @property
    def tools(self) -> list[Tool]:
        return list(workspace_module()[1])

    def fingerprint(self) -> str:
        """A digest of what the sessions run (the tool module, the runner, the verdict's programs, the options): editing
        them recomputes."""
        text = "\x1f".join([workspace_module()[0].source, runner_source(), verdict_sources(), str(self.test_timeout),
                            str(self.observation_limit), INSTRUCTIONS])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    async def open(self, task: dict[str, Any], executor: Any) -> CodeWorkspaceSession:
        problem = task_problem(task)
        if problem:
            raise ValueError(f"code_workspace: {problem}; the swe_bugs and swe_task steps make such tasks")
        return CodeWorkspaceSession(self, task, executor)
