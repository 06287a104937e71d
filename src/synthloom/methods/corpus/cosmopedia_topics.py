"""Cosmopedia's first stage: seed texts clustered by their embeddings, each cluster's topic named and its
educational value rated by a model, the clusters of low value dropped.

Ben Allal, L., Lozhkov, A., Penedo, G., Wolf, T., von Werra, L. (2024). *Cosmopedia: how to create
large-scale synthetic data for pre-training*. Hugging Face (blog post, dataset and code:
github.com/huggingface/cosmopedia; clustering: github.com/huggingface/text-clustering).

The paper embeds 100k web samples with all-MiniLM-L6-v2, clusters them (UMAP + DBSCAN, 145 clusters),
and asks Mixtral-8x7B-Instruct, shown 10 samples of a cluster, for the cluster's topic and an
educational value from 1 to 10; 38 clusters judged uneducational are excluded. The remaining 15M web
samples are assigned to the clusters and each becomes a prompt with its cluster's topic (see
:mod:`.cosmopedia`).

:class:`CosmopediaTopics` (``type: cosmopedia_topics``) does that on the rows it receives: the same
offline MiniLM embeddings (``synthloom[embed]``), spherical k-means in numpy (the project's
``semantic_dedup.kmeans``; deterministic in ``seed``) instead of UMAP + DBSCAN, and one
JSON-schema-constrained call per cluster (``cosmopedia_label.jinja``) that returns
``{"topic", "educational_value"}``. Every seed row comes out with its ``cluster``, ``topic`` and
``educational_value``, or rejected with the reason its cluster was dropped.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np

from ...curate.judges.constrained import value_schema
from ...curate.selection.spill import EmbeddingSpill, RowSpill, spill_folder
from ...pipeline.model_step import ModelCalls, chat
from ...pipeline.step import GlobalStep, Rejected, RejectedRow
from ...records import ID, add_lineage

CITATION = ("Ben Allal et al. 2024, Cosmopedia: how to create large-scale synthetic data for pre-training, "
            "Hugging Face (github.com/huggingface/cosmopedia)")
#: the most characters of a topic name the labeller may write
TOPIC_CHARS = 60


def label_schema() -> dict[str, Any]:
    """The labeller's reply: a short topic name, then an educational value from 1 to 10."""
    return {"type": "object",
            "properties": {"topic": {"type": "string", "maxLength": TOPIC_CHARS},
                           "educational_value": value_schema((1, 10))},
            "required": ["topic", "educational_value"], "additionalProperties": False}


def cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a word boundary when there is one."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[:limit]
    return head.rsplit(" ", 1)[0] if " " in head else head


def cluster_labels(vectors: np.ndarray, n_clusters: int | None, seed: int) -> np.ndarray:
    """Spherical k-means labels of ``vectors`` (``n_clusters``, default ⌈√(n/2)⌉), renumbered 0, 1, ...
    in the order of each cluster's first row (so empty k-means clusters leave no gaps)."""
    from ...curate.semantic_dedup import kmeans

    n = len(vectors)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    k = n_clusters or max(1, math.ceil(math.sqrt(n / 2)))
    raw = kmeans(np.asarray(vectors, dtype=np.float32), k, seed=seed)[0].tolist()
    order: dict[int, int] = {}
    for c in raw:
        order.setdefault(c, len(order))
    return np.asarray([order[c] for c in raw], dtype=np.int64)


class CosmopediaTopics(ModelCalls, GlobalStep):
    """Clusters the rows by the MiniLM embedding of ``column`` (k-means, ``n_clusters``, default
    ⌈√(n/2)⌉), shows the labelling model ``samples_per_cluster`` texts of each cluster (each cut to
    ``sample_chars``) and asks, under a JSON schema, for the cluster's topic and its educational value
    (1-10). Writes ``cluster``, ``topic`` and ``educational_value`` on every row; rows of a cluster
    rated below ``min_educational_value`` (or whose label could not be read) are rejected."""

    type_name = "cosmopedia_topics"
    default_sampling = {"temperature": 0.0, "max_tokens": 96}

    def __init__(self, name: str, *, column: str = "text", n_clusters: int | None = None,
                 samples_per_cluster: int = 10, sample_chars: int = 420, min_educational_value: int = 4,
                 seed: int = 0, encoder: str = "minilm", model: str = "default", inputs: list[str] | None = None,
                 **sampling: Any) -> None:
        where = f"cosmopedia_topics {name!r}"
        if n_clusters is not None and (isinstance(n_clusters, bool) or not isinstance(n_clusters, int) or n_clusters < 1):
            raise ValueError(f"{where}: n_clusters must be a whole number >= 1 (or null for sqrt(n/2)), not {n_clusters!r}")
        if int(samples_per_cluster) < 1 or int(sample_chars) < 20:
            raise ValueError(f"{where}: samples_per_cluster must be >= 1 and sample_chars >= 20")
        if not 1 <= int(min_educational_value) <= 10:
            raise ValueError(f"{where}: min_educational_value is on the 1-10 scale, not {min_educational_value!r}")
        GlobalStep.__init__(self, name, inputs=inputs or (), reads=[column],
                            writes=["cluster", "topic", "educational_value"], citations=[CITATION], models=[model])
        self._init_model(model, sampling)
        self.column, self.n_clusters, self.seed, self.encoder = column, n_clusters, int(seed), encoder
        self.samples_per_cluster, self.sample_chars = int(samples_per_cluster), int(sample_chars)
        self.min_educational_value = int(min_educational_value)
        self.prompt = self.load_template("cosmopedia_label.jinja")
        self.schema = label_schema()

    def text_of(self, record: dict[str, Any]) -> str:
        """The seed text of ``record`` (a clear error naming the column when it is missing)."""
        if self.column not in record:
            raise KeyError(f"cosmopedia_topics {self.name!r}: a row has no column {self.column!r} (columns: "
                           f"{sorted(record)}); set the step's `column`")
        value = record[self.column]
        return "" if value is None else value if isinstance(value, str) else str(value)

    def samples(self, labels: np.ndarray) -> dict[int, list[int]]:
        """The row numbers shown to the labeller for each cluster (a seeded draw, in row order)."""
        chosen = {}
        for c in range(int(labels.max()) + 1 if len(labels) else 0):
            members = np.flatnonzero(labels == c).tolist()
            rng = random.Random(f"{self.seed}\x1f{c}\x1fcosmopedia")
            chosen[c] = sorted(rng.sample(members, min(self.samples_per_cluster, len(members))))
        return chosen

    async def label(self, cluster: int, texts: list[str]) -> tuple[dict[str, Any] | None, str, dict[str, Any] | None]:
        """One cluster's label: ``({"topic", "educational_value"} or None, why not, lineage entry)``."""
        from ...llm.structured import StructuredOutputError

        messages = chat(self.render(self.prompt, {"examples": texts}))
        try:
            response, entry = await self.call({ID: f"{self.name}/cluster-{cluster}"}, messages, json_schema=self.schema,
                                              lineage={"cluster": cluster})
        except StructuredOutputError as e:
            return None, f"cluster {cluster}: the labeller gave no readable topic label ({e})", None
        topic = " ".join(str(response.parsed["topic"]).split()).strip(" .,;:\"'")
        if not topic:
            return None, f"cluster {cluster}: the labeller gave an empty topic", entry
        return {"topic": topic, "educational_value": int(response.parsed["educational_value"])}, "", entry

    def run(self, rows: Iterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any] | RejectedRow]:  # type: ignore[override]
        return self._run(rows)

    async def _run(self, rows: Iterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any] | RejectedRow]:
        loop = asyncio.get_running_loop()
        folder = spill_folder(self)
        with RowSpill(folder) as spill, EmbeddingSpill(folder, self.encoder) as emb:
            def embed() -> np.ndarray:
                for record in rows:
                    spill.add(record)
                    emb.add(self.text_of(record))
                return np.asarray(emb.finish())

            vectors = await loop.run_in_executor(None, embed)
            labels = cluster_labels(vectors, self.n_clusters, self.seed)
            shown = self.samples(labels)
            wanted = {i: c for c, idx in shown.items() for i in idx}
            texts: dict[int, list[str]] = {c: [] for c in shown}
            for i, record in enumerate(spill):
                if i in wanted:
                    texts[wanted[i]].append(cut(self.text_of(record), self.sample_chars))
            results = await asyncio.gather(*(self.label(c, texts[c]) for c in sorted(texts)))
            for i, record in enumerate(spill):
                yield self.verdict(record, int(labels[i]), *results[int(labels[i])])

    def verdict(self, record: dict[str, Any], cluster: int, label: dict[str, Any] | None, why: str,
                entry: dict[str, Any] | None) -> dict[str, Any] | RejectedRow:
        """The row with its cluster's label, or rejected with the reason its cluster was dropped."""
        if entry is not None:
            add_lineage(record, entry)
        record["cluster"] = cluster
        if label is None:
            return RejectedRow(record, Rejected(why))
        record.update(label)
        value = label["educational_value"]
        if value < self.min_educational_value:
            return RejectedRow(record, Rejected(
                f"cluster {cluster} ({label['topic']!r}): educational value {value} < min_educational_value "
                f"{self.min_educational_value}", float(value)))
        return record
