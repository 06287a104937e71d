"""Stateful tool environments (τ-bench style): a database, the tools that read and change it, and the
written policy an agent must follow.

Yao et al. 2024, "τ-bench: A Benchmark for Tool-Agent-User Interaction in Real-World Domains",
arXiv:2406.12045. An :class:`Environment` is a folder: ``schema.sql`` (the tables), ``seed.json``
(the initial rows, ``{table: [row, ...]}``), ``policy.md`` and ``tools.py`` (the tools, stdlib only,
in the catalogue's convention). The tools run only in the sandbox: :meth:`Environment.execute`
ships the state in as ``state.json`` (with ``schema.sql``), makes the agent's calls in order in one
jail, then hidden last calls of the module's ``dump_environment_state(table)`` (never offered to a
model; one per table, columns and rows, since one call's result is capped at 64K characters of
JSON) read the state back as JSON. The host never runs SQL: states are compared as JSON, every table's
rows as a multiset (:func:`canonical_state`, :func:`states_equal`, :func:`state_diff`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..tools.executor import CallResult, Invocation
from ..tools.spec import Tool, ToolModule, safe_module_name, tools_from_module_source

DUMP_ENTRY = "dump_environment_state"
DUMP_CALL_ID = "environment_state"
STATE_FILE = "state.json"
SCHEMA_FILE = "schema.sql"
ENVS_DIR = Path(__file__).parent
_FILES = ("tools.py", "schema.sql", "seed.json", "policy.md")

State = dict[str, list[dict[str, Any]]]


class EnvironmentStateLost(RuntimeError):
    """The environment could not read its state back after a run (a call ended the run: timeout,
    memory, crash), so the state after those calls is unknown."""


def _row_text(row: Mapping[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False)


def canonical_state(state: Any, *, where: str = "state") -> State:
    """``state`` (``{table: [row dict, ...]}``) with its tables and each table's rows in a canonical
    order (rows sorted by their sorted-key JSON), so equal states are equal dicts."""
    if not isinstance(state, Mapping):
        raise ValueError(f"{where} must be an object {{table: [row, ...]}}, not {type(state).__name__}")
    out: State = {}
    for table in sorted(state):
        rows = state[table]
        if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
            raise ValueError(f"{where}: table {table!r} must be a list of row objects")
        out[table] = [dict(r) for r in sorted(rows, key=_row_text)]
    return out


def states_equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two states hold the same tables with the same rows (as multisets: order does not matter)."""
    return canonical_state(a) == canonical_state(b)


def state_hash(state: Mapping[str, Any]) -> str:
    """A short digest of a state's canonical JSON (equal states, equal digests)."""
    text = json.dumps(canonical_state(state), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def state_diff(a: Mapping[str, Any], b: Mapping[str, Any], keys: Mapping[str, Sequence[str]] | None = None,
               *, limit: int = 20) -> list[str]:
    """How state ``b`` differs from state ``a``, one readable line per difference: a changed column
    (``orders[#W1]: status 'pending' → 'cancelled'``), a row only in ``b`` (added) or only in ``a``
    (removed), a table only in one of them. ``keys`` names each table's key columns (rows with the
    same key are one row changed); without a key, a removed and an added row that agree on most
    columns are paired. At most ``limit`` lines (then a count of the rest); [] when equal."""
    keys = keys or {}
    lines: list[str] = []
    for table in sorted(set(a) | set(b)):
        if table not in b:
            lines.append(f"{table}: table missing ({len(a[table])} rows)")
            continue
        if table not in a:
            lines.append(f"{table}: unexpected table ({len(b[table])} rows)")
            continue
        lines += _table_diff(table, a[table], b[table], list(keys.get(table) or ()))
    if len(lines) > limit:
        lines = lines[:limit] + [f"... and {len(lines) - limit} more differences"]
    return lines


def _table_diff(table: str, rows_a: list, rows_b: list, key: list[str]) -> list[str]:
    rows = {_row_text(r): dict(r) for r in [*rows_a, *rows_b]}  # as given: their column order names a row
    count_a, count_b = Counter(map(_row_text, rows_a)), Counter(map(_row_text, rows_b))
    removed = [rows[t] for t in sorted((count_a - count_b).elements())]
    added = [dict(rows[t]) for t in sorted((count_b - count_a).elements())]
    lines = []
    for old in removed:
        match = _partner(old, added, key)
        if match is None:
            lines.append(f"{table}: row removed {_shown_row(old)}")
            continue
        added.remove(match)
        changed = [c for c in sorted(set(old) | set(match)) if old.get(c) != match.get(c)]
        ident = _ident(old, key)
        lines += [f"{table}[{ident}]: {c} {old.get(c)!r} → {match.get(c)!r}" for c in changed]
    lines += [f"{table}: row added {_shown_row(new)}" for new in added]
    return lines


def _partner(old: dict, candidates: list[dict], key: list[str]) -> dict | None:
    if key:
        return next((c for c in candidates if all(c.get(k) == old.get(k) for k in key)), None)
    best, best_score = None, 0
    for c in candidates:
        score = sum(1 for k in old if k in c and c[k] == old[k])
        if score > best_score:
            best, best_score = c, score
    return best if best is not None and best_score * 2 > len(old) else None


def _ident(row: dict, key: list[str]) -> str:
    cols = key or list(row)[:1]
    return ", ".join(str(row.get(c)) for c in cols)


def _shown_row(row: dict) -> str:
    text = _row_text(row)
    return text if len(text) <= 200 else text[:197] + "..."


def schema_tables(schema: str) -> list[str]:
    """The tables ``CREATE TABLE`` statements make, in order (text only; no SQL runs)."""
    return re.findall(r"CREATE TABLE\s+(?:IF NOT EXISTS\s+)?(\w+)", schema, flags=re.I)


def schema_keys(schema: str) -> dict[str, list[str]]:
    """Each table's primary-key columns, read from ``CREATE TABLE`` statements (text only; no SQL runs)."""
    keys: dict[str, list[str]] = {}
    for table, body in re.findall(r"CREATE TABLE\s+(\w+)\s*\((.*?)\);", schema, flags=re.S | re.I):
        body = re.sub(r"--[^\n]*", "", body)
        composite = re.search(r"PRIMARY KEY\s*\(([^)]*)\)", body, flags=re.I)
        if composite:
            keys[table] = [c.strip() for c in composite.group(1).split(",")]
            continue
        inline = re.search(r"^\s*(\w+)\s+\w+[^,\n]*PRIMARY KEY", body, flags=re.I | re.M)
        if inline:
            keys[table] = [inline.group(1)]
    return keys


@dataclass(eq=False)
class Environment:
    """A stateful environment: ``tools`` are what the agent is offered (every public function of
    ``module`` but ``dump_environment_state``), ``policy`` the rules it must follow, ``schema`` the
    tables, ``seed`` the canonical initial state. Run calls with :meth:`execute` / :meth:`aexecute`."""

    name: str
    policy: str
    tools: list[Tool]
    module: ToolModule
    schema: str
    seed: State
    keys: dict[str, list[str]] = field(default_factory=dict)
    tables: list[str] = field(default_factory=list)

    def initial_state(self) -> State:
        """A fresh copy of the initial state (``{table: [row, ...]}``, canonical order)."""
        return copy.deepcopy(self.seed)

    def tool(self, name: str) -> Tool:
        for t in self.tools:
            if t.name == name:
                return t
        raise KeyError(f"environment {self.name!r} has no tool {name!r} (tools: {', '.join(self.tool_names)})")

    @property
    def tool_names(self) -> list[str]:
        return [t.name for t in self.tools]

    def openai_tools(self) -> list[dict[str, Any]]:
        """The tools as a request's ``tools`` carries them."""
        return [t.openai() for t in self.tools]

    def diff(self, expected: Mapping[str, Any], actual: Mapping[str, Any], *, limit: int = 20) -> list[str]:
        """:func:`state_diff` with this environment's primary keys."""
        return state_diff(expected, actual, self.keys, limit=limit)

    def _calls(self, invocations: Sequence[Any]) -> list[Invocation]:
        calls = [Invocation.of(c) for c in invocations]
        names = set(self.tool_names)
        for c in calls:
            if c.name not in names:
                raise ValueError(f"environment {self.name!r}: {c.name!r} is not one of its tools "
                                 f"({', '.join(self.tool_names)}); validate calls with call_problem first")
        return [*calls, *(Invocation(f"{DUMP_CALL_ID}:{t}", DUMP_ENTRY, {"table": t}) for t in self.tables)]

    def _files(self, state: Mapping[str, Any]) -> dict[str, str]:
        return {STATE_FILE: json.dumps(canonical_state(state), ensure_ascii=False), SCHEMA_FILE: self.schema}

    def _split(self, results: list[CallResult]) -> tuple[list[CallResult], State]:
        agent, dumps = results[: len(results) - len(self.tables)], results[len(results) - len(self.tables):]
        state: State = {}
        for table, dump in zip(self.tables, dumps):
            value = dump.value if dump.ok else None
            if not (isinstance(value, dict) and isinstance(value.get("columns"), list) and isinstance(value.get("rows"), list)):
                raise EnvironmentStateLost(f"environment {self.name!r}: the state could not be read back after the calls "
                                           f"(table {table!r}: {dump.status}: {dump.error or 'not columns and rows'})")
            state[table] = [dict(zip(value["columns"], row)) for row in value["rows"]]
        return agent, canonical_state(state, where=f"environment {self.name!r} state")

    def execute(self, executor: Any, state: Mapping[str, Any],
                invocations: Sequence[Any]) -> tuple[list[CallResult], State]:
        """Run ``invocations`` (Invocations, ToolCalls or ``{"id", "name", "arguments"}`` dicts) in
        order on ``state`` in ONE sandbox run of ``executor``; returns their results and the state
        after them. A call that raised (status ``error``) changed nothing. Raises
        :class:`EnvironmentStateLost` when the run ended before the state could be read back."""
        calls = self._calls(invocations)
        return self._split(executor.run([self.module], calls, files=self._files(state)))

    async def aexecute(self, executor: Any, state: Mapping[str, Any],
                       invocations: Sequence[Any]) -> tuple[list[CallResult], State]:
        """:meth:`execute` off the event loop (``executor.arun``)."""
        calls = self._calls(invocations)
        return self._split(await executor.arun([self.module], calls, files=self._files(state)))


def environments() -> list[str]:
    """The names of the bundled environments."""
    return sorted(p.name for p in ENVS_DIR.iterdir() if p.is_dir() and all((p / f).is_file() for f in _FILES))


def load_environment(name: str) -> Environment:
    """A bundled environment by name (``store``, ``airline``), or a folder laid out like one
    (``tools.py``, ``schema.sql``, ``seed.json``, ``policy.md``)."""
    folder = ENVS_DIR / name if re.fullmatch(r"[a-z0-9_]+", name) else Path(name)
    return _load(str(folder.resolve()), name)


@lru_cache(maxsize=16)
def _load(folder: str, name: str) -> Environment:
    path = Path(folder)
    missing = [f for f in _FILES if not (path / f).is_file()]
    if missing:
        if not path.is_dir():
            raise ValueError(f"unknown environment {name!r}: bundled ones are {', '.join(environments())}, "
                             "or give a folder with tools.py, schema.sql, seed.json and policy.md")
        raise ValueError(f"environment folder {folder}: missing {', '.join(missing)}")
    env_name = safe_module_name(path.name)
    source = (path / "tools.py").read_text(encoding="utf-8")
    tools = tools_from_module_source(env_name, source, category=env_name)
    if not any(t.name == DUMP_ENTRY for t in tools):
        raise ValueError(f"{path / 'tools.py'}: define {DUMP_ENTRY}() -> dict, the environment's read-out of its state")
    try:
        seed = json.loads((path / "seed.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path / 'seed.json'} line {exc.lineno}: not valid JSON ({exc.msg})") from exc
    schema = (path / "schema.sql").read_text(encoding="utf-8")
    return Environment(
        name=env_name, policy=(path / "policy.md").read_text(encoding="utf-8").strip(),
        tools=[t for t in tools if t.name != DUMP_ENTRY], module=tools[0].module, schema=schema,
        seed=canonical_state(seed, where=str(path / "seed.json")), keys=schema_keys(schema), tables=schema_tables(schema))
