"""SWE-smith in miniature: bugs injected into small repositories, validated by their tests, turned into issues.

Yang et al. 2025, "SWE-smith: Scaling Data for Software Engineering Agents", arXiv:2504.21798: take a working
repository, change it (procedural AST modifications; an LM asked to modify one function so that it has a subtle
bug), keep a change only when it breaks a test that passed (the broken tests are FAIL_TO_PASS, the others
PASS_TO_PASS), have an LM write an issue from the failing tests that does not give the solution away, then run an
agent on the issue and keep the trajectories whose final repository passes the tests (as SWE-Gym does, Pan et al.
2024, arXiv:2412.21139; the agent loop is ``agent_loop`` over the ``code_workspace`` environment).

Steps: ``swe_repos`` (the repositories: bundled ones or folders), ``swe_bugs`` (candidates by mutation and by LLM
rewrite, each validated by running the suite in the sandbox), ``swe_task`` (the issue text and the task object the
``code_workspace`` environment opens). Every test run happens in the sandbox; the host only parses code.
"""

from __future__ import annotations

import ast
import asyncio
import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import xxhash

from ...envs.code_workspace.bugs import (
    BUG_KINDS,
    BugCandidate,
    FunctionSite,
    function_sites,
    mutation_candidates,
    rewrite_candidate,
    validate_bug,
)
from ...envs.code_workspace.repos import Repo, bundled_repos, load_repo
from ...envs.code_workspace.workspace import WorkspaceRunFailed, patch_text, run_suite
from ...llm.structured import StructuredOutputError
from ...pipeline.model_step import ModelStep, chat, reply_text
from ...pipeline.step import Rejected, SourceStep
from ...records import adopt_rows, user_columns
from ...tools.executor import ToolExecutor

CITATION = "Yang et al. 2025, SWE-smith: Scaling Data for Software Engineering Agents, arXiv:2504.21798"
SWE_GYM = "Pan et al. 2024, Training Software Engineering Agents and Verifiers with SWE-Gym, arXiv:2412.21139"
REWRITE_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["code", "explanation"],
                  "properties": {"code": {"type": "string", "description": "the whole rewritten function"},
                                 "explanation": {"type": "string", "description": "one sentence: what the bug is"}}}


def _repo(name: str, where: str) -> Repo:
    try:
        return load_repo(name)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{where}: {exc}") from None


class SweRepos(SourceStep):
    """One row per repository (``repo``: a bundled name, or a folder with a package and ``tests/test_*.py``);
    ``repos`` defaults to every bundled one (``inifile``, ``textstats``, ``dateranges``, ``minicalc``, ``ledger``)."""

    type_name = "swe_repos"
    columns = ("repo",)

    def __init__(self, name: str, *, repos: list[str] | None = None, citations: Iterable[str] = ()) -> None:
        super().__init__(name, citations=[CITATION, *citations])
        self.repos = list(repos) if repos else bundled_repos()
        self.loaded = [_repo(r, f"swe_repos {name!r}") for r in self.repos]

    def read(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        for repo in self.repos[:limit]:
            yield {"repo": repo}

    def count(self, limit: int | None = None) -> int | None:
        return len(self.repos[:limit])

    def fingerprint(self) -> str:
        h = xxhash.xxh3_64()
        for repo in self.loaded:
            for path in sorted(repo.files):
                h.update(f"{repo.name}\x1f{path}\x1f{repo.files[path]}\x1e".encode())
        return h.hexdigest()


class SweBugs(ModelStep):
    """Bug candidates for the repository in ``repo_column`` and the ones its tests catch (SWE-smith's validation).

    ``methods``: ``mutation`` (up to ``max_mutations`` first-order mutants of the package's modules, drawn at random
    per row: ``<`` ↔ ``<=``, ``+`` ↔ ``-``, ``and`` ↔ ``or``, ``not x`` → ``x``, a constant + 1) and ``rewrite``
    (``rewrites`` functions drawn at random, each given to the model, which answers — constrained to
    ``{"code", "explanation"}`` — with the function rewritten to hold a subtle bug; SWE-smith's "LM modify").
    The clean suite and each candidate's suite run in the sandbox (``test_timeout`` seconds a test); a candidate is
    kept when a test that passed now fails, dropped when none does (an equivalent mutant), when a test hangs or when
    the rewrite does not parse. Emits up to ``max_bugs`` kept bugs per repository (rewrites first), one row each:
    ``repo``, ``bug`` (kind, file, description, function, explanation), ``files`` (the buggy repository),
    ``fail_tests``, ``pass_tests``, ``failures`` (each failing test's message), ``patch`` (the fix, a unified diff)
    and ``bug_stats``. Rejected, with the counts, when no candidate is kept."""

    type_name = "swe_bugs"
    runtime_options = ("workers",)
    default_sampling = {"temperature": 0.8, "max_tokens": 768}

    def __init__(self, name: str, *, repo_column: str = "repo", methods: list[str] | None = None, max_mutations: int = 12,
                 rewrites: int = 2, max_bugs: int = 3, test_timeout: float = 1.0, template: str | None = None,
                 timeout: float = 10.0, memory_mb: int = 512, workers: int | None = None, citations: Iterable[str] = (),
                 **kwargs: Any) -> None:
        where = f"swe_bugs {name!r}"
        methods = list(BUG_KINDS) if methods is None else list(methods)
        unknown = [m for m in methods if m not in BUG_KINDS]
        if unknown or not methods:
            raise ValueError(f"{where}: methods must be a non-empty list of {', '.join(BUG_KINDS)}, not {methods}")
        for opt, v, low in (("max_mutations", max_mutations, 0), ("rewrites", rewrites, 0), ("max_bugs", max_bugs, 1)):
            if int(v) < low:
                raise ValueError(f"{where}: {opt} must be >= {low}, not {v}")
        if float(test_timeout) <= 0 or float(timeout) <= float(test_timeout):
            raise ValueError(f"{where}: test_timeout must be positive and below timeout (a sandbox run's limit), "
                             f"not {test_timeout} and {timeout}")
        super().__init__(name, reads=[repo_column], writes=["repo", "bug", "files", "fail_tests", "pass_tests", "failures",
                                                            "patch", "bug_stats"], citations=[CITATION, *citations], **kwargs)
        self.repo_column, self.methods = repo_column, methods
        self.max_mutations, self.rewrites, self.max_bugs = int(max_mutations), int(rewrites), int(max_bugs)
        self.test_timeout = float(test_timeout)
        self.template = template if template is not None else self.load_template("swe_bugs_rewrite.jinja")
        self.read_columns(self.template, not_columns={"repo", "file", "function", "name", "readme"})
        self.executor = ToolExecutor(timeout=timeout, memory_mb=memory_mb, workers=workers)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        name = record.get(self.repo_column)
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"swe_bugs {self.name!r}: column {self.repo_column!r} must name a repository")
        repo = _repo(name, f"swe_bugs {self.name!r}")
        try:
            clean = await run_suite(self.executor, repo.files, test_timeout=self.test_timeout)
        except WorkspaceRunFailed as exc:
            return Rejected(f"the clean repository's tests did not run ({exc})", 0.0)
        if not clean.passed:
            return Rejected(f"the clean repository passes no test ({clean.summary})", 0.0)
        rng = random.Random(self.seed_for(record, "bugs"))
        candidates: list[BugCandidate] = []
        dropped: Counter[str] = Counter()
        lineage: list[dict[str, Any]] = []
        if "rewrite" in self.methods and self.rewrites:
            sites = function_sites(repo)
            picks = rng.sample(sites, min(self.rewrites, len(sites)))
            for made, entry in await asyncio.gather(*(self.rewrite(record, repo, s, i) for i, s in enumerate(picks))):
                lineage += [entry] if entry else []
                if isinstance(made, str):
                    dropped[f"rewrite unusable ({made})"] += 1
                else:
                    candidates.append(made)
        if "mutation" in self.methods:
            candidates += mutation_candidates(repo, rng=rng, limit=self.max_mutations)
        checks = await asyncio.gather(*(validate_bug(self.executor, clean, c, test_timeout=self.test_timeout)
                                        for c in candidates))
        for check in checks:
            if not check.kept:
                dropped[check.reason.split(" (")[0]] += 1
        kept = [(c, k) for c, k in zip(candidates, checks) if k.kept]
        stats = {"candidates": len(candidates), "kept": len(kept), "dropped": dict(sorted(dropped.items())),
                 "clean": clean.summary}
        if not kept:
            why = ", ".join(f"{n} {r}" for r, n in sorted(dropped.items())) or "no candidate could be made"
            return Rejected(f"no candidate bug broke a passing test ({why})", 0.0)
        base = user_columns(record)
        rows = []
        for candidate, check in kept[: self.max_bugs]:
            digest = xxhash.xxh3_64_hexdigest(candidate.files[candidate.file].encode())[:8]
            rows.append({**base, "repo": repo.name, "bug": {"id": f"{repo.name}.{candidate.kind}.{digest}", **candidate.summary()},
                         "files": candidate.files, "fail_tests": check.fail_tests, "pass_tests": check.pass_tests,
                         "failures": check.messages, "patch": patch_text(candidate.files, repo.files), "bug_stats": stats})
        return adopt_rows(record, rows, self.name, lineage)

    async def rewrite(self, record: dict[str, Any], repo: Repo, site: FunctionSite,
                      index: int) -> tuple[BugCandidate | str, dict[str, Any] | None]:
        """Ask the model to put a subtle bug in ``site``'s function; the candidate, or why there is none."""
        view = {**user_columns(record), "repo": repo.name, "file": site.file, "name": site.qualname,
                "function": site.source.rstrip("\n"), "readme": repo.files.get("README.md", "")}
        try:
            response, entry = await self.call(record, self.render(self.template, view).strip(), json_schema=REWRITE_SCHEMA,
                                              salt=f"rewrite{index}", lineage={"function": site.qualname})
        except StructuredOutputError as exc:
            return f"no valid JSON: {str(exc)[:120]}", None
        value = response.parsed or {}
        if response.choices and response.choices[0].finish_reason == "length":
            return "the reply hit max_tokens", entry
        return rewrite_candidate(repo, site, str(value.get("code") or ""), str(value.get("explanation") or "")), entry

    async def aclose(self) -> None:
        self.executor.close()


def failing_test_sources(files: dict[str, str], tests: list[str], *, limit: int) -> str:
    """The source of each test in ``tests`` (ids ``tests/test_x.py::test_y``), at most ``limit`` characters in all."""
    parts, size = [], 0
    for test in tests:
        path, _, name = test.partition("::")
        text = files.get(path, "")
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        node = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)
        segment = ast.get_source_segment(text, node) if node is not None else None
        if not segment or size + len(segment) > limit:
            continue
        parts.append(f"# {path}\n{segment}")
        size += len(segment)
    return "\n\n".join(parts)


def fix_lines(patch: str, *, min_chars: int = 8) -> list[str]:
    """The code lines the fix (a unified diff) puts back, stripped: what an issue must not quote."""
    out = []
    for line in patch.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            code = line[1:].strip()
            if len(code) >= min_chars and not code.startswith(("#", '"""', "'''")):
                out.append(code)
    return out


class SweTask(ModelStep):
    """The issue an agent gets (SWE-smith's issue generation): the model reads the repository's README, the source
    of the failing tests and their failure messages (never the bug nor the fix) and writes an issue-style report
    into ``statement``; ``task`` is then the object the ``code_workspace`` environment opens (``statement``,
    ``repo``, ``files``, ``fail_tests``, ``pass_tests``). Rejected: a refusal, a reply cut by ``max_tokens``, one
    shorter than ``min_chars``, or one that quotes a line of the fix (it would give the solution away)."""

    type_name = "swe_task"
    default_sampling = {"temperature": 0.7, "max_tokens": 384}

    def __init__(self, name: str, *, template: str | None = None, system: str | None = None, max_context_chars: int = 3000,
                 max_failures: int = 3, min_chars: int = 40, citations: Iterable[str] = (), **kwargs: Any) -> None:
        where = f"swe_task {name!r}"
        for opt, v in (("max_context_chars", max_context_chars), ("max_failures", max_failures), ("min_chars", min_chars)):
            if int(v) < 1:
                raise ValueError(f"{where}: {opt} must be >= 1, not {v}")
        super().__init__(name, reads=["repo", "files", "fail_tests", "pass_tests", "failures", "patch"],
                         writes=["statement", "task"], citations=[CITATION, SWE_GYM, *citations], **kwargs)
        self.template = template if template is not None else self.load_template("swe_task.jinja")
        self.system = system if system is not None else self.load_template("swe_task_system.jinja")
        self.read_columns(self.template, self.system, not_columns={"readme", "tests", "failures_text"})
        self.max_context_chars, self.max_failures, self.min_chars = int(max_context_chars), int(max_failures), int(min_chars)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        files, failing = record.get("files"), record.get("fail_tests")
        if not isinstance(files, dict) or not isinstance(failing, list) or not failing:
            raise ValueError(f"swe_task {self.name!r}: the row needs 'files' and a non-empty 'fail_tests'; swe_bugs makes them")
        failures = record.get("failures") or {}
        shown = failing[: self.max_failures]
        failures_text = "\n\n".join(f"{t}\n{failures.get(t, '')}".strip() for t in shown)
        view = {**user_columns(record), "readme": files.get("README.md", ""), "failures_text": failures_text,
                "tests": failing_test_sources(files, shown, limit=self.max_context_chars)}
        messages = chat(self.render(self.template, view).strip(), system=self.render(self.system, view).strip() or None)
        response, lineage = await self.call(record, messages, salt="issue")
        if response.choices and response.choices[0].finish_reason == "length":
            return Rejected("the issue text hit max_tokens (finish_reason=length)", 0.0)
        text = reply_text(response, "issue text")
        if isinstance(text, Rejected):
            return text
        statement = text.strip()
        if len(statement) < self.min_chars:
            return Rejected(f"the issue text is too short ({len(statement)} characters, min_chars={self.min_chars})", 0.0)
        squashed = re.sub(r"\s+", " ", statement)
        leaked = [line for line in fix_lines(str(record.get("patch") or "")) if re.sub(r"\s+", " ", line) in squashed]
        if leaked:
            return Rejected(f"the issue text gives the fix away: it quotes {leaked[0]!r}", 0.0)
        task = {"statement": statement, "repo": record.get("repo"), "files": files, "fail_tests": list(failing),
                "pass_tests": list(record.get("pass_tests") or [])}
        return adopt_rows(record, {**record, "statement": statement, "task": task}, self.name, [lineage])
