"""Pages, counts, sorts and value summaries over one table's chunks, never holding the table in memory.

A page without a selection reads only the chunks its rows lie in. A search or filter is evaluated chunk
by chunk in a thread pool (Arrow releases the GIL), reading only the columns it needs; the number of
matches of each chunk is cached under the chunk's identity (file, size, mtime), so the next page, and a
running run's new shards, cost only what is new. A sort reads the sort column of the selected rows and
keeps their order (two int32 arrays) for the next pages.
"""

from __future__ import annotations

import os
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..io.formats import is_json_field, table_to_rows
from .query import Query, QueryError, chunk_mask
from .shard_set import Chunk, ShardSet, read_chunk

T = TypeVar("T")
_POOL = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="synthloom-viewer")
#: distinct values beyond which a column's value list stops (ids, free text)
MAX_DISTINCT = 200


@dataclass
class Page:
    """Rows ``offset .. offset + len(rows)`` of ``total`` selected rows (None until every chunk is
    counted: at least ``at_least``); each row carries its ``ref``."""

    rows: list[dict[str, Any]]
    total: int | None
    offset: int
    columns: list[str]
    at_least: int = 0


def ref_of(chunk: Chunk, row: int, root: Path | None = None) -> str:
    """A row's address: its shard file (relative to ``root`` when inside it), row group and row."""
    path = chunk.path
    if root is not None and path.is_relative_to(root):
        path = path.relative_to(root)
    return f"{path.as_posix()}|{chunk.group}|{row}"


class _Lru(OrderedDict):
    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit
        self.lock = threading.Lock()

    def get_item(self, key: Any) -> Any:
        with self.lock:
            if key in self:
                self.move_to_end(key)
                return self[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self[key] = value
            while len(self) > self.limit:
                self.popitem(last=False)


def parallel(fn: Callable[[Chunk], T], chunks: Iterable[Chunk]) -> list[T]:
    """``fn`` over ``chunks`` in the viewer's thread pool, results in order."""
    return list(_POOL.map(fn, chunks))


class TableView:
    """Queries over one table (``data``, ``rejected``, ``errors``...) of a run."""

    def __init__(self, name: str, shards: ShardSet, root: Path | None = None):
        self.name = name
        self.shards = shards
        self.root = root
        self._counts = _Lru(200_000)  # (chunk key, query key) -> rows selected
        self._orders = _Lru(4)  # (chunk keys, query key, sort) -> (chunk index, row) arrays in order

    # -- structure ----------------------------------------------------------------------------------
    def chunks(self) -> list[Chunk]:
        return self.shards.chunks()

    def columns(self, chunks: list[Chunk] | None = None) -> dict[str, pa.Field]:
        return self.shards.columns(chunks)

    def read(self, chunk: Chunk, columns: Iterable[str] | None) -> pa.Table:
        return read_chunk(chunk, columns)

    # -- selection ---------------------------------------------------------------------------------
    def _mask(self, chunk: Chunk, query: Query, fields: dict[str, pa.Field]) -> np.ndarray | None:
        return chunk_mask(self.read(chunk, query.needed(fields)), query, fields)

    def counts(self, chunks: list[Chunk], query: Query, fields: dict[str, pa.Field], *,
               enough: int | None = None) -> list[int | None]:
        """Rows ``query`` selects in each chunk (cached per chunk version). With ``enough``, chunks are
        counted in order, a batch at a time, only until ``enough`` rows are found (the rest stay None)."""
        if not query.selects:
            return [c.rows for c in chunks]
        qkey = query.key()
        found: list[int | None] = [self._counts.get_item((c.key, qkey)) for c in chunks]
        if enough is None:
            self._count(chunks, found, query, fields, qkey)
            return found
        batch = 4 * (_POOL._max_workers or 2)
        at = 0
        while at < len(chunks) and sum(n for n in found[:at] if n) < enough:
            self._count(chunks[at:at + batch], found, query, fields, qkey, start=at)
            at += batch
        return [n if i < at else self._counts.get_item((c.key, qkey)) for i, (c, n) in enumerate(zip(chunks, found))]

    def _count(self, chunks: list[Chunk], found: list[int | None], query: Query, fields: dict[str, pa.Field],
               qkey: str, start: int = 0) -> None:
        todo = [i for i, c in enumerate(chunks) if found[start + i] is None]

        def count(chunk: Chunk) -> int:
            mask = self._mask(chunk, query, fields)
            return chunk.rows if mask is None else int(mask.sum())

        for i, n in zip(todo, parallel(count, [chunks[i] for i in todo])):
            self._counts.put((chunks[i].key, qkey), n)
            found[start + i] = n

    def total(self, query: Query) -> int:
        """How many rows ``query`` selects (every chunk counted)."""
        chunks = self.chunks()
        return sum(self.counts(chunks, query, self.columns(chunks)))  # type: ignore[arg-type]

    def page(self, query: Query, offset: int = 0, limit: int = 50, columns: list[str] | None = None, *,
             exact_total: bool = True) -> Page:
        """Selected rows ``offset .. offset + limit`` with ``columns`` (None: all), in table or sort order.
        ``exact_total=False`` stops a search once the page is full (``total`` None, see :meth:`total`)."""
        if offset < 0 or limit < 0:
            raise QueryError(f"offset {offset} / limit {limit}: both must be 0 or more")
        chunks = self.chunks()
        fields = self.columns(chunks)
        shown = list(fields) if columns is None else [c for c in columns if c in fields]
        if query.sort is not None:
            return self._sorted_page(chunks, fields, query, offset, limit, shown)
        counts = self.counts(chunks, query, fields, enough=None if exact_total else offset + limit)
        known = [n for n in counts if n is not None]
        total = sum(known) if len(known) == len(counts) else None
        rows: list[dict[str, Any]] = []
        start = 0
        for chunk, n in zip(chunks, counts):
            if n is None:
                break
            if start + n <= offset or not n:
                start += n
                continue
            if len(rows) >= limit:
                break
            table = self.read(chunk, [*shown, *query.needed(fields)])
            mask = chunk_mask(table, query, fields)
            positions = np.arange(chunk.rows) if mask is None else np.flatnonzero(mask)
            skip = max(0, offset - start)
            take = positions[skip: skip + limit - len(rows)]
            rows.extend(self._rows(table.select([c for c in shown if c in table.column_names]), chunk, take))
            start += n
        return Page(rows, total, offset, shown, at_least=sum(known))

    def _sorted_page(self, chunks: list[Chunk], fields: dict[str, pa.Field], query: Query, offset: int, limit: int,
                     shown: list[str]) -> Page:
        if query.sort not in fields:
            raise QueryError(f"sort by {query.sort!r}: no such column; columns: {', '.join(fields)}")
        if pa.types.is_nested(fields[query.sort].type) or is_json_field(fields[query.sort]):
            raise QueryError(f"sort by {query.sort!r}: it holds lists or objects; sort by a column of text or numbers")
        key = (tuple(c.key for c in chunks), query.key(), query.sort, query.descending)
        order = self._orders.get_item(key)
        if order is None:
            order = self._sort_order(chunks, fields, query)
            self._orders.put(key, order)
        which, rows_at = order
        window = slice(offset, offset + limit)
        picked = list(zip(which[window].tolist(), rows_at[window].tolist()))
        by_chunk: dict[int, list[int]] = {}
        for ci, r in picked:
            by_chunk.setdefault(ci, []).append(r)
        got: dict[tuple[int, int], dict[str, Any]] = {}
        for ci, rows in by_chunk.items():
            table = self.read(chunks[ci], shown)
            for r, row in zip(rows, self._rows(table, chunks[ci], np.array(rows))):
                got[(ci, r)] = row
        return Page([got[p] for p in picked], len(which), offset, shown)

    def _sort_order(self, chunks: list[Chunk], fields: dict[str, pa.Field], query: Query) -> tuple[np.ndarray, np.ndarray]:
        column = query.sort
        target = fields[column].type

        def values(chunk: Chunk) -> tuple[pa.Array, np.ndarray]:
            table = self.read(chunk, [column, *query.needed(fields)])
            mask = chunk_mask(table, query, fields)
            positions = np.arange(chunk.rows) if mask is None else np.flatnonzero(mask)
            array = table.column(column).combine_chunks() if column in table.column_names else pa.nulls(chunk.rows, target)
            return _as_type(array.take(pa.array(positions, pa.int64())), target), positions

        parts = parallel(values, chunks)
        if not parts:
            return np.zeros(0, np.int32), np.zeros(0, np.int32)
        keyed = pa.table({
            "v": pa.chunked_array([v for v, _ in parts], type=target),
            "c": np.concatenate([np.full(len(p), i, np.int32) for i, (_, p) in enumerate(parts)]),
            "r": np.concatenate([p.astype(np.int32) for _, p in parts]),
        })
        order = pc.sort_indices(keyed, sort_keys=[("v", "descending" if query.descending else "ascending"),
                                                  ("c", "ascending"), ("r", "ascending")])  # nulls last
        return keyed.column("c").take(order).to_numpy(), keyed.column("r").take(order).to_numpy()

    def _rows(self, table: pa.Table, chunk: Chunk, positions: np.ndarray) -> list[dict[str, Any]]:
        """Rows ``positions`` of ``table`` (one chunk) as records with their ``ref``."""
        if not len(positions):
            return []
        taken = table.take(pa.array(positions, pa.int64()))
        rows = table_to_rows(taken) if taken.num_columns else [{} for _ in positions]
        for row, p in zip(rows, positions.tolist()):
            row["_ref"] = ref_of(chunk, p, self.root)
        return rows

    # -- single rows and summaries -----------------------------------------------------------------------
    def row(self, ref: str) -> dict[str, Any]:
        """The full row at ``ref`` (see :func:`ref_of`)."""
        chunk, index = self.locate(ref)
        return self._rows(self.read(chunk, None), chunk, np.array([index]))[0]

    def locate(self, ref: str) -> tuple[Chunk, int]:
        try:
            path, group, index = ref.rsplit("|", 2)
            group_no, row_no = int(group), int(index)
        except ValueError:
            raise QueryError(f"row {ref!r}: not a row address of table {self.name}") from None
        for chunk in self.chunks():
            if ref_of(chunk, 0, self.root).rsplit("|", 2)[0] == path and chunk.group == group_no:
                if not 0 <= row_no < chunk.rows:
                    break
                return chunk, row_no
        raise QueryError(f"row {ref!r}: not in table {self.name} (was the run rewritten? reload the page)")

    def find(self, ids: list[str], column: str = "id") -> list[dict[str, Any]]:
        """The rows whose ``column`` is one of ``ids`` (every version of them), full."""
        chunks = self.chunks()
        if column not in self.columns(chunks) or not ids:
            return []
        wanted = pa.array([str(i) for i in ids])

        def hits(chunk: Chunk) -> np.ndarray:
            values = self.read(chunk, [column]).column(column).combine_chunks()
            if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
                values = values.cast(pa.string())
            return np.flatnonzero(pc.is_in(values, value_set=wanted).fill_null(False).to_numpy(zero_copy_only=False))

        out: list[dict[str, Any]] = []
        for chunk, at in zip(chunks, parallel(hits, chunks)):
            if len(at):
                out.extend(self._rows(self.read(chunk, None), chunk, at))
        return out

    def values(self, column: str, query: Query | None = None) -> dict[str, Any]:
        """What ``column`` holds over the selected rows: counts of its most common values (text, booleans,
        whole numbers with few values) or min / max / mean (numbers)."""
        query = query or Query()
        chunks = self.chunks()
        fields = self.columns(chunks)
        if column not in fields:
            raise QueryError(f"values of {column!r}: no such column; columns: {', '.join(fields)}")
        t = fields[column].type
        if pa.types.is_nested(t) or is_json_field(fields[column]):
            return {"column": column, "kind": "nested"}

        def summary(chunk: Chunk) -> tuple[Counter | None, int, list[float]]:
            table = self.read(chunk, [column, *query.needed(fields)])
            mask = chunk_mask(table, query, fields)
            array = table.column(column).combine_chunks() if column in table.column_names else pa.nulls(chunk.rows)
            if mask is not None:
                array = array.filter(pa.array(mask))
            nulls = array.null_count
            if pa.types.is_floating(array.type) or pa.types.is_integer(array.type):
                mm = pc.min_max(array)
                stats = [] if mm["min"].as_py() is None else [mm["min"].as_py(), mm["max"].as_py(),
                                                                 float(pc.sum(array).as_py()), len(array) - nulls]
            else:
                stats = []
            if pa.types.is_floating(array.type):
                return Counter(), nulls, stats
            counted = pc.value_counts(array.drop_null())
            if len(counted) > MAX_DISTINCT * 5:
                return None, nulls, stats  # free text or ids: no value list
            return Counter(dict(zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist()))), nulls, stats

        total: Counter = Counter()
        many = False
        nulls, lo, hi, summed, n = 0, None, None, 0.0, 0
        for counter, chunk_nulls, stats in parallel(summary, chunks):
            if counter is None or many or len(total) > MAX_DISTINCT * 50:
                many, total = True, Counter()
            else:
                total.update(counter)
            nulls += chunk_nulls
            if stats:
                lo = stats[0] if lo is None else min(lo, stats[0])
                hi = stats[1] if hi is None else max(hi, stats[1])
                summed, n = summed + stats[2], n + stats[3]
        out: dict[str, Any] = {"column": column, "nulls": nulls, "distinct": None if many else len(total), "kind": "text"}
        if lo is not None:
            out.update(kind="number", min=lo, max=hi, mean=summed / n if n else None)
        mostly_unique = len(total) > MAX_DISTINCT and len(total) * 2 > sum(total.values())
        if total and not mostly_unique and (lo is None or len(total) <= 20):
            out["kind"] = "values" if lo is None else "number-values"
            out["values"] = [[v, c] for v, c in total.most_common(MAX_DISTINCT)]
        return out


def _as_type(array: pa.Array, target: pa.DataType) -> pa.Array:
    if array.type == target:
        return array
    try:
        return array.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return pa.nulls(len(array), target)


