"""Distributed forms of global steps for the Ray engine: the same rows, verdicts and order as ``step.run``.

The Ray engine runs a global step on the driver over the materialised upstream rows unless
:func:`distributed_form` gives it a form that spreads the per-row work over Ray workers. A form is
called as ``form(upstream, ctx)`` with the upstream shard folders (shared storage on a cluster) and
yields exactly what ``step.run(read_shards(folder))`` yields on one machine — the same records, the
same :class:`~synthloom.pipeline.step.RejectedRow` verdicts (reasons, scores, ``duplicate_of``), in
the same order — so the engine partitions and commits them as it does locally.

Covered (each form's module says how it stays equal to the local step):

* exact and MinHash-LSH dedup — :mod:`.ray_dedup` (hash partitioning of keys; band partitioning);
* decontamination, DEITA, top-k per cluster and SemDeDup — :mod:`.ray_scoring` (index broadcast /
  embeddings in parallel, the decision on the driver).

Only the exact built-in classes are distributed: a subclass may override what a row's verdict is, and
only ``step.run`` knows that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ..curate.decontaminate import Decontaminate
from ..curate.exact_dedup import ExactDedup
from ..curate.minhash_dedup import MinHashDedup
from ..curate.selection.clusters import TopKPerCluster
from ..curate.selection.deita import DeitaSelect
from ..curate.semantic_dedup import SemanticDedup
from ..pipeline.step import GlobalStep, RejectedRow
from .ray_dedup import exact_dedup_form, minhash_dedup_form
from .ray_scoring import decontaminate_form, embedding_selection_form, semantic_dedup_form

__all__ = ["DistributedForm", "RayGlobalContext", "distributed_form"]


@dataclass
class RayGlobalContext:
    """Where a distributed form runs: ``workers`` Ray CPUs to spread the work over, and ``spill_dir``, a
    scratch folder on the driver (shared storage on a real cluster)."""

    workers: int
    spill_dir: Path


DistributedForm = Callable[[list[Path], RayGlobalContext], Iterator[dict | RejectedRow]]

_FORMS = {
    ExactDedup: exact_dedup_form,
    MinHashDedup: minhash_dedup_form,
    Decontaminate: decontaminate_form,
    DeitaSelect: embedding_selection_form,
    TopKPerCluster: embedding_selection_form,
    SemanticDedup: semantic_dedup_form,
}
# No distributed form (the engine runs ``step.run`` on the driver):
# * select_band, select_top: a row's work is reading one number; workers would read the rows the driver
#   must read anyway to yield them, so the form would only add a pass.
# * rouge_filter: inherently sequential (a row is compared with the rows kept before it), no exact split.
# * join and the methods' global steps (ToolACE catalogue/sample, persona dedup, Magpie neighbours,
#   co-annotation routing): little per-row work next to reading the rows.
# * dedup_semantic with ``embedding_column`` (vectors already in the rows): nothing heavy left to spread.


def distributed_form(step: GlobalStep) -> DistributedForm | None:
    """The Ray form of ``step``, or None when it has none (the engine then runs ``step.run`` on the driver)."""
    form = _FORMS.get(type(step))
    if isinstance(step, SemanticDedup) and step.embedding_column:
        return None
    return partial(form, step) if form is not None else None  # type: ignore[arg-type]
