"""The text-to-SQL agent environment: explore a bundled SQLite database with tools, submit one SELECT, and pass
when its result set equals the reference query's.

In the spirit of execution-checked text-to-SQL data (Spider's execution accuracy, Yu et al. 2018,
arXiv:1809.08887; agentic exploration as in ReAct, Yao et al. 2022, arXiv:2210.03629). A task is
``{"database", "question", "reference_sql", ...}``. Every tool call and both queries of the check run in the
sandbox (``tools.py`` over an in-memory copy of the database, read-only); the host only parses SQL with ``sqlglot``
(:mod:`.sql`) and compares the result sets the sandbox returned: as multisets of rows, or in order when the
reference has a top-level ``ORDER BY``. Identical normalised SQL passes without running anything.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash

from ...llm.tools import ToolCall
from ...tools.executor import CallResult, Invocation, ToolExecutor
from ...tools.spec import Tool, ToolModule, tools_from_module_source
from ..agent_env import OBSERVATION_LIMIT, Verdict, clip
from .sql import compare_results, is_ordered, normalise, parse_select

HERE = Path(__file__).parent
DATABASES_DIR = HERE / "databases"
DATABASE_FILE = "database.txt"
HIDDEN = ("result_set",)
FINISH = "finish"


def databases() -> list[str]:
    """The bundled databases' names."""
    return sorted(p.stem for p in DATABASES_DIR.glob("*.sql"))


def schema_text(database: str) -> str:
    """The ``CREATE TABLE`` statements of a bundled database (read from its script; nothing runs)."""
    if database not in databases():
        raise ValueError(f"unknown text-to-SQL database {database!r}: the bundled ones are {', '.join(databases())}")
    script = (DATABASES_DIR / f"{database}.sql").read_text(encoding="utf-8")
    return script[script.index("CREATE TABLE"): script.index("INSERT INTO")].strip()


def _module() -> ToolModule:
    return ToolModule("text_to_sql", (HERE / "tools.py").read_text(encoding="utf-8"), data_dir=str(DATABASES_DIR))


def _table(value: dict[str, Any]) -> str:
    lines = [" | ".join(map(str, value.get("columns") or []))]
    lines += [" | ".join("NULL" if v is None else str(v) for v in row) for row in value.get("rows") or []]
    count = value.get("row_count")
    if count is not None:
        shown = len(value.get("rows") or [])
        lines.append(f"({count} row{'s' if count != 1 else ''}{f', first {shown} shown' if shown < count else ''})")
    return "\n".join(lines)


@dataclass
class ResultSets:
    """The outcome of running queries for the checker: one ``result_set`` value (or error line) per query."""

    values: list[dict[str, Any] | None]
    errors: list[str | None]


class TextToSqlSession:
    """One trajectory over one database: the tools, the submitted SQL and the check."""

    def __init__(self, env: TextToSqlEnvironment, task: dict[str, Any], executor: ToolExecutor) -> None:
        self.env, self.task, self.executor = env, task, executor
        self.database = str(task["database"])
        self.tools: list[Tool] = env.tools
        self.submitted: str | None = None
        self.instructions = (f"You answer questions about the SQLite database '{self.database}' by writing one SQLite "
                             "SELECT query. Explore it with list_tables, describe_table, sample_rows and run_query (read-only), "
                             f"then submit the final query with {FINISH}(answer=<the SQL>).")

    async def act(self, calls: list[ToolCall]) -> list[CallResult]:
        results = await self.env.run(self.executor, self.database, [Invocation.of(c) for c in calls])
        for call, result in zip(calls, results):
            if call.name == FINISH and result.ok:
                self.submitted = str(call.arguments.get("answer"))
        return results

    def observation(self, result: CallResult) -> str:
        if not result.ok:
            return clip(f"Error ({result.status}): {result.error or 'no detail'}", self.env.observation_limit)
        value = result.value
        if isinstance(value, dict) and "columns" in value and "rows" in value:
            text = _table(value)
        elif isinstance(value, str):
            text = value
        else:
            text = json.dumps(value, ensure_ascii=False)
        return clip(text, self.env.observation_limit)

    async def check(self) -> Verdict:
        reference = str(self.task.get("reference_sql") or "")
        details: dict[str, Any] = {"database": self.database, "submitted": self.submitted, "reference_sql": reference}
        if self.submitted is None:
            return Verdict(False, f"no SQL was submitted (the agent never called {FINISH} with a query that runs)", details)
        return await self.env.judge(self.executor, self.database, self.submitted, reference, details)


class TextToSqlEnvironment:
    """Text-to-SQL over the bundled databases (``university``, ``retail``, ``flights``): see the module doc.
    ``observation_limit`` caps a tool message's characters."""

    name = "text_to_sql"

    def __init__(self, *, observation_limit: int = OBSERVATION_LIMIT) -> None:
        if int(observation_limit) < 200:
            raise ValueError(f"text_to_sql: observation_limit must be >= 200 characters, not {observation_limit}")
        self.observation_limit = int(observation_limit)
        self.module = _module()
        tools = tools_from_module_source(self.module.name, self.module.source, category="text_to_sql",
                                         data_dir=self.module.data_dir)
        self.tools = [t for t in tools if t.name not in HIDDEN]
        self.hidden = {t.name: t for t in tools if t.name in HIDDEN}

    def fingerprint(self) -> str:
        """A digest of the tool module and the databases (an edit to either changes it)."""
        parts = [self.module.source, *((DATABASES_DIR / f"{d}.sql").read_text(encoding="utf-8") for d in databases())]
        return xxhash.xxh3_64_hexdigest("\x1f".join(parts).encode())

    async def open(self, task: dict[str, Any], executor: ToolExecutor) -> TextToSqlSession:
        if not isinstance(task, dict) or not isinstance(task.get("database"), str):
            raise ValueError("text_to_sql: a task must be an object with 'database', 'question' and 'reference_sql'")
        if task["database"] not in databases():
            raise ValueError(f"text_to_sql: unknown database {task['database']!r} (bundled: {', '.join(databases())})")
        return TextToSqlSession(self, task, executor)

    async def run(self, executor: ToolExecutor, database: str, calls: Sequence[Invocation]) -> list[CallResult]:
        """``calls`` of the agent's tools in one sandbox run over ``database``."""
        return await executor.arun(self.tools, list(calls), files={DATABASE_FILE: database})

    async def result_sets(self, executor: ToolExecutor, database: str, queries: Sequence[str]) -> ResultSets:
        """Each query's full result (``{"columns", "rows", "row_count", "truncated"}``), run in one sandbox run."""
        calls = [Invocation(f"check_{i}", "result_set", {"sql": q}) for i, q in enumerate(queries)]
        results = await executor.arun(list(self.hidden.values()), calls, files={DATABASE_FILE: database})
        return ResultSets([r.value if r.ok else None for r in results],
                          [None if r.ok else f"{r.status}: {r.error or 'no detail'}" for r in results])

    async def judge(self, executor: ToolExecutor, database: str, submitted: str, reference: str,
                    details: dict[str, Any] | None = None) -> Verdict:
        """Whether ``submitted`` answers like ``reference`` on ``database`` (see the module doc)."""
        details = dict(details or {})
        try:
            ordered = is_ordered(parse_select(reference))
        except ValueError as exc:
            raise ValueError(f"text_to_sql: the task's reference_sql is not a usable query ({exc})") from None
        details["ordered"] = ordered
        try:
            parse_select(submitted)
        except ValueError as exc:
            return Verdict(False, f"the submitted SQL is refused: {exc}", details)
        if normalise(submitted) == normalise(reference):
            return Verdict(True, "passed", {**details, "match": "exact"})
        sets = await self.result_sets(executor, database, [reference, submitted])
        if sets.errors[0] is not None:
            raise ValueError(f"text_to_sql: the reference query fails on {database!r} ({sets.errors[0]}); "
                             "check the task's reference_sql")
        if sets.errors[1] is not None:
            return Verdict(False, f"the submitted SQL fails: {sets.errors[1]}", details)
        expected, got = sets.values
        assert expected is not None and got is not None
        passed, reason = compare_results(expected, got, ordered=ordered)
        details.update(match="result" if passed else None, expected_rows=expected["row_count"], got_rows=got["row_count"])
        return Verdict(passed, reason, details)
