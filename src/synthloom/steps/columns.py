"""Column steps: ``filter`` (keep rows where an expression holds), ``set`` (add or change columns
from templates or expressions) and ``select`` (keep only some columns)."""

from __future__ import annotations

from typing import Any

from ..pipeline.step import FilterStep, MapStep, Rejected
from ..pipeline.templates import evaluate, render, template_columns
from ..records import RESERVED


class ExpressionFilter(FilterStep):
    """Keeps a row when the Jinja2 expression ``keep`` is true, e.g. ``response | wordcount >= 3``;
    otherwise rejects it with ``reason`` (default: the expression)."""

    type_name = "filter"

    def __init__(self, name: str, *, keep: str, reason: str | None = None) -> None:
        super().__init__(name, reads=template_columns(keep, expression=True))
        self.expression = keep
        self.reason = reason or f"failed: {keep}"

    def check(self, record: dict[str, Any]) -> bool | Rejected:
        params = self.ctx.params if self.ctx else {}
        return True if evaluate(self.expression, record, params) else Rejected(self.reason)


class SetColumns(MapStep):
    """Adds or overwrites columns: ``columns`` maps names to Jinja2 templates (rendered to text),
    ``values`` maps names to Jinja2 expressions (any type: numbers, lists)."""

    type_name = "set"

    def __init__(self, name: str, *, columns: dict[str, str] | None = None, values: dict[str, str] | None = None) -> None:
        columns, values = dict(columns or {}), dict(values or {})
        if not columns and not values:
            raise ValueError(f"set step {name!r} needs `columns` (templates) or `values` (expressions)")
        reads: set[str] = set()
        for t in columns.values():
            reads |= template_columns(t)
        for e in values.values():
            reads |= template_columns(e, expression=True)
        super().__init__(name, reads=reads, writes=[*columns, *values])
        self.templates, self.expressions = columns, values

    def map(self, record: dict[str, Any]) -> dict[str, Any]:
        params = self.ctx.params if self.ctx else {}
        out = dict(record)
        for col, t in self.templates.items():
            out[col] = render(t, record, params)
        for col, e in self.expressions.items():
            out[col] = evaluate(e, record, params)
        return out


class SelectColumns(MapStep):
    """Keeps only ``columns`` (plus the id and lineage), in that order."""

    type_name = "select"

    def __init__(self, name: str, *, columns: list[str]) -> None:
        super().__init__(name, reads=columns)
        self.columns = list(columns)

    def output_columns(self, available: set[str]) -> set[str]:
        return set(self.columns)  # downstream sees just these

    def map(self, record: dict[str, Any]) -> dict[str, Any]:
        out = {k: record[k] for k in RESERVED if k in record}
        for c in self.columns:
            out[c] = record.get(c)
        return out
