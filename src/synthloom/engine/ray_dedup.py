"""Distributed exact and MinHash-LSH deduplication on Ray, with the local steps' exact decisions.

**Exact** (:class:`~synthloom.curate.exact_dedup.ExactDedup`): map tasks read row ranges and compute
each row's 128-bit key with the step's own ``key``; keys are *hash partitioned* (low 64 bits modulo
the number of workers) and each reduce task finds, per key of its partition, the row with the smallest
global position — the local step's survivor — and names it in every later row with that key.

**MinHash** (:class:`~synthloom.curate.minhash_dedup.MinHashDedup`): map tasks sketch row ranges
(shingles and ``rensa`` signatures, per row exactly as the local index does) and cut each signature
matrix into the columns of *band groups*; task ``g`` hashes the bands of group ``g`` over all rows and
returns their candidate pairs (each bucket's members paired with its first row,
:func:`~synthloom.curate.minhash_dedup.band_pairs`, the local code). The driver merges the candidates
(the local candidate set), has them verified — agreeing MinHash values are counted per band group and
summed, which is the local estimate; ``verify="exact"`` fetches the pairs' shingles — joins verified
pairs into clusters, picks survivors and yields each row in input order with the local verdict.

Ray tasks rather than ``ray.data``: every decision here depends on a row's global position and Ray
Data neither numbers rows nor keeps order without ``preserve_order``; the partitioning that pays is of
small arrays (keys, signature columns), not of rows, which tasks with explicit object refs express
directly; and a task is a pure function of (shard paths, row range), so Ray retries it when a worker
is lost. The driver reads the upstream shards once more to yield the rows, as a local step reads them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import ray

from ..curate.minhash_dedup import (
    MinHashDedup,
    MinHashIndex,
    _components,
    band_pairs,
    near_duplicate_verdict,
    pick_survivors,
    shingle_jaccard,
    similarity_from_agreement,
    unique_pairs,
)
from ..pipeline.step import GlobalStep, Rejected, RejectedRow
from ..records import ID
from .ray_shards import ShardTable, gather, iter_rows, ray_get, read_range

if TYPE_CHECKING:
    from pathlib import Path

    from .ray_global import RayGlobalContext

_PAIR_BLOCK = 65_536


# -- exact ---------------------------------------------------------------------------------------------
@ray.remote
def _exact_keys(step: GlobalStep, paths: Sequence[Path], offsets: np.ndarray, start: int, stop: int,
                parts: int) -> tuple[Any, ...]:
    rows = read_range(paths, offsets, start, stop)
    keys = [step.key(r) for r in rows]  # type: ignore[attr-defined]
    hi = np.fromiter((k >> 64 for k in keys), dtype=np.uint64, count=len(keys))
    lo = np.fromiter((k & 0xFFFF_FFFF_FFFF_FFFF for k in keys), dtype=np.uint64, count=len(keys))
    pos = np.arange(start, stop, dtype=np.int64)
    ids = np.empty(len(rows), dtype=object)
    for i, record in enumerate(rows):  # element by element: an id that is a list stays one object
        ids[i] = record.get(ID, "")
    part = lo % np.uint64(parts)
    out = tuple((hi[m], lo[m], pos[m], ids[m]) for m in (part == p for p in range(parts)))
    return out if parts > 1 else out[0]


@ray.remote
def _exact_first(*pieces: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """One key partition: (positions of later copies, the id of their key's first row)."""
    hi, lo, pos = (np.concatenate([p[k] for p in pieces]) for k in range(3))
    ids = np.concatenate([p[3] for p in pieces])
    order = np.lexsort((pos, lo, hi))
    head = np.ones(len(order), dtype=bool)
    head[1:] = (hi[order[1:]] != hi[order[:-1]]) | (lo[order[1:]] != lo[order[:-1]])
    first = order[np.maximum.accumulate(np.where(head, np.arange(len(order)), 0))]
    later = ~head
    return pos[order[later]], ids[first[later]]


def exact_dedup_form(step: GlobalStep, upstream: list[Path], ctx: RayGlobalContext) -> Iterator[dict | RejectedRow]:
    """:class:`~synthloom.curate.exact_dedup.ExactDedup` by hash partitioning of its keys."""
    table = ShardTable.of(upstream, ctx.workers)
    parts = max(1, ctx.workers)
    dup_pos, dup_of = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object)
    if table.rows:
        shipped = ray.put(type(step)(step.name, **step.config))
        maps = [_exact_keys.options(num_returns=parts).remote(shipped, table.paths, table.offsets, a, b, parts)
                for a, b in table.ranges(ctx.workers)]
        maps = [m if isinstance(m, list) else [m] for m in maps]
        found = ray_get([_exact_first.remote(*(m[p] for m in maps)) for p in range(parts)])
        dup_pos = np.concatenate([f[0] for f in found])
        dup_of = np.concatenate([f[1] for f in found])
        order = np.argsort(dup_pos)
        dup_pos, dup_of = dup_pos[order], dup_of[order]
    k = 0
    for i, record in enumerate(iter_rows(upstream)):
        if k < len(dup_pos) and dup_pos[k] == i:
            survivor = dup_of[k]
            k += 1
            yield RejectedRow(record, Rejected(f"exact duplicate of {survivor}", 1.0, duplicate_of=survivor))
        else:
            yield record


# -- MinHash -------------------------------------------------------------------------------------------
@ray.remote
def _sketch(step: MinHashDedup, paths: Sequence[Path], offsets: np.ndarray, start: int, stop: int,
            columns: list[tuple[int, int]]) -> tuple[Any, ...]:
    """One row range: its signature columns per band group, rows without words, text lengths, ids and
    (``verify="exact"``) shingles."""
    rows = read_range(paths, offsets, start, stop)
    index = MinHashIndex(**{**step.index_options, "workers": 1})  # type: ignore[arg-type]
    sig, lengths, empty, hashes, shingle_offsets = index._sketch([step._text(r) for r in rows])
    slices = [np.ascontiguousarray(sig[:, a:b]) for a, b in columns]
    shingles = (hashes, shingle_offsets) if index.verify == "exact" else None
    return (*slices, empty, lengths, [r.get(ID, "") for r in rows], shingles)


@ray.remote
def _band_candidates(bands: list[int], rows: int, col0: int, n_parts: int, *parts: np.ndarray) -> np.ndarray:
    """Candidate pairs of some bands over all rows (``parts``: the range's empty flags, then its columns)."""
    empty = np.concatenate(parts[:n_parts])
    live = np.flatnonzero(~empty)
    block = np.concatenate(parts[n_parts:])[live]
    found = []
    for b in bands:
        pairs = band_pairs(block[:, b * rows - col0:(b + 1) * rows - col0], live, b)
        if pairs is not None:
            found.append(pairs)
    return unique_pairs(found, len(empty))


@ray.remote
def _agreement(pairs: np.ndarray, offsets: np.ndarray, *parts: np.ndarray) -> np.ndarray:
    """How many of some signature columns agree, per row pair."""
    out = np.empty(len(pairs), dtype=np.int64)
    for s in range(0, len(pairs), _PAIR_BLOCK):
        block = pairs[s:s + _PAIR_BLOCK]
        out[s:s + len(block)] = (gather(parts, offsets, block[:, 0]) == gather(parts, offsets, block[:, 1])).sum(axis=1)
    return out


@ray.remote
def _take_ids(ids: list[Any], local: np.ndarray) -> list[Any]:
    return [ids[i] for i in local.tolist()]


@ray.remote
def _take_shingles(shingles: tuple[np.ndarray, np.ndarray], local: np.ndarray) -> list[np.ndarray]:
    hashes, offsets = shingles
    return [hashes[offsets[i]:offsets[i + 1]].copy() for i in local.tolist()]


class _Sketches:
    """The map tasks' outputs (object refs), by range; what the driver asks of them."""

    def __init__(self, step: MinHashDedup, table: ShardTable, workers: int) -> None:
        opts = step.index_options
        self.num_perm, self.rows, self.threshold = int(opts["num_perm"]), int(opts["rows"]), float(opts["threshold"])
        self.verify = str(opts["verify"])
        bands = int(opts["bands"])
        self.groups = [g.tolist() for g in np.array_split(np.arange(bands), min(max(1, workers), bands))]
        self.columns = [(g[0] * self.rows, (g[-1] + 1) * self.rows) for g in self.groups]
        self.columns[-1] = (self.columns[-1][0], self.num_perm)  # columns past the bands count in the estimate
        shipped = ray.put(type(step)(step.name, **step.config))
        ranges = table.ranges(workers)
        self.offsets = np.array([a for a, _ in ranges] + [table.rows], dtype=np.int64)
        self.n = table.rows
        g = len(self.groups)
        self.maps = [_sketch.options(num_returns=g + 4).remote(shipped, table.paths, table.offsets, a, b, self.columns)
                     for a, b in ranges]
        self.empty = [m[g] for m in self.maps]
        self.lengths = [m[g + 1] for m in self.maps]
        self.ids = [m[g + 2] for m in self.maps]
        self.shingles = [m[g + 3] for m in self.maps]

    def candidates(self) -> np.ndarray:
        found = ray_get([_band_candidates.remote(group, self.rows, self.columns[k][0], len(self.maps), *self.empty,
                                                 *(m[k] for m in self.maps)) for k, group in enumerate(self.groups)])
        return unique_pairs([f for f in found if len(f)], self.n)

    def similarity(self, pairs: np.ndarray) -> np.ndarray:
        """The local index's similarity of row pairs: exact Jaccard or the signature estimate."""
        if not len(pairs):
            return np.zeros(0, dtype=np.float64)
        if self.verify == "exact":
            sets = self._shingles(np.unique(pairs))
            return np.array([shingle_jaccard(sets[i], sets[j]) for i, j in pairs.tolist()], dtype=np.float64)
        pairs_ref = ray.put(pairs)
        counts = ray_get([_agreement.remote(pairs_ref, self.offsets, *(m[k] for m in self.maps))
                          for k in range(len(self.groups))])
        return similarity_from_agreement(np.sum(counts, axis=0) / self.num_perm)

    def _shingles(self, rows: np.ndarray) -> dict[int, np.ndarray]:
        which = np.searchsorted(self.offsets, rows, side="right") - 1
        asks = {c: rows[which == c] for c in np.unique(which).tolist()}
        got = ray_get([_take_shingles.remote(self.shingles[c], asks[c] - self.offsets[c]) for c in asks])
        return {int(r): h for c, hs in zip(asks, got) for r, h in zip(asks[c].tolist(), hs)}

    def row_ids(self, rows: np.ndarray) -> dict[int, Any]:
        """The ids of some rows (fetched from the ranges' tasks' outputs, only those)."""
        which = np.searchsorted(self.offsets, rows, side="right") - 1
        asks = {c: rows[which == c] for c in np.unique(which).tolist()}
        got = ray_get([_take_ids.remote(self.ids[c], asks[c] - self.offsets[c]) for c in asks])
        return {int(r): rid for c, found in zip(asks, got) for r, rid in zip(asks[c].tolist(), found)}


def minhash_dedup_form(step: MinHashDedup, upstream: list[Path], ctx: RayGlobalContext) -> Iterator[dict | RejectedRow]:
    """:class:`~synthloom.curate.minhash_dedup.MinHashDedup` with signatures per row range and LSH per band group."""
    table = ShardTable.of(upstream, ctx.workers)
    if not table.rows:
        yield from step.run(iter(()))
        return
    sk = _Sketches(step, table, ctx.workers)
    pairs = sk.candidates()
    if sk.verify != "none" and len(pairs):
        pairs = pairs[sk.similarity(pairs) >= sk.threshold - 1e-12]
    cluster = _components(sk.n, pairs)
    lengths = np.concatenate(ray_get(sk.lengths)) if step.keep == "longest" else np.zeros(sk.n, dtype=np.int64)
    survivor = pick_survivors(cluster, lengths, step.keep)
    dup = np.flatnonzero(survivor != np.arange(sk.n))
    similarity = np.ones(sk.n, dtype=np.float64)
    similarity[dup] = sk.similarity(np.stack([dup, survivor[dup]], axis=1))
    ids = sk.row_ids(np.unique(survivor[dup]))
    ngram = int(step.index_options["ngram"])  # type: ignore[call-overload]
    for i, record in enumerate(iter_rows(upstream)):
        if survivor[i] != i:
            yield RejectedRow(record, near_duplicate_verdict(ids[int(survivor[i])], float(similarity[i]), ngram))
        else:
            yield record
