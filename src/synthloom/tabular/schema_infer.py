"""Inferring column schemas from a pandas DataFrame (see :func:`synthloom.tabular.schema.infer_schema`).

Rules: booleans are ``boolean``; numbers are ``integer`` when every value is whole, else ``number``
(with the most decimals seen, capped at 6); text that is all ISO dates is ``datetime``; other
text is ``categorical`` when it has at most ``max_categories`` distinct values and they repeat
(at most half as many distinct values as rows), else ``text``. Pandas ``category`` columns are
always categorical. Shares are of the non-null rows, rounded to 4 places.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .errors import need
from .schema import _DATE, _DATETIME, ColumnSchema, format_datetime, parse_datetime

if TYPE_CHECKING:
    import pandas as pd


def infer_columns(df: pd.DataFrame, *, max_categories: int, target: str | None) -> list[ColumnSchema]:
    need("pandas")
    return [_infer_column(str(name), df[name], max_categories, name == target) for name in df.columns]


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _infer_column(name: str, series: pd.Series, max_categories: int, is_target: bool) -> ColumnSchema:
    pandas = need("pandas")
    values = series.dropna()
    n, nulls = len(series), int(series.isna().sum())
    col = ColumnSchema(name=name, type="text", nullable=nulls > 0, null_share=round(nulls / n, 4) if n else 0.0,
                       target=is_target)
    kind = series.dtype.kind
    if kind == "b" or (kind == "O" and len(values) and all(isinstance(v, bool) for v in values)):
        col.type = "boolean"
    elif isinstance(series.dtype, pandas.CategoricalDtype) or (kind == "O" and _is_categorical(values, max_categories)
                                                               and not _all_dates(values)):
        col.type = "categorical"
        col.categories = _shares(values)
    elif kind in "iuf":
        finite = values[values.map(lambda v: math.isfinite(v))]
        whole = bool(len(finite)) and bool((finite == finite.round()).all())
        col.type = "integer" if whole else "number"
        if len(finite):
            low, high = _plain(finite.min()), _plain(finite.max())
            col.min, col.max = (int(low), int(high)) if whole else (float(low), float(high))
        if not whole:
            col.decimals = max((_decimals(float(v)) for v in finite), default=None)
        if is_target and whole and values.nunique() <= max_categories and values.nunique() <= max(2, len(values) // 2):
            col.type, col.min, col.max = "categorical", None, None
            col.categories = _shares(values.astype(int))
    elif kind == "M" or (kind == "O" and _all_dates(values)):
        stamps = [parse_datetime(v if isinstance(v, str) else v.to_pydatetime()) for v in values]
        with_time = any(s is not None and (s.hour or s.minute or s.second) for s in stamps) or (
            kind == "O" and any(not _DATE.match(str(v)) for v in values))
        col.type, col.format = "datetime", "date-time" if with_time else "date"
        known = [s for s in stamps if s is not None]
        if known:
            col.min, col.max = format_datetime(min(known), col.format), format_datetime(max(known), col.format)
    else:
        col.max_length = int(values.astype(str).str.len().max()) if len(values) else None
    return col


def _is_categorical(values: pd.Series, max_categories: int) -> bool:
    distinct = values.astype(str).nunique()
    return 0 < distinct <= max_categories and distinct <= max(2, len(values) // 2)


def _all_dates(values: pd.Series) -> bool:
    texts = values.astype(str)
    return bool(len(texts)) and all(_DATE.match(t) or _DATETIME.match(t) for t in texts) and all(
        parse_datetime(t) is not None for t in texts)


def _shares(values: pd.Series) -> dict[Any, float]:
    counts = values.map(_plain).value_counts()
    total = int(counts.sum())
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return {_plain(k): round(int(c) / total, 4) for k, c in ordered}


def _decimals(value: float) -> int:
    text = repr(value)
    if "e" in text or "E" in text:
        return 6
    return min(6, len(text.split(".")[1].rstrip("0")) if "." in text else 0)
