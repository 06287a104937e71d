"""The trusted test verdict of a code workspace: every test function is its own sandbox *harness run*.

The agent's ``run_tests`` tool runs the suite with the workspace's runner in the same jailed process as the
repository's code: fast, and good enough for what the agent observes, but code in the repository could forge that
report (exit early, patch the runner, print a fake one). The verdict that decides a trajectory (``check()``) and
the clean/buggy runs that decide which tests a bug breaks (``bugs.py``) do not use it. :func:`run_suite` runs each
test as a harness run of the sandbox (``SandboxPool.run(solution, harness={"kind": "assert", ...})``, see
``sandbox/_harness.py``):

* the *solution* program (``verdict_solution.py``, untrusted process) loads the workspace's modules from their text
  and exposes them as one plain dict, ``repo = {"inifile.parser": {"parse": <function>, ...}, ...}``;
* the *test* program (``verdict_harness.py``, trusted harness process) rebuilds those modules in the harness's
  ``sys.modules`` — functions and classes are RPC proxies, constants are values — runs the test file's text as the
  host gives it (the original, never the agent's copy) and calls the one test function.

The test passes only when that call returns in the harness. Values cross by value or as proxies whose equality is
identity, so an object whose ``__eq__`` always says True equals nothing; ``os._exit`` at import, patching the runner,
``sys.modules`` or builtins, or printing a report happen in the solution's process and cannot reach the verdict.
Only the host parses code here; nothing of the workspace runs on the host.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .repos import TESTS_DIR

HERE = Path(__file__).parent
#: seconds a harness run gets on top of the test's own limit (starting the row and the harness, loading the modules)
START_ALLOWANCE = 1.0
#: the module name the harness side runs under, and how its report of a test that did not pass ends: this prefix
#: and one JSON line (``WorkspaceTestFailed`` in verdict_harness.py)
HARNESS_MODULE = "synthloom_workspace_harness"
_OUTCOME = f"{HARNESS_MODULE}.WorkspaceTestFailed: "
_NOT_MODULES = {"setup", "conftest"}


class WorkspaceRunFailed(RuntimeError):
    """A test run in the sandbox did not report (the run ended, or the runner could not start)."""


@dataclass
class SuiteRun:
    """One run of a workspace's tests: each test id's ``outcomes`` (passed, failed, error, timeout, not_run),
    the ``messages`` of the tests that did not pass, and a ``summary`` line."""

    outcomes: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    summary: str = ""

    @property
    def passed(self) -> list[str]:
        return [t for t, o in self.outcomes.items() if o == "passed"]

    @property
    def not_passed(self) -> list[str]:
        return [t for t, o in self.outcomes.items() if o != "passed"]

    @staticmethod
    def from_value(value: Any) -> SuiteRun:
        """From the workspace runner's report (what the ``run_tests`` tool returns)."""
        if not isinstance(value, dict) or not isinstance(value.get("results"), list):
            raise WorkspaceRunFailed(f"the test runner returned no results ({str(value)[:200]})")
        run = SuiteRun(summary=str(value.get("summary") or ""))
        for entry in value["results"]:
            if isinstance(entry, dict) and isinstance(entry.get("test"), str):
                run.outcomes[entry["test"]] = str(entry.get("outcome"))
                if entry.get("outcome") != "passed":
                    run.messages[entry["test"]] = str(entry.get("message") or "")
        return run


def summarize(outcomes: Mapping[str, str]) -> str:
    """``"11 passed, 2 failed"``: counts per outcome, passed first."""
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return ", ".join(f"{n} {o}" for o, n in sorted(counts.items(), key=lambda item: item[0] != "passed")) or "no tests"


def discover(files: Mapping[str, str]) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """The ``(file, test)`` pairs of ``tests/test_*.py`` (top-level ``test*`` functions, read with :mod:`ast`, as
    the runner does) and the test files that cannot be read, with why."""
    pairs, problems = [], {}
    for path in sorted(p for p in files if re.fullmatch(rf"{TESTS_DIR}/test_\w+\.py", p)):
        try:
            tree = ast.parse(files[path], path)
        except (SyntaxError, ValueError) as exc:
            problems[path] = f"{type(exc).__name__}: {exc}"
            continue
        pairs += [(path, node.name) for node in tree.body
                  if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test")]
    return pairs, problems


def module_name(path: str) -> tuple[str, bool] | None:
    """``("pkg.mod", is_package)`` for a Python file outside ``tests/``, or None when it is no importable module."""
    if not path.endswith(".py") or path.startswith(f"{TESTS_DIR}/"):
        return None
    parts = path[:-3].split("/")
    package = parts[-1] == "__init__"
    if package:
        parts = parts[:-1]
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    return ".".join(parts), package


def module_roots(files: Mapping[str, str]) -> list[str]:
    """The top-level packages and modules of a repository (not the standard library's names, nor ``setup`` or
    ``conftest``): the names the harness accepts from the solution. Take them from the trusted files (the task's)."""
    roots = set()
    for path in files:
        named = module_name(path)
        if named is None:
            continue
        top = named[0].split(".")[0]
        if (named[1] or "." in named[0] or top not in _NOT_MODULES) and top not in sys.stdlib_module_names:
            roots.add(top)
    return sorted(roots)


@lru_cache(maxsize=2)
def _source(name: str) -> str:
    return (HERE / name).read_text(encoding="utf-8")


def solution_program(files: Mapping[str, str], roots: list[str]) -> str:
    """The solution side: the workspace's modules loaded from ``files``' text, those under ``roots`` imported and
    exposed as ``repo`` / ``repo_meta``."""
    sources: dict[str, tuple[str, str, bool]] = {}
    for path in sorted(files):
        named = module_name(path)
        if named is not None:
            sources[named[0]] = (path, files[path], named[1])
    exposed = sorted(n for n in sources if n.split(".")[0] in roots)
    return ("def _sl_load():\n    import types\n    loader = types.ModuleType('synthloom_workspace_loader')\n"
            f"    exec(compile({_source('verdict_solution.py')!r}, 'synthloom_workspace_loader.py', 'exec'), loader.__dict__)\n"
            f"    return loader.load_workspace({sources!r}, {exposed!r})\n\n\n"
            "repo, repo_meta = _sl_load()\ndel _sl_load\n")


#: finds the harness's globals without looking up a name the solution could have shadowed, then runs the
#: harness side in a namespace of its own (see verdict_harness.py)
_BOOTSTRAP = """for _sl_class in ().__class__.__base__.__subclasses__():
    if _sl_class.__name__ == "Remote" and "run_harness" in _sl_class.__init__.__globals__:
        _sl_harness = _sl_class.__init__.__globals__
        break
else:
    _sl_harness = {{}}
_sl_builtins = _sl_harness["builtins"]
_sl_side = {{"__builtins__": _sl_builtins, "__name__": {module!r}}}
_sl_builtins.exec(_sl_builtins.compile({prelude!r}, {filename!r}, "exec"), _sl_side)
_sl_side["run"](_sl_harness, repo, repo_meta, {spec!r})
"""


def harness_program(files: Mapping[str, str], path: str, test: str, roots: list[str]) -> str:
    """The harness side of one test: ``files[path]`` (the test file's text) run against the proxies, ``test`` called."""
    paths = sorted(p for p in files if module_name(p) is not None)
    spec = {"path": path, "source": files[path], "test": test, "roots": list(roots), "paths": paths}
    return _BOOTSTRAP.format(prelude=_source("verdict_harness.py"), spec=spec, module=HARNESS_MODULE,
                             filename=f"{HARNESS_MODULE}.py")


def outcome_of(result: Any, limit: float) -> tuple[str, str]:
    """``(outcome, message)`` of one harness run's :class:`~synthloom.sandbox.ExecResult`."""
    if result.status == "passed":
        return "passed", ""
    if result.status == "timeout":
        return "timeout", f"the test ran longer than {limit:g} s"
    verdict = (getattr(result, "extra", None) or {}).get("verdict")
    error = str(verdict.get("error") or "") if isinstance(verdict, dict) else ""
    last = next((line for line in reversed(error.splitlines()) if line.startswith(_OUTCOME)), None)
    if last is not None:
        try:
            reported = json.loads(last[len(_OUTCOME):])
        except ValueError:
            reported = None
        if isinstance(reported, dict) and reported.get("outcome") in ("failed", "error"):
            message = str(reported.get("message") or "")
            if result.status == "memory" and not message.startswith("MemoryError"):
                message = "MemoryError: " + message
            return str(reported["outcome"]), message
    if result.status == "memory":
        return "error", "MemoryError: the test ran out of memory"
    lines = [ln.strip() for ln in error.splitlines() if ln.strip()]
    why = lines[-1] if lines else (result.detail or result.status)
    return "error", f"the test run ended without a verdict ({result.status}: {why})"[:1200]


async def run_suite(executor: Any, files: Mapping[str, str], *, test_timeout: float = 2.0,
                    roots: list[str] | None = None) -> SuiteRun:
    """Run every test of ``files``' ``tests/test_*.py`` as its own harness run in ``executor``'s sandbox pool
    (concurrently; ``test_timeout`` seconds a test plus :data:`START_ALLOWANCE`). ``roots`` are the packages the
    harness takes from the solution (default: :func:`module_roots` of ``files``; pass the task's, which the agent
    did not write). The test files' text is used as given: pass the original tests."""
    pairs, problems = discover(files)
    roots = module_roots(files) if roots is None else list(roots)
    solution = solution_program(files, roots)
    limit = float(test_timeout) + START_ALLOWANCE
    jobs = [{"code": solution, "files": dict(files), "timeout": limit,
             "harness": {"kind": "assert", "test": harness_program(files, path, test, roots)}} for path, test in pairs]
    pool = executor.pool()
    results = await asyncio.to_thread(pool.run_many, jobs) if jobs else []
    run = SuiteRun()
    for (path, test), result in zip(pairs, results):
        outcome, message = outcome_of(result, limit)
        run.outcomes[f"{path}::{test}"] = outcome
        if outcome != "passed":
            run.messages[f"{path}::{test}"] = message
    for path, problem in problems.items():
        run.outcomes[path] = "error"
        run.messages[path] = f"cannot read the tests of {path}: {problem}"
    if not run.outcomes:
        raise WorkspaceRunFailed("the workspace has no test functions in tests/test_*.py")
    run.summary = summarize(run.outcomes)
    return run
