"""Near-duplicate detection with MinHash and LSH banding (Broder 1997, "On the resemblance and
containment of documents"; banding as in Leskovec, Rajaraman & Ullman, *Mining of Massive Datasets*,
ch. 3), the method of GPT-3, The Pile, Gopher and most pre-training corpora.

Each text becomes a set of word ``ngram`` shingles (see :mod:`.text_shingles`); ``rensa`` computes
``num_perm`` MinHash values per set (Rust). The signature is cut into ``bands`` of ``rows`` values;
two texts sharing one whole band are *candidates*. Candidates are then *verified*: by the fraction of
agreeing MinHash values, an estimate of their Jaccard similarity (``verify="estimate"``, default),
by the exact Jaccard of their shingle sets (``"exact"``, keeps the shingles in memory), or not at all
(``"none"``, LSH alone, as datasketch/distilabel do). Verified pairs are joined by union-find into
clusters; in each cluster one row survives by a stated rule (``keep="first"`` in input order, or
``"longest"`` text, ties to the first) and every other row is a duplicate *of the survivor*.

Defaults — word 3-grams, 128 permutations, Jaccard threshold 0.7 — make one or two words changed in
a 100-word paragraph a near-duplicate (Jaccard about 0.94 and 0.89), while unrelated texts of a few
dozen words share almost no 3-grams. ``bands``/``rows`` default to the split minimising
``0.2·false positives + 0.8·false negatives`` around the threshold (candidates are verified, so a
missed pair costs more than an extra check): 18 bands of 7 rows at 0.7.

Memory per row: 2 bytes per permutation (the low 16 bits of each MinHash value, "b-bit minwise
hashing", Li & König 2010; the chance agreement of 2^-16 is corrected for) plus ~20 bytes, so
1,000,000 rows at 128 permutations hold ~280 MB; ``verify="exact"`` adds 8 bytes per shingle.
"""

from __future__ import annotations

import array
import pickle
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import rensa

from ..pipeline.step import GlobalStep, Rejected, RejectedRow
from ..records import ID
from .text_shingles import text_shingles

__all__ = ["MinHashDedup", "MinHashIndex", "MinHashResult", "band_pairs", "lsh_params", "minhash_clusters", "minhash_dedup",
           "near_duplicate_verdict", "pick_survivors", "shingle_jaccard", "similarity_from_agreement", "unique_pairs"]

VERIFY_MODES = ("estimate", "exact", "none")
KEEP_RULES = ("first", "longest")
_CHANCE = 2.0 ** -16
_MIX = np.uint64(0x9E3779B97F4A7C15)


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int, fp_weight: float = 0.2, fn_weight: float = 0.8) -> tuple[int, int]:
    """``(bands, rows)`` with ``bands*rows <= num_perm`` minimising the weighted areas under the
    candidate-probability curve below (false positives) and above (false negatives) the threshold."""
    best: tuple[float, int, int] | None = None
    lo, hi = np.linspace(0.0, threshold, 201), np.linspace(threshold, 1.0, 201)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = np.trapezoid(1 - (1 - lo**r) ** b, lo)
            fn = np.trapezoid((1 - hi**r) ** b, hi)
            err = fp_weight * fp + fn_weight * fn
            if best is None or err < best[0]:
                best = (err, b, r)
    assert best is not None
    return best[1], best[2]


def band_pairs(block: np.ndarray, live: np.ndarray, band: int) -> np.ndarray | None:
    """One LSH band's candidates: ``block`` holds band ``band``'s MinHash values of the rows ``live`` (the
    ascending numbers of the rows that have words, one line each); returns ``(bucket's first row, member)``
    pairs, or None when no bucket holds two rows. :class:`MinHashIndex` and the Ray form (one worker per
    group of bands, :mod:`synthloom.engine.ray_minhash`) both call it, so their candidates are the same."""
    if len(live) < 2:
        return None
    with np.errstate(over="ignore"):
        h = np.full(len(live), np.uint64(band + 1) * _MIX)
        for k in range(block.shape[1]):
            h = (h ^ block[:, k].astype(np.uint64)) * _MIX
            h ^= h >> np.uint64(31)
    order = np.argsort(h, kind="stable")
    hs = h[order]
    new = np.empty(len(hs), dtype=bool)
    new[0] = True
    np.not_equal(hs[1:], hs[:-1], out=new[1:])
    if new.all():
        return None
    first = order[np.maximum.accumulate(np.where(new, np.arange(len(hs)), 0))]
    dup = ~new
    return np.stack([live[first[dup]], live[order[dup]]], axis=1)


def unique_pairs(pairs: list[np.ndarray], n: int) -> np.ndarray:
    """The distinct ``(i, j)`` rows of several pair arrays over ``n`` rows, sorted (shape ``(k, 2)``)."""
    if not pairs:
        return np.zeros((0, 2), dtype=np.int64)
    allp = np.concatenate(pairs)
    key = np.unique(allp[:, 0].astype(np.int64) * n + allp[:, 1])
    return np.stack([key // n, key % n], axis=1)


def similarity_from_agreement(agree: np.ndarray) -> np.ndarray:
    """Jaccard estimated from the fraction of agreeing 16-bit MinHash values (chance agreement removed)."""
    return np.clip((agree - _CHANCE) / (1 - _CHANCE), 0.0, 1.0)


def shingle_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard of two texts' shingle hashes (1.0 when both have none)."""
    sa, sb = set(a.tolist()), set(b.tolist())
    union = len(sa | sb)
    return len(sa & sb) / union if union else 1.0


def pick_survivors(cluster: np.ndarray, lengths: np.ndarray, keep: str) -> np.ndarray:
    """The row kept for each row's cluster: its first row (``keep="first"``), or its longest text, ties
    to the first (``"longest"``)."""
    n = len(cluster)
    if keep != "longest" or not n:
        return cluster.copy()
    # per cluster, the longest row; ties go to the smallest index (lexsort: last key is primary)
    order = np.lexsort((np.arange(n), -lengths, cluster))
    head = np.ones(n, dtype=bool)
    head[1:] = cluster[order[1:]] != cluster[order[:-1]]
    best = np.empty(n, dtype=np.int64)
    best[cluster[order[head]]] = order[head]
    return best[cluster]


def near_duplicate_verdict(survivor_id: Any, similarity: float, ngram: int) -> Rejected:
    """The verdict on a row that repeats row ``survivor_id`` with Jaccard ``similarity``."""
    reason = f"near-duplicate of {survivor_id} (Jaccard ≈ {similarity:.3f} on word {ngram}-gram shingles)"
    return Rejected(reason, similarity, duplicate_of=survivor_id)


@dataclass
class MinHashResult:
    """Per input row (arrays of length n): ``cluster`` id (the index of the cluster's first row),
    ``survivor`` (index of the row kept for its cluster; equal to the row's own index when kept) and
    ``similarity`` (Jaccard with the survivor: estimated from signatures, exact with
    ``verify="exact"``; 1.0 for survivors)."""

    cluster: np.ndarray
    survivor: np.ndarray
    similarity: np.ndarray

    def __len__(self) -> int:
        return len(self.cluster)

    @property
    def is_duplicate(self) -> np.ndarray:
        return self.survivor != np.arange(len(self.survivor))

    @property
    def n_duplicates(self) -> int:
        return int(self.is_duplicate.sum())


class MinHashIndex:
    """Accumulates texts batch by batch (:meth:`add`), then clusters them (:meth:`result`)."""

    def __init__(self, *, ngram: int = 3, num_perm: int = 128, threshold: float = 0.7, bands: int | None = None,
                 rows: int | None = None, seed: int = 1, verify: str = "estimate", workers: int = 2) -> None:
        if not isinstance(ngram, int) or ngram < 1:
            raise ValueError(f"minhash: ngram must be a whole number of words >= 1, got {ngram!r}")
        if not isinstance(num_perm, int) or not 8 <= num_perm <= 1024:
            raise ValueError(f"minhash: num_perm must be an integer in [8, 1024], got {num_perm!r}")
        if not 0.0 < float(threshold) <= 1.0:
            raise ValueError(f"minhash: threshold is a Jaccard similarity in (0, 1], got {threshold!r}")
        if verify not in VERIFY_MODES:
            raise ValueError(f"minhash: verify must be one of {', '.join(VERIFY_MODES)}, got {verify!r}")
        if (bands is None) != (rows is None):
            raise ValueError("minhash: give both `bands` and `rows`, or neither (they are then tuned to the threshold)")
        if bands is None:
            bands, rows = lsh_params(round(float(threshold), 4), num_perm)
        assert rows is not None
        if bands < 1 or rows < 1 or bands * rows > num_perm:
            raise ValueError(f"minhash: bands*rows must be <= num_perm ({bands}*{rows} > {num_perm})")
        self.ngram, self.num_perm, self.threshold = ngram, num_perm, float(threshold)
        self.bands, self.rows, self.seed, self.verify = bands, rows, seed, verify
        self.workers = max(1, int(workers))
        self._sigs: list[np.ndarray] = []
        self._lengths: list[np.ndarray] = []
        self._empty: list[np.ndarray] = []
        self._shingles: list[tuple[np.ndarray, np.ndarray]] = []
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def settings(self) -> dict[str, object]:
        return {"ngram": self.ngram, "num_perm": self.num_perm, "threshold": self.threshold, "bands": self.bands,
                "rows": self.rows, "seed": self.seed, "verify": self.verify}

    # -- sketching ------------------------------------------------------------------------------
    def _sketch(self, texts: Sequence[str | None] | pa.Array) -> tuple[np.ndarray, ...]:
        arr = texts if isinstance(texts, (pa.Array, pa.ChunkedArray)) else pa.array(
            ["" if t is None else t for t in texts], type=pa.large_string())
        hashes, offsets = text_shingles(arr, self.ngram)
        matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
            hashes, offsets.astype(np.uint64), self.num_perm, self.seed)
        flat = array.array("I")
        for row in matrix.to_rows():
            flat.extend(row)
        sig = np.frombuffer(flat, dtype=np.uint32).reshape(-1, self.num_perm)
        lengths = pc.fill_null(pc.utf8_length(arr.cast(pa.large_string())), 0).to_numpy().astype(np.int64)
        empty = np.diff(offsets) == 0
        return (sig & 0xFFFF).astype(np.uint16), lengths, empty, hashes, offsets

    def _store(self, parts: tuple[np.ndarray, ...]) -> None:
        sig, lengths, empty, hashes, offsets = parts
        self._sigs.append(sig)
        self._lengths.append(lengths)
        self._empty.append(empty)
        if self.verify == "exact":
            self._shingles.append((hashes, offsets))
        self._n += len(sig)

    def add(self, texts: Sequence[str | None] | pa.Array) -> None:
        """Sketch one batch of texts (rows are numbered in the order they are added)."""
        if len(texts):
            self._store(self._sketch(texts))

    def add_batches(self, batches: Iterable[Sequence[str | None] | pa.Array]) -> None:
        """Sketch many batches, ``workers`` at a time (Arrow and rensa release the GIL)."""
        if self.workers == 1:
            for batch in batches:
                self.add(batch)
            return
        with ThreadPoolExecutor(self.workers) as pool:
            pending = []
            for batch in batches:
                if len(batch):
                    pending.append(pool.submit(self._sketch, batch))
                if len(pending) > 2 * self.workers:
                    self._store(pending.pop(0).result())
            for fut in pending:
                self._store(fut.result())

    # -- clustering -----------------------------------------------------------------------------
    def _compact(self) -> None:
        if len(self._sigs) > 1:
            self._sigs = [np.concatenate(self._sigs)]
            self._lengths = [np.concatenate(self._lengths)]
            self._empty = [np.concatenate(self._empty)]

    def candidate_pairs(self) -> np.ndarray:
        """Distinct ``(i, j)`` with ``i < j`` sharing at least one LSH band (shape ``(k, 2)``): per
        band and bucket, every member paired with the bucket's first row."""
        self._compact()
        n = self._n
        if n < 2:
            return np.zeros((0, 2), dtype=np.int64)
        sig, empty = self._sigs[0], self._empty[0]
        live = np.flatnonzero(~empty)
        pairs = []
        for b in range(self.bands):
            found = band_pairs(sig[live, b * self.rows:(b + 1) * self.rows], live, b)
            if found is not None:
                pairs.append(found)
        return unique_pairs(pairs, n)

    def estimated_similarity(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Jaccard estimated from the (16-bit) MinHash signatures of row pairs."""
        self._compact()
        sig = self._sigs[0]
        out = np.empty(len(left), dtype=np.float64)
        for s in range(0, len(left), 65536):
            agree = (sig[left[s:s + 65536]] == sig[right[s:s + 65536]]).mean(axis=1)
            out[s:s + 65536] = similarity_from_agreement(agree)
        return out

    def exact_similarity(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Exact Jaccard of the shingle sets of row pairs (needs ``verify="exact"``)."""
        if self.verify != "exact":
            raise RuntimeError("exact_similarity needs MinHashIndex(verify='exact'): shingles are not kept otherwise")
        if len(self._shingles) > 1:
            offs, acc = [np.zeros(1, dtype=np.int64)], 0
            for h, o in self._shingles:
                offs.append(o[1:] + acc)
                acc += len(h)
            self._shingles = [(np.concatenate([h for h, _ in self._shingles]), np.concatenate(offs))]
        hashes, offsets = self._shingles[0]
        out = np.empty(len(left), dtype=np.float64)
        for k, (i, j) in enumerate(zip(left.tolist(), right.tolist())):
            out[k] = shingle_jaccard(hashes[offsets[i]:offsets[i + 1]], hashes[offsets[j]:offsets[j + 1]])
        return out

    def similar_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Verified candidate pairs ``(pairs (k, 2), similarity (k,))``."""
        pairs = self.candidate_pairs()
        if self.verify == "none" or not len(pairs):
            sim = self.estimated_similarity(pairs[:, 0], pairs[:, 1]) if len(pairs) else np.zeros(0)
            return pairs, sim
        measure = self.exact_similarity if self.verify == "exact" else self.estimated_similarity
        sim = measure(pairs[:, 0], pairs[:, 1])
        ok = sim >= self.threshold - 1e-12
        return pairs[ok], sim[ok]

    def clusters(self) -> np.ndarray:
        """Cluster id per row: the smallest row index of its connected component of verified pairs."""
        pairs, _ = self.similar_pairs()
        return _components(self._n, pairs)

    def result(self, keep: str = "first") -> MinHashResult:
        """Clusters, each row's survivor and its similarity to it."""
        if keep not in KEEP_RULES:
            raise ValueError(f"minhash: keep must be one of {', '.join(KEEP_RULES)}, got {keep!r}")
        cluster = self.clusters()
        n = self._n
        self._compact()
        survivor = pick_survivors(cluster, self._lengths[0] if n else np.zeros(0, dtype=np.int64), keep)
        similarity = np.ones(n, dtype=np.float64)
        dup = np.flatnonzero(survivor != np.arange(n))
        if len(dup):
            measure = self.exact_similarity if self.verify == "exact" else self.estimated_similarity
            similarity[dup] = measure(dup, survivor[dup])
        return MinHashResult(cluster=cluster, survivor=survivor, similarity=similarity)


def _components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Union-find by min-label propagation with pointer jumping (vectorised): each row's label is
    the smallest index in its connected component."""
    parent = np.arange(n, dtype=np.int64)
    if not len(pairs):
        return parent
    u, v = pairs[:, 0], pairs[:, 1]
    while True:
        pu, pv = parent[u], parent[v]
        differ = pu != pv
        if not differ.any():
            return parent
        lo, hi = np.minimum(pu, pv)[differ], np.maximum(pu, pv)[differ]
        np.minimum.at(parent, hi, lo)
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped


def _batches(texts: Sequence[str | None] | pa.Array, size: int) -> Iterable[Sequence[str | None] | pa.Array]:
    for start in range(0, len(texts), size):
        yield texts[start:start + size]


def minhash_dedup(texts: Sequence[str | None] | pa.Array, *, ngram: int = 3, num_perm: int = 128,
                  threshold: float = 0.7, bands: int | None = None, rows: int | None = None, seed: int = 1,
                  verify: str = "estimate", keep: str = "first", workers: int = 2,
                  batch_size: int = 20_000) -> MinHashResult:
    """Near-duplicate clusters of ``texts`` (a list or an Arrow string array; None counts as empty)
    with each row's survivor and similarity. Rows with no words are never near-duplicates."""
    index = MinHashIndex(ngram=ngram, num_perm=num_perm, threshold=threshold, bands=bands, rows=rows,
                         seed=seed, verify=verify, workers=workers)
    index.add_batches(_batches(texts, max(1, int(batch_size))))
    return index.result(keep=keep)


def minhash_clusters(texts: Sequence[str | None] | pa.Array, **options: object) -> list[int]:
    """Cluster id per text (the index of the cluster's first text); same options as :func:`minhash_dedup`."""
    options.pop("keep", None)
    return minhash_dedup(texts, **options).cluster.tolist()  # type: ignore[arg-type]


class _Spill:
    """Rows written to disk in pickled chunks while the index is built, read back in order."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.rows_path = folder / "minhash-rows.pkl"
        self.ids_path = folder / "minhash-ids.pkl"
        self._rows = self.rows_path.open("wb")
        self._ids = self.ids_path.open("wb")

    def write(self, chunk: list[dict[str, Any]]) -> None:
        pickle.dump(chunk, self._rows, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump([r.get(ID, "") for r in chunk], self._ids, protocol=pickle.HIGHEST_PROTOCOL)

    def close(self) -> None:
        self._rows.close()
        self._ids.close()

    @staticmethod
    def _read(path: Path) -> Iterator[list[Any]]:
        with path.open("rb") as handle:
            while True:
                try:
                    yield pickle.load(handle)
                except EOFError:
                    return

    def ids(self) -> Iterator[list[str]]:
        return self._read(self.ids_path)

    def rows(self) -> Iterator[list[dict[str, Any]]]:
        return self._read(self.rows_path)

    def remove(self) -> None:
        self.close()
        for p in (self.rows_path, self.ids_path):
            p.unlink(missing_ok=True)


class MinHashDedup(GlobalStep):
    """Removes near-duplicate rows (MinHash-LSH on word shingles), naming the row each one repeats.

    ``columns`` is one column or a list (joined with newlines). Each removed row names the surviving row it
    duplicates and their similarity. Rows are spilled to disk while the index is built, so memory
    holds signatures, not rows."""

    type_name = "dedup_minhash"
    runtime_options = ("batch_size",)

    def __init__(self, name: str, *, columns: str | list[str], ngram: int = 3, num_perm: int = 128,
                 threshold: float = 0.7, bands: int | None = None, rows: int | None = None,
                 verify: str = "estimate", keep: str = "first", seed: int = 1, batch_size: int = 8192,
                 inputs: list[str] | None = None) -> None:
        cols = [columns] if isinstance(columns, str) else list(columns or [])
        if not cols or not all(isinstance(c, str) and c for c in cols):
            raise ValueError(f"dedup_minhash {name!r}: `columns` must name the text column(s) to compare")
        super().__init__(name, reads=cols, inputs=inputs or ())
        if keep not in KEEP_RULES:
            raise ValueError(f"dedup_minhash {name!r}: keep must be one of {', '.join(KEEP_RULES)}, got {keep!r}")
        try:
            probe = MinHashIndex(ngram=ngram, num_perm=num_perm, threshold=threshold, bands=bands, rows=rows,
                                 seed=seed, verify=verify)
        except ValueError as exc:
            raise ValueError(f"dedup_minhash {name!r}: {exc}") from None
        self.columns = cols
        self.index_options = probe.settings()
        self.keep = keep
        self.batch_size = max(1, int(batch_size))

    def _text(self, record: dict[str, Any]) -> str:
        parts = [record.get(c) for c in self.columns]
        return "\n".join("" if p is None else str(p) for p in parts)

    def run(self, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any] | RejectedRow]:
        folder = self.ctx.spill_dir if self.ctx is not None and self.ctx.state_dir is not None else None
        tmp = None
        if folder is None:
            tmp = tempfile.TemporaryDirectory(prefix="synthloom-minhash-")
            folder = Path(tmp.name)
        spill = _Spill(folder)
        try:
            yield from self._dedup(rows, spill)
        finally:
            spill.remove()
            if tmp is not None:
                tmp.cleanup()

    def _dedup(self, rows: Iterator[dict[str, Any]], spill: _Spill) -> Iterator[dict[str, Any] | RejectedRow]:
        index = MinHashIndex(**self.index_options)  # type: ignore[arg-type]

        def batches() -> Iterator[list[str]]:
            chunk: list[dict[str, Any]] = []
            for record in rows:
                chunk.append(record)
                if len(chunk) >= self.batch_size:
                    spill.write(chunk)
                    yield [self._text(r) for r in chunk]
                    chunk = []
            if chunk:
                spill.write(chunk)
                yield [self._text(r) for r in chunk]

        index.add_batches(batches())
        spill.close()
        result = index.result(keep=self.keep)
        dup = result.is_duplicate
        wanted = set(np.unique(result.survivor[dup]).tolist())
        survivor_ids: dict[int, str] = {}
        i = 0
        for chunk_ids in spill.ids():
            for rid in chunk_ids:
                if i in wanted:
                    survivor_ids[i] = rid
                i += 1
        i = 0
        for chunk in spill.rows():
            for record in chunk:
                if dup[i]:
                    sid = survivor_ids[int(result.survivor[i])]
                    yield RejectedRow(record, near_duplicate_verdict(sid, float(result.similarity[i]), index.ngram))
                else:
                    yield record
                i += 1
