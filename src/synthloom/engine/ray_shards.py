"""Upstream shards as one numbered row sequence, cut into ranges that Ray tasks read on their own.

The distributed forms of global steps (:mod:`.ray_global`) need every row's *global position* — its
number in the order ``read_shards(folder)`` yields it, which is the order a local global step sees —
because "first occurrence wins", LSH bucket heads and kept-row order are all defined by it. A
:class:`ShardTable` lists the shard files of the upstream folders in that order with their row counts
(counted by tasks, in parallel); :meth:`ShardTable.ranges` cuts ``[0, rows)`` into contiguous ranges,
and :func:`read_range` reads one range on a worker (shared storage on a cluster) with the very reader
``read_shards`` uses, so a worker sees the same dicts the driver would.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import ray

# the per-file readers of ``read_shards`` (private there): reading a range must give the same dicts
from ..io.shards import _iter_jsonl_rows, _iter_parquet_rows, list_shards, read_shards

#: the most rows one task reads at a time (bounds a task's memory)
MAX_RANGE_ROWS = 100_000
#: ranges per worker when the data is small enough (keeps workers busy when ranges differ in cost)
RANGES_PER_WORKER = 4


def _count_rows(path: Path) -> int:
    if path.suffix == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    with path.open("rb") as handle:  # _iter_jsonl_rows skips blank lines
        return sum(1 for line in handle if line.strip())


@ray.remote
def _count_many(paths: list[Path]) -> list[int]:
    return [_count_rows(p) for p in paths]


def iter_rows(folders: Sequence[Path]) -> Iterator[dict[str, Any]]:
    """The upstream rows in order, as the local engine reads them (one folder: ``read_shards(folder)``)."""
    for folder in folders:
        yield from read_shards(folder)


@dataclass(frozen=True)
class ShardTable:
    """The shard files of the upstream folders in reading order, and where each starts (``offsets[i]`` is
    the global position of shard ``i``'s first row; ``offsets[-1]`` is the number of rows)."""

    paths: tuple[Path, ...]
    offsets: np.ndarray

    @classmethod
    def of(cls, folders: Sequence[Path], workers: int) -> ShardTable:
        """List and count the shards of ``folders`` (counting spread over ``workers`` tasks)."""
        paths = tuple(path for folder in folders for _, path in list_shards(folder))
        counts: list[int] = []
        if paths:
            groups = [list(g) for g in np.array_split(np.array(paths, dtype=object), min(len(paths), max(1, workers)))]
            for part in ray_get([_count_many.remote(g) for g in groups]):
                counts.extend(part)
        offsets = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64)
        return cls(paths, offsets)

    @property
    def rows(self) -> int:
        return int(self.offsets[-1])

    def ranges(self, workers: int, align: int = 0) -> list[tuple[int, int]]:
        """Contiguous ``(start, stop)`` ranges covering every row, about ``RANGES_PER_WORKER`` per worker
        and at most ``MAX_RANGE_ROWS`` rows each. ``align > 0``: every range but the last starts and stops
        at a multiple of ``align`` (a step that works in batches of ``align`` rows sees the same batches);
        ``align == 0``: ranges end at shard boundaries (no shard is read by two tasks)."""
        n = self.rows
        if n == 0:
            return []
        target = min(MAX_RANGE_ROWS, max(1, math.ceil(n / (max(1, workers) * RANGES_PER_WORKER))))
        if align > 0:
            step = max(1, math.ceil(target / align)) * align
            return [(s, min(s + step, n)) for s in range(0, n, step)]
        out: list[tuple[int, int]] = []
        start = 0
        for end in self.offsets[1:].tolist():
            if end - start >= target or end == n:
                if end > start:
                    out.append((start, end))
                start = end
        return out


def read_range(paths: Sequence[Path], offsets: np.ndarray, start: int, stop: int) -> list[dict[str, Any]]:
    """Rows ``start..stop-1`` (global positions) of the shards ``paths`` starting at ``offsets``."""
    rows: list[dict[str, Any]] = []
    first = int(np.searchsorted(offsets, start, side="right") - 1)
    for i in range(first, len(paths)):
        lo, hi = int(offsets[i]), int(offsets[i + 1])
        if lo >= stop:
            break
        if hi <= start:
            continue
        reader = _iter_parquet_rows if paths[i].suffix == ".parquet" else _iter_jsonl_rows
        rows.extend(itertools.islice(reader(paths[i]), max(start, lo) - lo, min(stop, hi) - lo))
    return rows


def gather(parts: Sequence[np.ndarray], offsets: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Rows ``index`` (global positions) of an array split by range into ``parts`` (part ``c`` holds rows
    ``offsets[c]..offsets[c+1]-1``)."""
    out = np.empty((len(index), *parts[0].shape[1:]), dtype=parts[0].dtype)
    which = np.searchsorted(offsets, index, side="right") - 1
    order = np.argsort(which, kind="stable")
    bounds = np.searchsorted(which[order], np.arange(len(parts) + 1))
    for c, part in enumerate(parts):
        sel = order[bounds[c]:bounds[c + 1]]
        if len(sel):
            out[sel] = part[index[sel] - offsets[c]]
    return out


def ray_get(refs: Any) -> Any:
    """``ray.get`` that re-raises a task's own exception (a user's error keeps its one-line message)."""
    try:
        return ray.get(refs)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause
        if isinstance(cause, Exception):
            raise cause from None
        raise
