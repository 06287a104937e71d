"""The recipe interface every table generator shares (baselines and LLM generators alike).

A generator is a *source* step: it reads the real table named by ``real`` (a file or
``sklearn:NAME``), splits it into a training part and a held-out part (``holdout``, ``seed``),
learns from the training part only and yields ``rows`` synthetic rows, each coerced to the
schema's types. The schema is inferred from the real table or read from ``schema`` (an edited
YAML file). The split and the schema are written to ``OUT/tables/`` (``train.parquet``,
``holdout.parquet``, ``schema.yaml``) before the first row, so an evaluation step or
``synthloom evaluate-table`` can compare against the holdout. A ``table_validate`` step after it
rejects, with the reason, any row that breaks the schema::

    steps:
      - name: synthesize
        type: table_copula          # or table_cart, or an LLM generator
        real: ${real}
        rows: ${rows}
      - name: validate
        type: table_validate
        real: ${real}

A subclass implements :meth:`TableGenerator.generate` (a fitted model's sample, as a DataFrame or
row dicts); an LLM generator (a ``ModelCalls`` mixin) overrides ``aread`` and uses
:meth:`TableGenerator.prepare` and :meth:`TableGenerator.finish_row` the same way.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xxhash

from ..pipeline.step import FilterStep, Rejected, SourceStep
from .errors import TableError
from .real_table import RealTable, load_real_table
from .schema import TableSchema

if TYPE_CHECKING:
    import pandas as pd

TABLES_DIR = "tables"


class TableGenerator(SourceStep):
    """Base of a step that learns from a real table and yields synthetic rows (see the module doc)."""

    def __init__(self, name: str, *, real: str, rows: int = 100, holdout: float = 0.2, seed: int = 0,
                 schema: str | None = None, max_categories: int = 20, drop: list[str] | None = None,
                 target: str | None = None, citations: Iterable[str] = (), models: Iterable[str] = ()) -> None:
        super().__init__(name, citations=citations, models=models)
        if rows < 1:
            raise ValueError(f"rows must be at least 1, not {rows}")
        if not 0.0 <= holdout < 1.0:
            raise ValueError(f"holdout must be a fraction in [0, 1), not {holdout}")
        if max_categories < 1:
            raise ValueError(f"max_categories must be at least 1, not {max_categories}")
        self.real, self.rows, self.holdout, self.seed = str(real), rows, holdout, seed
        self.schema_path = schema or None
        self.max_categories, self.drop, self.target = max_categories, list(drop or []), target
        self._table: RealTable | None = None
        self._written = False

    # -- the shared part ----------------------------------------------------------------------
    def prepare(self) -> RealTable:
        """The real table, split and with its schema (read once), written to ``OUT/tables/`` in a run."""
        if self._table is None:
            self._table = load_real_table(self.real, holdout=self.holdout, seed=self.seed, schema=self.schema_path,
                                          max_categories=self.max_categories, drop=self.drop, target=self.target)
        folder = self.tables_dir()
        if folder is not None and not self._written:
            self._table.write(folder)
            self._written = True
        return self._table

    def tables_dir(self) -> Path | None:
        """``OUT/tables`` of the run this step is part of (``None`` outside a run)."""
        state = self.ctx.state_dir if self.ctx is not None else None
        return Path(state).parent / TABLES_DIR if state is not None else None

    @property
    def schema(self) -> TableSchema:
        return self.prepare().schema

    @property
    def columns(self) -> list[str]:  # type: ignore[override]
        return self.prepare().schema.names

    def finish_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """A generated row as the run keeps it: the schema's columns, in order, coerced to their types."""
        coerced = self.schema.coerce_row({k: row.get(k) for k in self.schema.names})
        return {k: coerced[k] for k in self.schema.names}

    def count(self, limit: int | None = None) -> int | None:
        return self.rows if limit is None else min(self.rows, limit)

    def fingerprint(self) -> str:
        h = xxhash.xxh3_64()
        for spec in (self.real, self.schema_path):
            if spec and not spec.startswith("sklearn:") and os.path.exists(spec):
                st = os.stat(spec)
                h.update(f"{os.path.abspath(spec)}\x1f{st.st_size}\x1f{st.st_mtime_ns}\n".encode())
            else:
                h.update(f"{spec}\n".encode())
        return f"table:{h.hexdigest()}"

    # -- what a generator implements ----------------------------------------------------------
    def generate(self, train: pd.DataFrame, schema: TableSchema, n: int, seed: int) -> pd.DataFrame | list[dict[str, Any]]:
        """``n`` synthetic rows learnt from ``train`` (deterministic for a given ``seed``)."""
        raise NotImplementedError(f"{type(self).__name__} implements neither generate() nor aread()")

    def read(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        table = self.prepare()
        n = self.count(limit) or 0
        rows = self.generate(table.train, table.schema, n, self.seed)
        records = rows.to_dict(orient="records") if hasattr(rows, "to_dict") else list(rows)
        if len(records) != n:
            raise TableError(f"step {self.name!r}: the generator made {len(records)} rows, not the {n} asked for")
        for row in records:
            yield self.finish_row(row)


class TableValidate(FilterStep):
    """Keeps the rows that match the table's schema (read from ``schema``, or inferred from the whole
    real table ``real``); rejects the others with every problem as the reason."""

    type_name = "table_validate"

    def __init__(self, name: str, *, real: str | None = None, schema: str | None = None, max_categories: int = 20,
                 drop: list[str] | None = None, target: str | None = None, coerce: bool = True) -> None:
        if not real and not schema:
            raise ValueError("table_validate needs `schema` (a schema YAML file) or `real` (the table to infer it from)")
        super().__init__(name)
        self.real, self.schema_path, self.max_categories = real or None, schema or None, max_categories
        self.drop, self.target, self.coerce = list(drop or []), target, coerce
        self._schema: TableSchema | None = None

    @property
    def schema(self) -> TableSchema:
        if self._schema is None:
            if self.schema_path:
                self._schema = TableSchema.from_yaml(self.schema_path)
            else:
                assert self.real is not None
                self._schema = load_real_table(self.real, holdout=0.0, max_categories=self.max_categories,
                                               drop=self.drop, target=self.target).schema
        return self._schema

    def check(self, record: dict[str, Any]) -> bool | Rejected:
        row = self.schema.coerce_row(record) if self.coerce else record
        problems = self.schema.validate_row(row)
        if problems:
            return Rejected("schema: " + "; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""))
        if self.coerce:
            record.update({k: row[k] for k in self.schema.names})
        return True
