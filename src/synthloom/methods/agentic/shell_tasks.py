"""Shell tasks for the shell agent: the bundled seed tasks, tasks written by a model, and the check that keeps a task.

The task format is that of AgentBench's OS tasks (Liu et al. 2023, "AgentBench: Evaluating LLMs as Agents",
arXiv:2308.03688) and InterCode-Bash (Yang et al. 2023, "InterCode: Standardizing and Benchmarking Interactive Coding
with Execution Feedback", arXiv:2306.14898): setup, instruction, reference solution, checker script
(``envs/shell/tasks.py``). Three steps:

* ``shell_seed_tasks`` — a source of the bundled hand-written tasks (``envs/shell/seed_tasks.jsonl``);
* ``shell_task_writer`` — the model writes a new task of a row's kind (JSON-schema constrained: instruction, setup
  files and script, solution, checker), with bundled tasks of that kind as few-shot examples;
* ``shell_task_check`` — runs the candidate in the sandbox and keeps it only when the checker FAILS on the untouched
  setup and PASSES after the reference solution; a rejected row says which test it failed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import xxhash

from ...envs.shell import KINDS, TASK_SCHEMA, ShellEnvironment, seed_tasks, task_for_prompt, task_from_written, validate_task
from ...pipeline.model_step import ModelStep, RowError
from ...pipeline.step import Rejected, SourceStep, StreamStep
from ...records import adopt_rows
from ...tools.executor import ToolExecutor

AGENTBENCH = "Liu et al. 2023, AgentBench: Evaluating LLMs as Agents, arXiv:2308.03688"
INTERCODE = "Yang et al. 2023, InterCode: Standardizing and Benchmarking Interactive Coding with Execution Feedback, arXiv:2306.14898"


def _kinds(where: str, kinds: Iterable[str] | None) -> list[str]:
    chosen = list(kinds) if kinds is not None else list(KINDS)
    unknown = [k for k in chosen if k not in KINDS]
    if unknown or not chosen:
        raise ValueError(f"{where}: kinds must be some of {', '.join(KINDS)}, not {unknown or chosen}")
    return chosen


class ShellSeedTasks(SourceStep):
    """Source of the bundled hand-written shell tasks of ``kinds`` (files, text, archives, processes): one row per task
    (``n`` rows cycling through them when given), with the task in ``column`` and its ``kind`` and ``task_id``."""

    type_name = "shell_seed_tasks"

    def __init__(self, name: str, *, n: int | None = None, kinds: list[str] | None = None, column: str = "task",
                 citations: Iterable[str] = ()) -> None:
        super().__init__(name, citations=[AGENTBENCH, INTERCODE, *citations])
        where = f"shell_seed_tasks {name!r}"
        if n is not None and int(n) < 0:
            raise ValueError(f"{where}: n must be >= 0 (or left out for every seed task once), not {n}")
        if not column or not column.isidentifier():
            raise ValueError(f"{where}: column must be a column name, not {column!r}")
        self.kinds = _kinds(where, kinds)
        self.n, self.column = None if n is None else int(n), column
        self.columns = (column, "kind", "task_id")

    def _tasks(self) -> list[dict[str, Any]]:
        return seed_tasks(self.kinds)

    def read(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        tasks = self._tasks()
        total = self.count(limit) or 0
        for i in range(total):
            task = tasks[i % len(tasks)]
            yield {self.column: task, "kind": task["kind"], "task_id": task["id"]}

    def count(self, limit: int | None = None) -> int | None:
        total = len(self._tasks()) if self.n is None else self.n
        return total if limit is None else min(total, limit)

    def fingerprint(self) -> str:
        return xxhash.xxh3_64_hexdigest(json.dumps(self._tasks(), sort_keys=True).encode())


class ShellTaskWriter(ModelStep):
    """Writes one new shell task per row of the row's ``kind`` (JSON-schema constrained: ``instruction``,
    ``setup_files``, ``setup_script``, ``solution``, ``checker``), shown ``examples`` bundled tasks of that kind
    (starting after the row's own seed, so that rows see different ones). Writes ``candidate`` (the task in the bundled
    format) for ``shell_task_check``."""

    type_name = "shell_task_writer"
    default_sampling = {"temperature": 0.8, "max_tokens": 700}

    def __init__(self, name: str, *, examples: int = 2, template: str | None = None, citations: Iterable[str] = (),
                 **kwargs: Any) -> None:
        if not 0 <= int(examples) <= 6:
            raise ValueError(f"shell_task_writer {name!r}: examples must be between 0 and 6, not {examples}")
        super().__init__(name, reads=["kind"], writes=["candidate"], citations=[AGENTBENCH, INTERCODE, *citations], **kwargs)
        self.examples = int(examples)
        self.template = template if template is not None else self.load_template("shell_task_writer.jinja")
        self.read_columns(self.template, not_columns={"examples", "kinds"})

    def shots(self, kind: str, after: str | None) -> list[dict[str, Any]]:
        """``examples`` bundled tasks of ``kind``, starting after the task ``after`` (cycling)."""
        same = seed_tasks([kind])
        start = next((i + 1 for i, t in enumerate(same) if t["id"] == after), 0)
        ordered = same[start:] + same[:start]
        return ordered[: self.examples]

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        kind = record.get("kind")
        if kind not in KINDS:
            raise ValueError(f"shell_task_writer {self.name!r}: the row's kind must be one of {', '.join(KINDS)}, not {kind!r}")
        shots = [json.dumps(task_for_prompt(t), ensure_ascii=False, indent=1) for t in self.shots(kind, record.get("task_id"))]
        view = {**record, "examples": shots, "kinds": KINDS}
        response, entry = await self.call(record, self.render(self.template, view), json_schema=TASK_SCHEMA)
        value = response.parsed
        if not isinstance(value, dict):
            raise RowError("the task writer's reply is not a JSON object", raw_text=response.text)
        candidate = task_from_written(value, kind=kind)
        return adopt_rows(record, {**record, "candidate": candidate}, self.name, [entry])


class ShellTaskCheck(StreamStep):
    """Keeps a written task (``candidate``) only when, in the sandbox, its setup runs, its checker FAILS on the
    untouched work dir and PASSES after its reference solution. Writes ``task`` (with an ``id``) and ``validation``
    (the runs' exit codes and output); a rejected row's reason names the test it failed."""

    type_name = "shell_task_check"
    runtime_options = ("workers",)

    def __init__(self, name: str, *, column: str = "candidate", command_timeout: float = 3.0, timeout: float = 10.0,
                 memory_mb: int = 512, workers: int | None = None, citations: Iterable[str] = ()) -> None:
        super().__init__(name, reads=[column], writes=["task", "validation"], citations=[AGENTBENCH, INTERCODE, *citations])
        self.column = column
        self.env = ShellEnvironment(command_timeout=command_timeout)
        self.executor = ToolExecutor(timeout=timeout, memory_mb=memory_mb, workers=workers)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        candidate = record.get(self.column)
        check = await validate_task(self.env, candidate, self.executor)
        if not check.ok:
            return Rejected(check.reason, 0.0)
        task = dict(candidate)
        task.setdefault("id", "gen-" + xxhash.xxh3_64_hexdigest(json.dumps(candidate, sort_keys=True).encode())[:12])
        return [{**record, "task": task, "validation": check.details}]

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["environment"] = self.env.fingerprint()
        return d

    async def aclose(self) -> None:
        self.executor.close()
