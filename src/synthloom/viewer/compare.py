"""Two runs side by side: their per-step counts, usage and report metrics, and the rows of both that
share a key (``id`` by default: the same source record gives the same id in two runs of one recipe;
or a column such as ``prompt``)."""

from __future__ import annotations

from typing import Any

from .query import Query, QueryError
from .run_source import RunSource
from .table import Page


def _flat_numbers(value: Any, prefix: str = "") -> dict[str, float]:
    """``{"a.b": 1.5}`` for every number inside nested dicts (report metrics)."""
    out: dict[str, float] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(_flat_numbers(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out[prefix] = float(value)
    return out


def compare_summary(a: RunSource, b: RunSource) -> dict[str, Any]:
    """Counts per step, rows, usage totals and report metrics of both runs."""
    sa, sb = a.summary(), b.summary()
    steps = list(dict.fromkeys([*(sa.get("counts") or {}), *(sb.get("counts") or {})]))
    ma = _flat_numbers(((sa.get("report") or {}).get("metrics")) or {})
    mb = _flat_numbers(((sb.get("report") or {}).get("metrics")) or {})
    runs = []
    for s in (sa, sb):
        total = ((s.get("usage") or {}).get("total")) or {}
        runs.append({"name": s["name"], "path": s["path"], "status": s["status"], "rows": s.get("rows"),
                     "elapsed_s": s.get("elapsed_s"), "usage": total, "tables": s["tables"]})
    cols_a, cols_b = a.table("data").columns(), b.table("data").columns()
    return {
        "runs": runs,
        "steps": [{"step": st, "a": (sa.get("counts") or {}).get(st), "b": (sb.get("counts") or {}).get(st)} for st in steps],
        "metrics": [{"metric": m, "a": ma.get(m), "b": mb.get(m)} for m in dict.fromkeys([*ma, *mb])],
        "keys": [c for c in cols_a if c in cols_b and not c.startswith("_")],
    }


def compare_rows(a: RunSource, b: RunSource, key: str, query: Query, offset: int, limit: int) -> dict[str, Any]:
    """A page of run A's data rows (``query`` applies to A) and, beside each, run B's row with the same ``key``."""
    ta, tb = a.table("data"), b.table("data")
    if key not in ta.columns() or key not in tb.columns():
        raise QueryError(f"compare by {key!r}: both runs' data need that column; common columns: "
                         f"{', '.join(c for c in ta.columns() if c in tb.columns())}")
    page: Page = ta.page(query, offset, limit)
    keys = [row.get(key) for row in page.rows]
    found: dict[str, dict[str, Any]] = {}
    for row in tb.find([str(k) for k in keys if k is not None], column=key):
        found.setdefault(str(row.get(key)), row)
    pairs = [{"key": k, "a": row, "b": found.get(str(k))} for k, row in zip(keys, page.rows)]
    return {"pairs": pairs, "total": page.total, "offset": offset, "key": key}
