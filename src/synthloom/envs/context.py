"""The slice of an environment's state a task is written about (APIGen-MT's context preparation).

Prabhakar et al. 2025, "APIGen-MT: Agentic Pipeline for Multi-Turn Data Generation via Simulated
Agent-Human Interplay", arXiv:2504.03601, ground each task blueprint in sampled environment data
(a user, their orders, the products in them). :func:`task_context` does that for any environment
from its primary keys alone, by following column names (no SQL, no per-domain code):

1. **owned** rows: the start row (a user) and, transitively, the rows that carry an owned row's key
   (the user's orders and payment methods, the orders' items and payments);
2. **parents**: rows whose whole primary key appears in an owned row (the variant and product of an
   ordered item, the flight of a booked segment);
3. **siblings**: other rows of non-owned tables that point at a parent (the other variants of an
   ordered product: what an exchange can swap to);
4. **fillers**: a few sampled rows of every non-owned table (other flights to book, other products).

Owned rows and parents are all kept; siblings and fillers fill each other table up to ``limit`` rows.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

State = dict[str, list[dict[str, Any]]]


def _pk_value(row: Mapping[str, Any], key: Sequence[str]) -> tuple:
    return tuple(row.get(k) for k in key)


def task_context(state: Mapping[str, list[dict[str, Any]]], keys: Mapping[str, Sequence[str]], start_table: str,
                 start_key: Any, *, rng: random.Random, limit: int = 8) -> State:
    """The rows a task about ``start_table``'s row ``start_key`` should see (see the module doc),
    every table in its canonical row order. ``keys``: each table's primary-key columns."""
    key = list(keys.get(start_table) or ())
    if len(key) != 1:
        raise ValueError(f"table {start_table!r} needs a one-column primary key to start a task context from")
    start = [r for r in state.get(start_table, []) if r.get(key[0]) == start_key]
    if not start:
        raise ValueError(f"no row of {start_table!r} has {key[0]} = {start_key!r}")
    picked: dict[str, list[dict[str, Any]]] = {t: [] for t in state}
    seen: set[tuple[str, int]] = set()

    def pick(table: str, i: int) -> bool:
        if (table, i) in seen:
            return False
        seen.add((table, i))
        picked[table].append(state[table][i])
        return True

    owned_tables, frontier = {start_table}, [(start_table, start[0])]
    pick(start_table, state[start_table].index(start[0]))
    while frontier:  # 1. owned rows, following owned tables' first key column into other tables
        table, row = frontier.pop()
        column = keys[table][0]
        for other, rows in state.items():
            if other == table or column not in (rows[0] if rows else {}):
                continue
            for i, r in enumerate(rows):
                if r.get(column) == row.get(column) and pick(other, i):
                    owned_tables.add(other)
                    if other in keys:
                        frontier.append((other, r))
    reference = [t for t in state if t not in owned_tables and keys.get(t)]
    parents: dict[str, set[int]] = {t: set() for t in reference}
    for table in reference:  # 2. parents of owned rows
        key = list(keys[table])
        wanted = {_pk_value(r, key) for t in owned_tables for r in picked[t] if all(k in r for k in key)}
        for i, r in enumerate(state[table]):
            if _pk_value(r, key) in wanted:
                parents[table].add(i)
    siblings: dict[str, set[int]] = {t: set() for t in reference}
    for table in reference:  # 3. siblings: rows of other reference tables that point at a parent
        column = keys[table][0] if len(keys[table]) == 1 else None
        values = {state[table][i][column] for i in parents[table]} if column else set()
        for other in reference:
            if other == table or not values:
                continue
            for i, r in enumerate(state[other]):
                if column in r and r[column] in values and i not in parents[other]:
                    siblings[other].add(i)
    for table in reference:  # 4. parents all; siblings, then fillers, up to the cap
        chosen = sorted(parents[table])
        chosen += sorted(siblings[table])[: max(0, limit - len(chosen))]
        rest = [i for i in range(len(state[table])) if i not in parents[table] and i not in siblings[table]]
        chosen += rng.sample(rest, min(len(rest), max(0, limit - len(chosen))))
        for i in sorted(chosen):
            pick(table, i)
    return {t: rows for t, rows in picked.items() if rows}
