"""Selection by the value of one column: thresholds, bands and top-k.

* ``select_threshold`` (streaming filter): keep rows whose value passes the bounds — AlpaGasus keeps
  ChatGPT accuracy scores ≥ 4.5 of 5 (Chen et al. 2023, arXiv 2307.08701); LAB keeps question
  judgements == 1 and answer judgements ≥ 2 (Sudalairaj et al. 2024, arXiv 2403.01081); Cherry LLM
  drops IFD ≥ 1 (Li et al. 2023, arXiv 2308.12032).
* ``select_band`` (global): keep rows inside ``[lo, hi]``, in values or in quantiles of the column's
  distribution (difficulty bands: "the middle 60% by IFD").
* ``select_top`` (global): keep the ``k`` (or ``fraction``) best rows by the column (Cherry LLM keeps
  the top 5–10% by IFD).

``column`` may be a dotted path into a mapping column (``scores.helpfulness``). A row without a
numeric value is rejected with a reason saying so.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from ...pipeline.step import FilterStep, GlobalStep, Rejected, RejectedRow
from .spill import RowSpill, column_root, numeric, spill_folder, value_at


def _bound(where: str, name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where}: {name} must be a number, got {value!r}")
    return float(value)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


class SelectThreshold(FilterStep):
    """Keeps rows whose ``column`` value satisfies every bound given: ``min`` (≥), ``max`` (≤),
    ``greater_than`` (>), ``less_than`` (<). The reason names the column, the value and the bound."""

    type_name = "select_threshold"

    def __init__(self, name: str, *, column: str, min: float | None = None, max: float | None = None,
                 greater_than: float | None = None, less_than: float | None = None,
                 inputs: list[str] | None = None) -> None:
        where = f"select_threshold {name!r}"
        self.bounds = [(op, _bound(where, key, v)) for op, key, v in
                       ((">=", "min", min), ("<=", "max", max), (">", "greater_than", greater_than),
                        ("<", "less_than", less_than)) if v is not None]
        if not self.bounds:
            raise ValueError(f"{where}: give at least one bound: min, max, greater_than or less_than")
        super().__init__(name, reads=[column_root(column)], inputs=inputs or ())
        self.column = column

    def check(self, record: dict[str, Any]) -> bool | Rejected:
        value = numeric(value_at(record, self.column))
        if value is None:
            return Rejected(f"{self.column}: no numeric value ({value_at(record, self.column)!r})")
        for op, bound in self.bounds:
            ok = {">=": value >= bound, "<=": value <= bound, ">": value > bound, "<": value < bound}[op]
            if not ok:
                return Rejected(f"{self.column} {_fmt(value)} is not {op} {_fmt(bound)}", value)
        return True


class _TwoPass(GlobalStep):
    """Reads the column's values in a first pass (spilling rows), decides, then emits in input order."""

    column: str

    def _collect(self, rows: Iterator[dict[str, Any]], spill: RowSpill) -> np.ndarray:
        values = []
        for record in rows:
            spill.add(record)
            v = numeric(value_at(record, self.column))
            values.append(np.nan if v is None else v)
        return np.asarray(values, dtype=np.float64)

    def _missing(self, record: dict[str, Any]) -> RejectedRow:
        return RejectedRow(record, Rejected(f"{self.column}: no numeric value ({value_at(record, self.column)!r})"))


class SelectBand(_TwoPass):
    """Keeps rows whose ``column`` lies in ``[lo, hi]``; with ``by: quantile``, ``lo``/``hi`` are quantiles
    (0–1) of the column's values, e.g. ``lo: 0.2, hi: 0.8`` keeps the middle 60%."""

    type_name = "select_band"

    def __init__(self, name: str, *, column: str, lo: float | None = None, hi: float | None = None,
                 by: str = "value", inputs: list[str] | None = None) -> None:
        where = f"select_band {name!r}"
        self.lo, self.hi = _bound(where, "lo", lo), _bound(where, "hi", hi)
        if self.lo is None and self.hi is None:
            raise ValueError(f"{where}: give lo, hi or both")
        if by not in ("value", "quantile"):
            raise ValueError(f"{where}: by must be 'value' or 'quantile', got {by!r}")
        if by == "quantile" and not all(b is None or 0 <= b <= 1 for b in (self.lo, self.hi)):
            raise ValueError(f"{where}: with by: quantile, lo and hi are fractions between 0 and 1")
        if self.lo is not None and self.hi is not None and self.lo > self.hi:
            raise ValueError(f"{where}: lo ({self.lo}) is above hi ({self.hi})")
        super().__init__(name, reads=[column_root(column)], inputs=inputs or ())
        self.column, self.by = column, by

    def run(self, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any] | RejectedRow]:
        with RowSpill(spill_folder(self)) as spill:
            values = self._collect(rows, spill)
            lo, hi = self.lo, self.hi
            finite = values[~np.isnan(values)]
            if self.by == "quantile" and len(finite):
                lo = None if lo is None else float(np.quantile(finite, lo))
                hi = None if hi is None else float(np.quantile(finite, hi))
            label = "" if self.by == "value" else f" (quantiles {self.lo}–{self.hi})"
            for i, record in enumerate(spill):
                v = values[i]
                if np.isnan(v):
                    yield self._missing(record)
                elif lo is not None and v < lo:
                    yield RejectedRow(record, Rejected(f"{self.column} {_fmt(v)} is below the band's low end "
                                                       f"{_fmt(lo)}{label}", float(v)))
                elif hi is not None and v > hi:
                    yield RejectedRow(record, Rejected(f"{self.column} {_fmt(v)} is above the band's high end "
                                                       f"{_fmt(hi)}{label}", float(v)))
                else:
                    yield record


class SelectTop(_TwoPass):
    """Keeps the ``k`` rows (or the ``fraction`` of rows, rounded up) with the highest ``column``
    (``order: asc`` for the lowest); ties keep input order. Kept rows stay in input order."""

    type_name = "select_top"

    def __init__(self, name: str, *, column: str, k: int | None = None, fraction: float | None = None,
                 order: str = "desc", inputs: list[str] | None = None) -> None:
        where = f"select_top {name!r}"
        if (k is None) == (fraction is None):
            raise ValueError(f"{where}: give exactly one of k (a count) or fraction (0–1)")
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 0):
            raise ValueError(f"{where}: k must be a whole number >= 0, got {k!r}")
        if fraction is not None and not (isinstance(fraction, (int, float)) and 0 <= fraction <= 1):
            raise ValueError(f"{where}: fraction must be between 0 and 1, got {fraction!r}")
        if order not in ("desc", "asc"):
            raise ValueError(f"{where}: order must be 'desc' (highest first) or 'asc', got {order!r}")
        super().__init__(name, reads=[column_root(column)], inputs=inputs or ())
        self.column, self.k, self.fraction, self.order = column, k, fraction, order

    def run(self, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any] | RejectedRow]:
        with RowSpill(spill_folder(self)) as spill:
            values = self._collect(rows, spill)
            valid = np.flatnonzero(~np.isnan(values))
            keep_n = self.k if self.k is not None else math.ceil(self.fraction * len(valid))
            key = -values[valid] if self.order == "desc" else values[valid]
            ranked = valid[np.argsort(key, kind="stable")]
            rank = np.full(len(values), -1, dtype=np.int64)
            rank[ranked] = np.arange(len(ranked))
            for i, record in enumerate(spill):
                if rank[i] < 0:
                    yield self._missing(record)
                elif rank[i] < keep_n:
                    yield record
                else:
                    word = "highest" if self.order == "desc" else "lowest"
                    yield RejectedRow(record, Rejected(f"{self.column} {_fmt(values[i])} ranks {rank[i] + 1}, outside "
                                                       f"the {keep_n} {word}", float(values[i])))
