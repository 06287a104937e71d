"""Distributed decontamination and embedding-based selection on Ray: per-row work on workers, the global
decision on the driver with the local step's own code.

* **Decontaminate** (:class:`~synthloom.curate.decontaminate.Decontaminate`): the benchmark index is
  built once on the driver (``step.benchmark()``, as the local step does before reading a row) and
  broadcast with ``ray.put``; tasks check row ranges cut at multiples of the step's ``batch_size``, in
  the step's batches, so every ``check_many`` call sees the batch it sees locally (the embedding method
  encodes per batch). The driver yields each row, flagged with the step's own ``flag``.
* **DEITA** (:class:`~synthloom.curate.selection.deita.DeitaSelect`) and **top-k per cluster**
  (:class:`~synthloom.curate.selection.clusters.TopKPerCluster`): embedding every row is the heavy part;
  tasks embed row ranges cut at multiples of the embedding batch (the local :class:`EmbeddingSpill`
  batches, so the encoder sees the same batches) and compute the rows' scores; the driver stores the
  embeddings in a memory-mapped spill file, as locally, and runs the step's ``select`` (the greedy pass
  or k-means and ranking) over them and the rows read back through the JSON round trip of the local
  row spill.
* **SemDeDup** (:class:`~synthloom.curate.semantic_dedup.SemanticDedup`): the same split, with ranges
  cut at multiples of the step's embedding batch (``EMBED_ROWS``) and k-means and the within-cluster
  pass (the step's ``select``) on the driver.

Ray tasks rather than ``ray.data``: the work is cut by global row position (batch alignment, order of
the output) and the results are small arrays the driver assembles in order; see :mod:`.ray_dedup`.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import ray

from ..curate.decontaminate import Benchmark, Decontaminate, Match
from ..curate.selection.clusters import TopKPerCluster
from ..curate.selection.deita import DeitaSelect
from ..curate.selection.spill import EmbeddingSpill
from ..curate.semantic_dedup import EMBED_ROWS, SemanticDedup
from ..io.formats import dumps_record
from ..pipeline.step import GlobalStep, RejectedRow
from ..records import ID
from .ray_shards import ShardTable, iter_rows, ray_get, read_range

if TYPE_CHECKING:
    from pathlib import Path

    from .ray_global import RayGlobalContext

#: the batch :class:`EmbeddingSpill` encodes in (the selection steps use its default)
EMBED_BATCH: int = inspect.signature(EmbeddingSpill.__init__).parameters["batch"].default


# -- decontamination -----------------------------------------------------------------------------------
@ray.remote
def _check(step: Decontaminate, benchmark: Benchmark, paths: Sequence[Path], offsets: np.ndarray, start: int,
           stop: int) -> list[tuple[int, Match]]:
    rows = read_range(paths, offsets, start, stop)
    found: list[tuple[int, Match]] = []
    for s in range(0, len(rows), step.batch_size):
        for k, match in enumerate(benchmark.check_many(step.texts(rows[s:s + step.batch_size]))):
            if match is not None:
                found.append((start + s + k, match))
    return found


def decontaminate_form(step: Decontaminate, upstream: list[Path], ctx: RayGlobalContext) -> Iterator[dict | RejectedRow]:
    """:class:`~synthloom.curate.decontaminate.Decontaminate` with the index broadcast and rows checked in parallel."""
    benchmark = step.benchmark()  # a bad benchmark path or column fails before any row is read, as locally
    table = ShardTable.of(upstream, ctx.workers)
    matches: dict[int, Match] = {}
    if table.rows:
        shipped, index = ray.put(type(step)(step.name, **step.config)), ray.put(benchmark)
        for found in ray_get([_check.remote(shipped, index, table.paths, table.offsets, a, b)
                              for a, b in table.ranges(ctx.workers, align=step.batch_size)]):
            matches.update(found)
    for i, record in enumerate(iter_rows(upstream)):
        match = matches.get(i)
        yield record if match is None else step.flag(record, match)


# -- selection -----------------------------------------------------------------------------------------
@ray.remote
def _embed_and_score(step: GlobalStep, paths: Sequence[Path], offsets: np.ndarray, start: int,
                     stop: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One row range's embeddings (in the local batches), scores (NaN: none) and ids."""
    rows = read_range(paths, offsets, start, stop)
    with EmbeddingSpill(None, step.encoder) as emb:  # type: ignore[attr-defined]
        for record in rows:
            emb.add(step.embed_text(record))  # type: ignore[attr-defined]
        vectors = np.array(emb.finish(), dtype=np.float32)
    if isinstance(step, DeitaSelect):
        scores = [step._score(r) for r in rows]
        values = np.asarray([np.nan if s is None else s for s in scores], dtype=np.float64)
        return vectors, values, [str(r.get(ID, "")) for r in rows]
    assert isinstance(step, TopKPerCluster)
    return vectors, np.asarray([step.value(r) for r in rows], dtype=np.float64), []


def _spilled(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Rows as the local steps' row spill gives them back (written and read as JSON)."""
    for record in rows:
        yield orjson.loads(orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY))


def embedding_selection_form(step: DeitaSelect | TopKPerCluster, upstream: list[Path],
                             ctx: RayGlobalContext) -> Iterator[dict | RejectedRow]:
    """DEITA or top-k per cluster with the rows embedded and scored in parallel, the selection on the driver."""
    table = ShardTable.of(upstream, ctx.workers)
    if not table.rows:
        yield from step.run(iter(()))
        return
    shipped = ray.put(type(step)(step.name, **step.config))
    refs = [_embed_and_score.remote(shipped, table.paths, table.offsets, a, b)
            for a, b in table.ranges(ctx.workers, align=EMBED_BATCH)]
    ctx.spill_dir.mkdir(parents=True, exist_ok=True)
    path = ctx.spill_dir / f"ray-embeddings-{step.name}.f32"
    values, ids, dim = [], [], 0
    try:
        with path.open("wb") as spill:
            for ref in refs:  # in order, one range at a time: the driver holds one range's vectors
                vectors, vals, range_ids = ray_get(ref)
                spill.write(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
                values.append(vals)
                ids.extend(range_ids)
                dim = vectors.shape[1]
        embeddings = np.memmap(path, dtype=np.float32, mode="r", shape=(table.rows, dim))
        scores = np.concatenate(values)
        rows = _spilled(iter_rows(upstream))
        if isinstance(step, DeitaSelect):
            yield from step.select(rows, scores, ids, embeddings)
        else:
            yield from step.select(rows, scores, embeddings)
    finally:
        path.unlink(missing_ok=True)


# -- semantic dedup ------------------------------------------------------------------------------------
@ray.remote
def _embed_rows(step: SemanticDedup, paths: Sequence[Path], offsets: np.ndarray, start: int,
                stop: int) -> tuple[np.ndarray, list[Any]]:
    """One row range's embeddings, in the step's batches, and ids."""
    rows = read_range(paths, offsets, start, stop)
    vectors = [step._vectors(rows[s:s + EMBED_ROWS]) for s in range(0, len(rows), EMBED_ROWS)]
    return np.concatenate(vectors), [r.get(ID, "") for r in rows]


def semantic_dedup_form(step: SemanticDedup, upstream: list[Path], ctx: RayGlobalContext) -> Iterator[dict | RejectedRow]:
    """SemDeDup with the rows embedded in parallel, k-means and the duplicate pass on the driver."""
    table = ShardTable.of(upstream, ctx.workers)
    if not table.rows:
        yield from step.run(iter(()))
        return
    shipped = ray.put(type(step)(step.name, **step.config))
    refs = [_embed_rows.remote(shipped, table.paths, table.offsets, a, b)
            for a, b in table.ranges(ctx.workers, align=EMBED_ROWS)]
    chunks, ids = [], []
    for ref in refs:
        vectors, range_ids = ray_get(ref)
        chunks.append(vectors)
        ids.extend(range_ids)
    # the local step spills rows as JSON lines (``SpillWriter``) and reads them back
    rows = (orjson.loads(dumps_record(r, row_number=i)) for i, r in enumerate(iter_rows(upstream)))
    yield from step.select(rows, ids, np.concatenate(chunks))
