"""Top-k per cluster: k-means on embeddings, then the best rows of each cluster by a score column.

Selecting by score alone piles the kept rows into the topics the scorer likes; taking the best ``k`` of
every cluster keeps coverage (the cluster-then-rank selection used e.g. by Cherry LLM's pre-experience
sampling, Li et al. 2023, arXiv 2308.12032, and by diversity-aware selection in general).
Clustering is spherical k-means on the offline MiniLM embeddings of ``text`` (seeded, so reruns give
the same clusters). The kept rows get their cluster number in ``cluster_column``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from ...pipeline.step import GlobalStep, Rejected, RejectedRow
from .spill import EmbeddingSpill, RowSpill, column_root, numeric, spill_folder, value_at


class TopKPerCluster(GlobalStep):
    """Clusters rows by the embedding of ``text`` (``n_clusters``, default √(n/2)) and keeps the ``k``
    highest-``column`` rows of each cluster (``order: asc`` for the lowest)."""

    type_name = "select_topk_per_cluster"

    def __init__(self, name: str, *, column: str, k: int, text: str | list[str] = "instruction",
                 n_clusters: int | None = None, order: str = "desc", seed: int = 0,
                 cluster_column: str = "cluster", encoder: str = "minilm", inputs: list[str] | None = None) -> None:
        where = f"select_topk_per_cluster {name!r}"
        self.text = [text] if isinstance(text, str) else list(text)
        if not self.text or not all(isinstance(c, str) and c for c in self.text):
            raise ValueError(f"{where}: text must name the column(s) to embed, got {text!r}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"{where}: k must be a whole number >= 1, got {k!r}")
        if n_clusters is not None and (isinstance(n_clusters, bool) or not isinstance(n_clusters, int) or n_clusters < 1):
            raise ValueError(f"{where}: n_clusters must be a whole number >= 1, got {n_clusters!r}")
        if order not in ("desc", "asc"):
            raise ValueError(f"{where}: order must be 'desc' (highest first) or 'asc', got {order!r}")
        super().__init__(name, reads=[*self.text, column_root(column)], writes=[cluster_column], inputs=inputs or ())
        self.column, self.k, self.n_clusters, self.order, self.seed = column, k, n_clusters, order, seed
        self.cluster_column, self.encoder = cluster_column, encoder

    def embed_text(self, record: dict[str, Any]) -> str:
        """The text of ``record`` that is embedded."""
        from ..embeddings import record_text

        return record_text(record, self.text, f"select_topk_per_cluster {self.name!r}")

    def value(self, record: dict[str, Any]) -> float:
        """The row's ``column`` value (NaN when it has no numeric value)."""
        v = numeric(value_at(record, self.column))
        return np.nan if v is None else v

    def run(self, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any] | RejectedRow]:
        folder = spill_folder(self)
        with RowSpill(folder) as spill, EmbeddingSpill(folder, self.encoder) as emb:
            values = []
            for record in rows:
                spill.add(record)
                values.append(self.value(record))
                emb.add(self.embed_text(record))
            yield from self.select(spill, np.asarray(values, dtype=np.float64), emb.finish())

    def select(self, rows: Iterable[dict[str, Any]], vals: np.ndarray, vectors: np.ndarray) -> Iterator[dict[str, Any] | RejectedRow]:
        """Clusters all rows' embeddings (``vectors``), ranks ``vals`` in each cluster, then yields each row
        (``rows``, in input order) kept or rejected (the Ray form calls it with embeddings computed on workers)."""
        from ..semantic_dedup import kmeans

        n = len(vals)
        k_clusters = self.n_clusters or max(1, math.ceil(math.sqrt(n / 2)))
        labels = kmeans(vectors, k_clusters, seed=self.seed)[0] if n else np.zeros(0, dtype=np.int64)
        rank = np.full(n, -1, dtype=np.int64)
        for c in np.unique(labels):
            members = np.flatnonzero((labels == c) & ~np.isnan(vals))
            key = -vals[members] if self.order == "desc" else vals[members]
            rank[members[np.argsort(key, kind="stable")]] = np.arange(len(members))
        for i, record in enumerate(rows):
            if np.isnan(vals[i]):
                yield RejectedRow(record, Rejected(f"{self.column}: no numeric value ({value_at(record, self.column)!r})"))
                continue
            cluster = int(labels[i])
            if rank[i] < self.k:
                record[self.cluster_column] = cluster
                yield record
            else:
                yield RejectedRow(record, Rejected(
                    f"not in the top {self.k} of cluster {cluster} ({self.column} {vals[i]:.4g} ranks {rank[i] + 1})",
                    float(vals[i])))
