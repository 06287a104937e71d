"""Text-to-SQL tasks for the agent loop: questions written from a bundled database's schema at three difficulty
levels, each with a reference query that is checked by running it in the sandbox.

The question/SQL pairs are synthesised from the schema and sample rows, as in the execution-checked synthetic
text-to-SQL data of OmniSQL (Li et al. 2025, arXiv:2503.02240) and SQL-PaLM (Sun et al. 2023, arXiv:2306.00739);
the difficulty levels follow Spider's (Yu et al. 2018, arXiv:1809.08887) in spirit, reduced to what ``sqlglot`` can
check: ``easy`` one table, ``medium`` a join, ``hard`` grouping or nesting. Three steps:

* ``text_to_sql_tasks`` — a source of ``n`` (database, difficulty, focus table) triples, deterministic in ``seed``;
* ``text_to_sql_questions`` — the model writes ``{"question", "sql"}`` (JSON-schema constrained) from the schema,
  three sample rows per table (read in the sandbox) and the difficulty's rule;
* ``text_to_sql_reference`` — keeps a pair only when the SQL is one SELECT of the asked difficulty that runs in the
  sandbox and returns between 1 and ``max_rows`` rows; writes the agent-loop ``task``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from typing import Any

import xxhash

from ...envs.text_to_sql import DIFFICULTIES, DIFFICULTY_RULES, TextToSqlEnvironment, databases, difficulty, parse_select, schema_text
from ...envs.text_to_sql.environment import DATABASE_FILE
from ...pipeline.model_step import ModelStep, RowError
from ...pipeline.step import DrawnSource, Rejected, StreamStep
from ...records import adopt_rows
from ...tools.executor import Invocation, ToolExecutor

CITATION = "Li et al. 2025, OmniSQL: Synthesizing High-quality Text-to-SQL Data at Scale, arXiv:2503.02240"
SPIDER = "Yu et al. 2018, Spider: A Large-Scale Human-Labeled Dataset for Complex and Cross-Domain Semantic Parsing " \
         "and Text-to-SQL Task, arXiv:1809.08887"
QUESTION_SCHEMA = {"type": "object", "properties": {"question": {"type": "string", "minLength": 1},
                                                    "sql": {"type": "string", "minLength": 1}},
                   "required": ["question", "sql"], "additionalProperties": False}


def _tables(database: str) -> list[str]:
    return [line.split()[2] for line in schema_text(database).splitlines() if line.startswith("CREATE TABLE")]


def _check_names(where: str, chosen: Iterable[str], known: Iterable[str], what: str) -> list[str]:
    chosen, known = list(chosen), list(known)
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise ValueError(f"{where}: unknown {what} {unknown[0]!r}; use some of {', '.join(known)}")
    if not chosen:
        raise ValueError(f"{where}: give at least one {what}")
    return chosen


def _bundled() -> list[str]:
    return databases()


class TextToSqlTasks(DrawnSource):
    """Source of ``n`` question-writing tasks: ``database`` (cycling through ``databases``), ``difficulty``
    (cycling through ``difficulties``, each database meeting each level) and a ``focus`` table to start from (drawn
    from the database's tables). Deterministic in ``seed``."""

    type_name = "text_to_sql_tasks"
    columns = ("database", "difficulty", "focus")

    def __init__(self, name: str, *, n: int = 30, databases: list[str] | None = None, difficulties: list[str] | None = None,
                 seed: int = 0, citations: Iterable[str] = ()) -> None:
        super().__init__(name, citations=[CITATION, SPIDER, *citations])
        where = f"text_to_sql_tasks {name!r}"
        if int(n) < 0:
            raise ValueError(f"{where}: n must be >= 0, not {n}")
        self.databases = _check_names(where, databases or _bundled(), _bundled(), "database")
        self.difficulties = _check_names(where, difficulties or DIFFICULTIES, DIFFICULTIES, "difficulty")
        self.n, self.seed = int(n), int(seed)

    def draw(self, index: int) -> dict[str, Any]:
        database = self.databases[index % len(self.databases)]
        level = self.difficulties[(index // len(self.databases)) % len(self.difficulties)]
        rng = random.Random(xxhash.xxh3_64_intdigest(f"{self.seed}\x1f{index}\x1ftext-to-sql".encode()))
        return {"database": database, "difficulty": level, "focus": rng.choice(_tables(database))}

    def fingerprint(self) -> str:
        return xxhash.xxh3_64_hexdigest(json.dumps([schema_text(d) for d in self.databases]).encode())


class TextToSqlQuestions(ModelStep):
    """Writes one question and its reference SQL per row (``database``, ``difficulty``, ``focus``) from the
    database's schema and ``sample_rows`` rows of each table (read in the sandbox), as a JSON object
    ``{"question", "sql"}`` (constrained by a JSON schema). Writes ``question`` and ``reference_sql``."""

    type_name = "text_to_sql_questions"
    default_sampling = {"temperature": 0.8, "max_tokens": 400}

    def __init__(self, name: str, *, sample_rows: int = 3, template: str | None = None, timeout: float = 10.0,
                 memory_mb: int = 512, citations: Iterable[str] = (), **kwargs: Any) -> None:
        if not 0 <= int(sample_rows) <= 20:
            raise ValueError(f"text_to_sql_questions {name!r}: sample_rows must be between 0 and 20, not {sample_rows}")
        super().__init__(name, reads=["database", "difficulty", "focus"], writes=["question", "reference_sql"],
                         citations=[CITATION, SPIDER, *citations], **kwargs)
        self.sample_rows = int(sample_rows)
        self.template = template if template is not None else self.load_template("text_to_sql_question.jinja")
        self.read_columns(self.template, not_columns={"schema", "samples", "rule"})
        self.env = TextToSqlEnvironment()
        self.executor = ToolExecutor(timeout=timeout, memory_mb=memory_mb, workers=1)
        self._samples: dict[str, str] = {}

    async def samples(self, database: str) -> str:
        """A few rows of each table, as ``table: columns / rows`` text (read once per database, in the sandbox)."""
        if self.sample_rows == 0:
            return ""
        if database not in self._samples:
            tables = _tables(database)
            calls = [Invocation(t, "sample_rows", {"table": t, "limit": self.sample_rows}) for t in tables]
            results = await self.executor.arun(self.env.tools, calls, files={DATABASE_FILE: database})
            failed = [r for r in results if not r.ok]
            if failed:
                raise RuntimeError(f"text_to_sql_questions: reading sample rows of {database!r} failed ({failed[0].error})")
            self._samples[database] = "\n\n".join(
                f"{t}:\n" + "\n".join(" | ".join(map(str, row)) for row in [r.value["columns"], *r.value["rows"]])
                for t, r in zip(tables, results))
        return self._samples[database]

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        database, level = str(record.get("database")), str(record.get("difficulty"))
        if database not in databases() or level not in DIFFICULTIES:
            raise ValueError(f"text_to_sql_questions {self.name!r}: the row needs a bundled 'database' ({', '.join(databases())}) "
                             f"and a 'difficulty' ({', '.join(DIFFICULTIES)}), not {database!r} and {level!r}")
        view = {**record, "schema": schema_text(database), "samples": await self.samples(database),
                "rule": DIFFICULTY_RULES[level]}
        response, entry = await self.call(record, self.render(self.template, view), json_schema=QUESTION_SCHEMA)
        value = response.parsed
        if not isinstance(value, dict):
            raise RowError("the question writer's reply is not a JSON object", raw_text=response.text)
        question, sql = str(value.get("question", "")).strip(), str(value.get("sql", "")).strip()
        if not question or not sql:
            return Rejected("the question writer left the question or the SQL empty", 0.0)
        return adopt_rows(record, {**record, "question": question, "reference_sql": sql}, self.name, [entry])

    def describe(self) -> dict[str, Any]:
        d = super().describe()  # an edited database changes the prompts' schema and samples
        d["environment"] = self.env.fingerprint()
        return d

    async def aclose(self) -> None:
        self.executor.close()


class TextToSqlReference(StreamStep):
    """Checks a question's ``reference_sql`` and makes the agent-loop ``task``. Rejected, with the reason, when the
    SQL is not one read-only SELECT (parsed with ``sqlglot``), is not of the row's ``difficulty`` (``check_difficulty``),
    fails when run in the sandbox, returns no rows, or more than ``max_rows``. Writes ``task`` (``{"database",
    "question", "difficulty", "reference_sql"}``) and ``reference_rows`` (its row count)."""

    type_name = "text_to_sql_reference"
    runtime_options = ("workers",)

    def __init__(self, name: str, *, check_difficulty: bool = True, max_rows: int = 200, timeout: float = 10.0,
                 memory_mb: int = 512, workers: int | None = None, citations: Iterable[str] = ()) -> None:
        if int(max_rows) < 1:
            raise ValueError(f"text_to_sql_reference {name!r}: max_rows must be >= 1, not {max_rows}")
        super().__init__(name, reads=["database", "question", "reference_sql", "difficulty"], writes=["task", "reference_rows"],
                         citations=[CITATION, *citations])
        self.check_difficulty, self.max_rows = bool(check_difficulty), int(max_rows)
        self.env = TextToSqlEnvironment()
        self.executor = ToolExecutor(timeout=timeout, memory_mb=memory_mb, workers=workers)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        database, sql, level = str(record.get("database")), str(record.get("reference_sql") or ""), record.get("difficulty")
        if database not in databases():
            raise ValueError(f"text_to_sql_reference {self.name!r}: unknown database {database!r} ({', '.join(databases())})")
        try:
            query = parse_select(sql)
        except ValueError as exc:
            return Rejected(f"the reference SQL is refused: {exc}", 0.0)
        if self.check_difficulty and level in DIFFICULTIES and difficulty(query) != level:
            return Rejected(f"the reference SQL is {difficulty(query)}, not {level} ({level}: {DIFFICULTY_RULES[level]})", 0.0)
        sets = await self.env.result_sets(self.executor, database, [sql])
        if sets.errors[0] is not None:
            return Rejected(f"the reference SQL fails in the sandbox: {sets.errors[0]}", 0.0)
        result = sets.values[0] or {}
        count = int(result.get("row_count") or 0)
        if count == 0:
            return Rejected("the reference SQL returns no rows", 0.0)
        if count > self.max_rows:
            return Rejected(f"the reference SQL returns {count} rows, more than max_rows={self.max_rows}", 0.0)
        task = {"database": database, "question": str(record.get("question") or ""), "difficulty": level, "reference_sql": sql}
        return [{**record, "task": task, "reference_rows": count}]

    def describe(self) -> dict[str, Any]:
        d = super().describe()  # an edited database or tool module recomputes the checks
        d["environment"] = self.env.fingerprint()
        return d

    async def aclose(self) -> None:
        self.executor.close()
