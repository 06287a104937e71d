"""Columns as numbers for the classical generators, and back.

* :func:`ordinal` — a column as floats for a decision tree's predictors: numbers as they are,
  categories, booleans and text as codes, datetimes as seconds since the epoch; nulls as NaN.
* :class:`FrequencyCode` — a categorical column as a point in [0, 1): each value owns an interval
  as wide as its share, a row is a uniform draw inside its value's interval; decoding reads which
  interval a number falls in (how SDV feeds categories to a Gaussian copula). Shares survive, and the
  copula sees a continuous variable.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np

from .schema import ColumnSchema, format_datetime, is_missing, parse_datetime

if TYPE_CHECKING:
    import pandas as pd

DISCRETE = ("categorical", "boolean", "text")
_EPOCH = dt.datetime(1970, 1, 1)




def to_seconds(value: Any) -> float:
    when = parse_datetime(value if isinstance(value, (str, dt.date)) else str(value))
    return np.nan if when is None else (when - _EPOCH).total_seconds()


def from_seconds(seconds: float, fmt: str | None) -> str:
    return format_datetime(_EPOCH + dt.timedelta(seconds=float(seconds)), fmt)


def ordinal(series: pd.Series, column: ColumnSchema) -> np.ndarray:
    """``series`` as floats (see the module doc); the codes of discrete values follow first appearance
    in the schema's categories, then in the data."""
    if column.type in ("integer", "number"):
        return series.astype(float).to_numpy()
    if column.type == "datetime":
        return np.array([np.nan if is_missing(v) else to_seconds(v) for v in series], dtype=float)
    codes: dict[Any, int] = {v: i for i, v in enumerate(column.categories or {})}
    out = np.empty(len(series), dtype=float)
    for i, v in enumerate(series):
        if is_missing(v):
            out[i] = np.nan
        else:
            out[i] = codes.setdefault(v.item() if hasattr(v, "item") else v, len(codes))
    return out


class FrequencyCode:
    """One discrete column's values as intervals of [0, 1) (see the module doc); null is a value too."""

    def __init__(self, series: pd.Series) -> None:
        values = [None if is_missing(v) else (v.item() if hasattr(v, "item") else v) for v in series]
        counts: dict[Any, int] = {}
        for v in values:
            counts[v] = counts.get(v, 0) + 1
        self.values = sorted(counts, key=lambda v: (-counts[v], str(v)))
        shares = np.array([counts[v] for v in self.values], dtype=float) / len(values)
        self.upper = np.cumsum(shares)
        self.upper[-1] = 1.0
        self.lower = np.concatenate([[0.0], self.upper[:-1]])
        self._index = {v: i for i, v in enumerate(self.values)}

    def encode(self, series: pd.Series, rng: np.random.Generator) -> np.ndarray:
        idx = np.array([self._index[None if is_missing(v) else (v.item() if hasattr(v, "item") else v)] for v in series])
        low, high = self.lower[idx], self.upper[idx]
        return low + (high - low) * rng.uniform(0.05, 0.95, size=len(idx))

    def decode(self, numbers: np.ndarray) -> list[Any]:
        clipped = np.clip(np.nan_to_num(numbers, nan=0.5), 0.0, 1.0 - 1e-12)
        return [self.values[i] for i in np.searchsorted(self.upper, clipped, side="right")]
