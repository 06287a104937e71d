"""A row's history: the parent it was made from (an expansion's ``parent`` in ``_lineage``, or a
``parent_id`` column such as Evol-Instruct's), followed back to the first row, and where each
ancestor is stored now (``data``, ``rejected``, ``steps`` for materialised intermediate rows)."""

from __future__ import annotations

from typing import Any

from .run_source import RunSource

#: how far back a revision chain is followed
MAX_CHAIN = 30


def parent_of(row: dict[str, Any]) -> str | None:
    """The id of the row ``row`` was made from, when it says so."""
    if isinstance(row.get("parent_id"), str) and row["parent_id"]:
        return row["parent_id"]
    for entry in reversed(row.get("_lineage") or []):
        if isinstance(entry, dict) and entry.get("parent"):
            return str(entry["parent"])
    return None


def _pick(found: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The most finished version of a row among its copies (data, then rejected, then intermediate)."""
    order = {"data": 0, "rejected": 1, "errors": 2, "steps": 3}
    return min(found, key=lambda f: order.get(f["table"], 9)) if found else None


def revision_chain(run: RunSource, row: dict[str, Any]) -> list[dict[str, Any]]:
    """``row``'s ancestors, oldest first, then ``row``: ``{"table", "row"}`` each; the chain stops at a
    parent that no table holds (a streamed intermediate row is not stored)."""
    chain = [{"table": None, "row": row}]
    seen = {row.get("id")}
    parent = parent_of(row)
    while parent and parent not in seen and len(chain) < MAX_CHAIN:
        seen.add(parent)
        found = _pick([f for f in run.find(parent) if f["row"].get("id") == parent])
        if found is None:
            chain.append({"table": None, "row": None, "missing": parent})
            break
        chain.append(found)
        parent = parent_of(found["row"])
    return list(reversed(chain))
