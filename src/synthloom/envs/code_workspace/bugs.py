"""Bugs injected into a repository, and the test run that decides whether one is kept (SWE-smith's validation).

Yang et al. 2025, "SWE-smith: Scaling Data for Software Engineering Agents", arXiv:2504.21798, make task
instances by changing a working repository (procedural AST modifications, LM rewrites of one function, ...) and
keep a change only when it breaks at least one test that passed before; the broken tests are the instance's
FAIL_TO_PASS, the tests that still pass its PASS_TO_PASS. Here:

* :func:`mutation_candidates`: first-order mutants (``methods/code/mutants.py``, made as text edits by
  :func:`~synthloom.methods.code.mutants.local_mutants`, so nothing but the mutated operator changes);
* :func:`function_sites` / :func:`splice_function`: an LLM's rewrite of one function put in place of the original
  (parsed on the host, never run there);
* :func:`judge_bug`: kept when some test that passed on the clean repository now fails (a test that now hangs or
  runs out of memory drops the candidate: it would stall every agent run), with the failing and still-passing
  tests recorded.
"""

from __future__ import annotations

import ast
import random
import re
import textwrap
from dataclasses import dataclass, field
from typing import Any

from ...methods.code.mutants import local_mutants
from .repos import Repo
from .verdict import SuiteRun, WorkspaceRunFailed, run_suite

BUG_KINDS = ("mutation", "rewrite")


@dataclass
class BugCandidate:
    """A changed copy of a repository: ``files`` is the whole buggy workspace, ``file`` the module changed,
    ``kind`` ``mutation`` or ``rewrite``, ``description`` what changed (``line 12: < -> <=``, or the rewritten
    function), ``function`` the function rewritten, ``explanation`` the model's account of its bug."""

    kind: str
    file: str
    description: str
    files: dict[str, str]
    function: str | None = None
    explanation: str = ""

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "file": self.file, "description": self.description, "function": self.function,
                "explanation": self.explanation}


@dataclass
class BugCheck:
    """Whether a candidate is kept, why not (one line) and, when kept, the tests it breaks (``fail_tests``), those
    still passing (``pass_tests``) and the broken tests' failure messages."""

    kept: bool
    reason: str
    fail_tests: list[str] = field(default_factory=list)
    pass_tests: list[str] = field(default_factory=list)
    messages: dict[str, str] = field(default_factory=dict)


def mutation_candidates(repo: Repo, *, rng: random.Random, limit: int | None = None) -> list[BugCandidate]:
    """Every first-order mutant of the repository's modules (``__init__.py`` files aside), in an order shuffled by
    ``rng``, at most ``limit`` of them."""
    candidates = []
    for path in repo.source_files:
        if path.endswith("__init__.py"):
            continue
        for mutant in local_mutants(repo.files[path], limit=None):
            candidates.append(BugCandidate("mutation", path, mutant.description, {**repo.files, path: mutant.code}))
    rng.shuffle(candidates)
    return candidates if limit is None else candidates[:limit]


@dataclass(frozen=True)
class FunctionSite:
    """A function (or method) of a module: its ``file``, ``name``, ``qualname`` (``Class.method``), its lines
    ``start``..``end`` (1-based, decorators included), its ``indent`` and ``source``."""

    file: str
    name: str
    qualname: str
    start: int
    end: int
    indent: str
    source: str


def function_sites(repo: Repo, *, min_lines: int = 4) -> list[FunctionSite]:
    """The functions and methods (not nested ones) of the repository's modules with at least ``min_lines`` lines:
    the places an LLM rewrite may put a bug."""
    sites = []
    for path in repo.source_files:
        text = repo.files[path]
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        lines = text.splitlines(keepends=True)
        scopes = [(node, "") for node in tree.body]
        scopes += [(item, f"{node.name}.") for node in tree.body if isinstance(node, ast.ClassDef) for item in node.body]
        for node, prefix in scopes:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            end = node.end_lineno or node.lineno
            if end - start + 1 < min_lines:
                continue
            first = lines[start - 1]
            sites.append(FunctionSite(path, node.name, prefix + node.name, start, end, first[: len(first) - len(first.lstrip())],
                                      "".join(lines[start - 1:end])))
    return sites


def extract_code(text: str) -> str:
    """The code of a reply: the first fenced block when there is one, else the text itself."""
    match = re.search(r"```[\w+-]*\n(.*?)```", text, flags=re.S)
    return (match.group(1) if match else text).strip("\n")


def splice_function(source: str, site: FunctionSite, code: str) -> tuple[str | None, str]:
    """``source`` with ``site``'s function replaced by the one definition in ``code`` (re-indented to its place),
    and ``""``; or None and why not (the code does not parse, defines no function of that name, or changes nothing)."""
    snippet = textwrap.dedent(extract_code(code))
    try:
        tree = ast.parse(snippet)
    except SyntaxError as exc:
        return None, f"the rewrite does not parse (line {exc.lineno}: {exc.msg})"
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == site.name]
    if len(defs) != 1:
        return None, f"the rewrite must define the function {site.name!r} once"
    node = defs[0]
    lines = snippet.splitlines()
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    body = lines[start - 1:node.end_lineno]
    new = "".join((site.indent + line if line.strip() else "") + "\n" for line in body)
    old_lines = source.splitlines(keepends=True)
    result = "".join(old_lines[:site.start - 1]) + new + "".join(old_lines[site.end:])
    try:
        changed = ast.dump(ast.parse(result)) != ast.dump(ast.parse(source))
    except SyntaxError as exc:
        return None, f"the rewritten module does not parse (line {exc.lineno}: {exc.msg})"
    if not changed:
        return None, "the rewrite changes nothing (same code as the original)"
    return result, ""


def rewrite_candidate(repo: Repo, site: FunctionSite, code: str, explanation: str = "") -> BugCandidate | str:
    """The candidate an LLM rewrite of ``site`` makes, or why it cannot be one."""
    text, why = splice_function(repo.files[site.file], site, code)
    if text is None:
        return why
    return BugCandidate("rewrite", site.file, f"rewrote {site.qualname}", {**repo.files, site.file: text},
                        function=site.qualname, explanation=explanation.strip())


def judge_bug(clean: SuiteRun, buggy: SuiteRun) -> BugCheck:
    """Kept when a test that passed on the clean repository fails on the buggy one (none of them hanging or running
    out of memory)."""
    before = clean.passed
    broken = [t for t in before if buggy.outcomes.get(t) != "passed"]
    if not broken:
        return BugCheck(False, "equivalent: every test that passed still passes")
    hung = [t for t in broken if buggy.outcomes.get(t) == "timeout"]
    if hung:
        return BugCheck(False, f"a test hangs on it ({hung[0]})")
    # which of a time or a memory limit a runaway loop hits first depends on the machine: drop both alike
    exhausted = [t for t in broken if buggy.messages.get(t, "").startswith("MemoryError")]
    if exhausted:
        return BugCheck(False, f"a test runs out of memory on it ({exhausted[0]})")
    return BugCheck(True, "kept", broken, [t for t in before if t not in broken],
                    {t: buggy.messages.get(t, "") for t in broken})


async def validate_bug(executor: Any, clean: SuiteRun, candidate: BugCandidate, *, test_timeout: float = 1.0) -> BugCheck:
    """Run the candidate's tests in the sandbox and :func:`judge_bug` them against the clean run."""
    try:
        buggy = await run_suite(executor, candidate.files, test_timeout=test_timeout)
    except WorkspaceRunFailed as exc:
        return BugCheck(False, f"its test run did not complete ({exc})")
    return judge_bug(clean, buggy)
