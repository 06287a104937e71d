"""The columns an evaluation compares: their kinds, the tables aligned on them, rows encoded for models
and for distances.

A column is *numeric* when its real values are numbers (not booleans), except an integer-valued column
with at most :data:`MAX_INTEGER_LEVELS` distinct values (a code, a count of few levels, a 0/1 flag), which
is *categorical* like every text, boolean or mixed column. The synthetic table is read in the real table's
terms: extra columns (row ids, lineage) are ignored, numeric columns are parsed as numbers (an unparsable
value counts as missing), categorical values are compared as text (``1``, ``1.0`` and ``"1"`` are one
category).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import TableError, need

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

NUMERIC, CATEGORICAL = "numeric", "categorical"
#: an integer-valued column with at most this many distinct values counts as categorical
MAX_INTEGER_LEVELS = 10
MISSING = "<missing>"


def column_kinds(real: pd.DataFrame, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{column: "numeric" | "categorical"}`` for every column of ``real`` (``overrides`` wins)."""
    pandas = need("pandas")
    kinds: dict[str, str] = {}
    for col in real.columns:
        values = real[col]
        kind = CATEGORICAL
        if pandas.api.types.is_numeric_dtype(values) and not pandas.api.types.is_bool_dtype(values):
            present = values.dropna().astype(float)
            integral = bool(len(present)) and bool((present == present.round()).all())
            kind = CATEGORICAL if integral and present.nunique() <= MAX_INTEGER_LEVELS else NUMERIC
        kinds[str(col)] = kind
    for col, kind in (overrides or {}).items():
        if col not in kinds:
            raise TableError(f"column kind given for {col!r}, which the real table lacks; fix: use one of {', '.join(kinds)}")
        if kind not in (NUMERIC, CATEGORICAL):
            raise TableError(f"column {col!r}: kind {kind!r} is neither {NUMERIC!r} nor {CATEGORICAL!r}")
        kinds[col] = kind
    return kinds


def category_text(value: Any) -> str | None:
    """A categorical value as text: ``None`` for missing, ``1.0`` → ``"1"``."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return category_text(value.item())
    return str(value)


def aligned(frame: pd.DataFrame, kinds: Mapping[str, str], what: str) -> pd.DataFrame:
    """``frame`` restricted to the evaluated columns, numbers as floats (NaN for missing) and categories as
    text (``None`` for missing). A missing column is a :class:`TableError` naming it."""
    pandas = need("pandas")
    missing = [c for c in kinds if c not in frame.columns]
    if missing:
        raise TableError(f"the {what} table lacks column(s) {', '.join(map(repr, missing))} of the real table; "
                         f"fix: give a {what} table with the real table's columns (it has: {', '.join(map(str, frame.columns))})")
    out = {}
    for col, kind in kinds.items():
        if kind == NUMERIC:
            out[col] = pandas.to_numeric(frame[col], errors="coerce").astype(float)
        else:
            out[col] = pandas.Series([category_text(v) for v in frame[col]], index=frame.index, dtype=object)
    return pandas.DataFrame(out).reset_index(drop=True)


def split_kinds(kinds: Mapping[str, str], exclude: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """The numeric and the categorical column names, without ``exclude``."""
    skip = set(exclude)
    return ([c for c, k in kinds.items() if k == NUMERIC and c not in skip],
            [c for c, k in kinds.items() if k == CATEGORICAL and c not in skip])


def model_features(numeric: list[str], categorical: list[str]) -> Any:
    """A scikit-learn transformer: numeric columns with missing values set to the median, categorical ones
    one-hot encoded (missing is a category; a category unseen in training encodes as all zeros)."""
    compose, impute, pipeline, preprocessing = (need("sklearn.compose"), need("sklearn.impute"),
                                                need("sklearn.pipeline"), need("sklearn.preprocessing"))
    parts = []
    if numeric:
        parts.append(("numeric", impute.SimpleImputer(strategy="median"), numeric))
    if categorical:
        parts.append(("categorical", pipeline.make_pipeline(
            impute.SimpleImputer(strategy="constant", fill_value=MISSING, missing_values=None),
            preprocessing.OneHotEncoder(handle_unknown="ignore")), categorical))
    return compose.ColumnTransformer(parts, sparse_threshold=0)


def model_frame(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """The columns a model reads, categories as text objects (what :func:`model_features` expects)."""
    out = frame[numeric + categorical].copy()
    for col in categorical:
        out[col] = out[col].astype(object)
    return out


class DistanceEncoder:
    """Rows as points whose Euclidean distance is a sum over columns: a numeric column contributes its
    difference scaled by the reference's range (so 0 to about 1), a categorical column 1 when the categories
    differ (one-hot divided by √2) and 0 when they match. Missing numbers take the reference's median; a
    missing category is a category of its own."""

    def __init__(self, reference: pd.DataFrame, kinds: Mapping[str, str], frames: Iterable[pd.DataFrame] = ()) -> None:
        self.numeric, self.categorical = split_kinds(kinds)
        self.low: dict[str, float] = {}
        self.span: dict[str, float] = {}
        self.median: dict[str, float] = {}
        for col in self.numeric:
            present = reference[col].dropna()
            low, high = (float(present.min()), float(present.max())) if len(present) else (0.0, 1.0)
            self.low[col], self.span[col] = low, (high - low) or 1.0
            self.median[col] = float(present.median()) if len(present) else 0.0
        self.levels: dict[str, dict[str, int]] = {}
        for col in self.categorical:
            seen: dict[str, int] = {}
            for frame in (reference, *frames):
                for v in frame[col]:
                    seen.setdefault(MISSING if v is None else v, len(seen))
            self.levels[col] = seen

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """The points of ``frame``'s rows (one row each)."""
        numpy = need("numpy")
        blocks = []
        for col in self.numeric:
            values = frame[col].fillna(self.median[col]).to_numpy(dtype=float)
            blocks.append(((values - self.low[col]) / self.span[col])[:, None])
        for col in self.categorical:
            levels = self.levels[col]
            onehot = numpy.zeros((len(frame), len(levels)))
            for i, v in enumerate(frame[col]):
                j = levels.get(MISSING if v is None else v)
                if j is not None:
                    onehot[i, j] = 1.0 / math.sqrt(2.0)
            blocks.append(onehot)
        return numpy.hstack(blocks) if blocks else numpy.zeros((len(frame), 0))


def row_keys(frame: pd.DataFrame, kinds: Mapping[str, str]) -> list[tuple]:
    """One hashable key per row (numbers rounded to 9 significant digits, categories as text): equal keys
    are the same record."""
    keys = []
    for row in frame[list(kinds)].itertuples(index=False, name=None):
        key = []
        for value, kind in zip(row, kinds.values()):
            if kind == NUMERIC:
                key.append(None if value is None or math.isnan(value) else float(f"{value:.9g}"))
            else:
                key.append(value)
        keys.append(tuple(key))
    return keys


def twin_groups(first: list[tuple], second: list[tuple]) -> list[int]:
    """Cross-validation groups for the rows ``first + second`` (given by their :func:`row_keys`): rows whose
    record is in both lists share one group, every other row is a group of its own. A record in both tables
    carries no signal, and its twin in the training fold would reward memorising; a record repeated within
    one table (a generator repeating itself) stays a signal."""
    shared = set(first) & set(second)
    group_of: dict[tuple, int] = {}
    groups = []
    for i, key in enumerate([*first, *second]):
        groups.append(group_of.setdefault(key, len(group_of)) if key in shared else -1 - i)
    return groups
