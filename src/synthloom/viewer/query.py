"""What the viewer asks of a table — a full-text search, filters on column values and scores, a sort —
and how one chunk of rows answers it with ``pyarrow.compute``.

Search: the words of ``q`` (a ``"quoted phrase"`` stays one) must each appear, case-insensitively, in
some searched column; by default every text column except ``_lineage``, including text inside lists and
objects (chat messages, tool calls) and JSON-encoded columns. Filters: ``column op value`` with ``op`` one
of :data:`OPS`; numbers compare as numbers, ``contains`` looks inside text, lists and objects.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ..io.formats import LINEAGE_COLUMN, is_json_field

OPS = ("=", "!=", "<", "<=", ">", ">=", "contains", "!contains", "null", "!null")
_COMPARE = {"=": pc.equal, "!=": pc.not_equal, "<": pc.less, "<=": pc.less_equal, ">": pc.greater, ">=": pc.greater_equal}
#: columns never searched by default (model identities and sampling params would match everything)
UNSEARCHED = (LINEAGE_COLUMN,)


class QueryError(ValueError):
    """A search, filter or sort the table cannot answer; the message names it and the fix."""


@dataclass(frozen=True)
class Filter:
    """``column op value`` (``value`` unused by ``null`` / ``!null``)."""

    column: str
    op: str
    value: Any = None

    def describe(self) -> str:
        return f"{self.column} {self.op}" + ("" if self.op in ("null", "!null") else f" {self.value!r}")


@dataclass(frozen=True)
class Query:
    """A search, filters and a sort over one table."""

    search: str = ""
    filters: tuple[Filter, ...] = ()
    search_columns: tuple[str, ...] = ()  # empty: every text column
    sort: str | None = None
    descending: bool = False
    terms: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", search_terms(self.search))
        for f in self.filters:
            if f.op not in OPS:
                raise QueryError(f"filter on {f.column!r}: unknown operator {f.op!r}; use one of {' '.join(OPS)}")

    @property
    def selects(self) -> bool:
        """Whether the query keeps only some rows."""
        return bool(self.terms or self.filters)

    def key(self) -> str:
        """What the selected rows depend on (not the sort), for caches."""
        return orjson.dumps([self.terms, [[f.column, f.op, f.value] for f in self.filters], self.search_columns],
                            default=str).decode()

    def searched(self, columns: dict[str, pa.Field]) -> list[str]:
        if self.search_columns:
            missing = [c for c in self.search_columns if c not in columns]
            if missing:
                raise QueryError(f"search in {missing[0]!r}: no such column; columns: {', '.join(columns)}")
            return list(self.search_columns)
        return [name for name, f in columns.items() if name not in UNSEARCHED and _has_text(f.type)]

    def needed(self, columns: dict[str, pa.Field]) -> list[str]:
        """The columns a chunk must be read with to evaluate this query's selection."""
        out = [f.column for f in self.filters]
        if self.terms:
            out += self.searched(columns)
        return list(dict.fromkeys(out))

    @staticmethod
    def from_params(params: dict[str, str]) -> Query:
        """From URL parameters: ``q``, ``in`` (comma-separated columns), ``f`` (a JSON list of
        ``[column, op, value]``) and ``sort`` (a column, ``-column`` for descending)."""
        raw = params.get("f") or "[]"
        try:
            items = orjson.loads(raw)
            filters = tuple(Filter(str(i[0]), str(i[1]), i[2] if len(i) > 2 else None) for i in items)
        except (orjson.JSONDecodeError, TypeError, IndexError, KeyError):
            raise QueryError(f"filters {raw!r}: give a JSON list of [column, op, value]") from None
        sort = (params.get("sort") or "").strip() or None
        descending = bool(sort and sort.startswith("-"))
        search_in = tuple(c for c in (params.get("in") or "").split(",") if c)
        return Query(params.get("q") or "", filters, search_in, sort.lstrip("-") if sort else None, descending)


def search_terms(text: str) -> tuple[str, ...]:
    """The words of a search, a ``"quoted phrase"`` kept whole (an unclosed quote is a plain character)."""
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    return tuple(w for w in words if w)


def _has_text(t: pa.DataType) -> bool:
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        return True
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _has_text(t.value_type)
    if pa.types.is_struct(t):
        return any(_has_text(t.field(i).type) for i in range(t.num_fields))
    return False


def text_match(array: pa.Array | pa.ChunkedArray, term: str) -> np.ndarray | None:
    """Which values hold ``term`` (case-insensitive), looking inside lists and objects; None when
    the type holds no text."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    t = array.type
    if pa.types.is_dictionary(t):  # match each distinct value once
        distinct = text_match(array.dictionary, term)
        if distinct is None:
            return None
        indices = array.indices.fill_null(0).to_numpy(zero_copy_only=False)
        hits = distinct[indices] if len(distinct) else np.zeros(len(array), dtype=bool)
        return hits & array.is_valid().to_numpy(zero_copy_only=False)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        hits = pc.match_substring(array, term, ignore_case=True)
        return hits.fill_null(False).to_numpy(zero_copy_only=False)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        inner = text_match(pc.list_flatten(array), term)
        if inner is None:
            return None
        out = np.zeros(len(array), dtype=bool)
        out[pc.list_parent_indices(array).to_numpy()[inner]] = True
        return out
    if pa.types.is_struct(t):
        out = None
        for i in range(t.num_fields):
            m = text_match(pc.struct_field(array, [i]), term)
            if m is not None:
                out = m if out is None else out | m
        if out is not None and array.null_count:
            out &= array.is_valid().to_numpy(zero_copy_only=False)
        return out
    return None


def chunk_mask(table: pa.Table, query: Query, columns: dict[str, pa.Field]) -> np.ndarray | None:
    """The rows of ``table`` (one chunk, read with :meth:`Query.needed`) that ``query`` keeps; None: all."""
    if not query.selects:
        return None
    n = table.num_rows
    mask = np.ones(n, dtype=bool)
    for f in query.filters:
        if f.column not in columns:
            raise QueryError(f"filter on {f.column!r}: no such column; columns: {', '.join(columns)}")
        column = table.column(f.column) if f.column in table.column_names else pa.nulls(n)
        mask &= filter_mask(column, f, columns[f.column])
    if query.terms:
        searched = [table.column(c) for c in query.searched(columns) if c in table.column_names]
        for term in query.terms:
            hit = np.zeros(n, dtype=bool)
            for column in searched:
                m = text_match(column, term)
                if m is not None:
                    hit |= m
            mask &= hit
    return mask


def filter_mask(column: pa.Array | pa.ChunkedArray, f: Filter, declared: pa.Field) -> np.ndarray:
    """Which values of ``column`` pass filter ``f`` (``declared``: the column's field in the table)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type) and f.op not in ("contains", "!contains"):
        column = column.dictionary_decode()
    if f.op in ("null", "!null"):
        valid = column.is_valid().to_numpy(zero_copy_only=False)
        return ~valid if f.op == "null" else valid
    if f.op in ("contains", "!contains"):
        hits = text_match(column, str(f.value if f.value is not None else ""))
        if hits is None:
            hits = text_match(column.cast(pa.string()), str(f.value)) if _castable(column.type) else np.zeros(len(column), bool)
        return ~hits if f.op == "!contains" else hits
    t = column.type
    if pa.types.is_null(t):
        return np.zeros(len(column), dtype=bool) if f.op != "!=" else np.ones(len(column), dtype=bool)
    if pa.types.is_nested(t) or (is_json_field(declared) and f.op not in ("=", "!=")):
        raise QueryError(f"filter {f.describe()}: {f.column} holds lists or objects; use `contains` instead")
    value = _typed_value(f, t, declared)
    result = _COMPARE[f.op](column, value)
    if f.op == "!=":
        return result.fill_null(True).to_numpy(zero_copy_only=False)
    return result.fill_null(False).to_numpy(zero_copy_only=False)


def _castable(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)


def _typed_value(f: Filter, t: pa.DataType, declared: pa.Field) -> pa.Scalar:
    """``f.value`` as a scalar comparable with a column of type ``t``."""
    value = f.value
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise QueryError(f"filter {f.describe()}: {f.column} holds numbers; give a number") from None
        return pa.scalar(number)
    if pa.types.is_boolean(t):
        text = str(value).strip().lower()
        if text not in ("true", "false", "1", "0", "yes", "no"):
            raise QueryError(f"filter {f.describe()}: {f.column} holds true/false; give true or false")
        return pa.scalar(text in ("true", "1", "yes"))
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if is_json_field(declared) and not isinstance(value, str):
            value = orjson.dumps(value).decode()
        return pa.scalar("" if value is None else str(value), type=t)
    if pa.types.is_dictionary(t):
        return pa.scalar(str(value))
    try:
        return pa.scalar(value).cast(t)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        raise QueryError(f"filter {f.describe()}: cannot compare {f.column} ({t}) with {value!r}") from None
