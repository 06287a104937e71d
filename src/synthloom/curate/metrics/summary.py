"""All the metrics of one set of texts (or one column of a dataset) in one dict.

Lexical metrics run on every text (self-BLEU on a seeded sample); embedding metrics on a seeded
sample of at most ``embed_sample`` texts (encoding is the slow part: ~100 texts/s on two cores).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .embedding import cluster_entropy, dispersion, kmeans, unit_rows, vendi_score
from .lexical import compression_ratio, distinct_n, self_bleu
from .stats import column_distribution, length_stats, score_columns, texts_of, token_stats


@dataclass
class MetricOptions:
    """Knobs shared by every metric; the defaults suit thousands of rows on a laptop."""

    distinct: tuple[int, ...] = (1, 2, 3)
    self_bleu_sample: int = 1000
    embed_sample: int = 2000
    clusters: int = 10
    seed: int = 0
    embed: bool = True  # False skips the embedding metrics (no encoder is loaded)


@dataclass
class TextMetrics:
    """The metrics dict plus what the report draws from: the sampled texts' embeddings and clusters."""

    values: dict[str, Any]
    sample_index: list[int] = field(default_factory=list)
    embeddings: np.ndarray | None = None
    labels: np.ndarray | None = None


def lexical_metrics(texts: Sequence[str], opts: MetricOptions) -> dict[str, Any]:
    out: dict[str, Any] = {f"distinct_{n}": distinct_n(texts, n) for n in opts.distinct}
    out["compression_ratio"] = compression_ratio(texts)
    out["self_bleu"] = self_bleu(texts, sample=opts.self_bleu_sample, seed=opts.seed)
    out["self_bleu_sample"] = min(len(texts), opts.self_bleu_sample)
    return out


def sample_indices(n: int, size: int, seed: int) -> list[int]:
    """A seeded sample of ``size`` positions out of ``n`` (all of them, in order, if n <= size)."""
    if n <= size:
        return list(range(n))
    return sorted(random.Random(seed).sample(range(n), size))


def resolve_encoder(encoder: Any) -> tuple[Any, str | None]:
    """The encoder to use (``get_encoder()`` when None) or None and why not (extra not installed)."""
    if encoder is not None:
        return encoder, None
    try:
        from ..embeddings import get_encoder

        return get_encoder(), None
    except ImportError as e:
        return None, str(e)


def embedding_metrics(x: np.ndarray, opts: MetricOptions, labels: np.ndarray | None = None,
                      k: int | None = None) -> tuple[dict[str, Any], np.ndarray | None]:
    """Dispersion, Vendi score and cluster entropy of embeddings ``x``; also the cluster labels.
    Given ``labels`` (clusters fitted elsewhere), the entropy counts ``k`` clusters."""
    if len(x) == 0:
        return {"dispersion": None, "vendi": None, "cluster_entropy": None, "embedded": 0}, None
    if labels is None:
        k = min(opts.clusters, len(x))
        labels, _ = kmeans(unit_rows(x), k, seed=opts.seed)
    return {"dispersion": dispersion(x), "vendi": vendi_score(x),
            "cluster_entropy": cluster_entropy(x, k=k or 1, labels=labels), "embedded": int(len(x))}, labels


def text_metrics(texts: Sequence[str], *, encoder: Any = None, opts: MetricOptions | None = None) -> TextMetrics:
    """Lengths, lexical diversity and (unless ``opts.embed`` is False) embedding diversity of ``texts``."""
    opts = opts or MetricOptions()
    texts = list(texts)
    values: dict[str, Any] = {"rows": len(texts), "lengths": length_stats(texts), **lexical_metrics(texts, opts)}
    result = TextMetrics(values)
    if not opts.embed:
        return result
    enc, why = resolve_encoder(encoder)
    if enc is None:
        values["embedding"] = {"skipped": why}
        return result
    idx = sample_indices(len(texts), opts.embed_sample, opts.seed)
    x = enc.encode([texts[i] for i in idx]) if idx else np.zeros((0, getattr(enc, "dim", 1)), dtype=np.float32)
    emb, labels = embedding_metrics(x, opts)
    values["embedding"] = {"model": getattr(enc, "name", type(enc).__name__), **emb}
    result.sample_index, result.embeddings, result.labels = idx, x, labels
    return result


def score_distributions(records: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> dict[str, Any]:
    """Distribution of each score/pass column (auto-detected when ``columns`` is None)."""
    cols = list(columns) if columns is not None else score_columns(records)
    out = {}
    for c in cols:
        dist = column_distribution([r.get(c) for r in records])
        if dist is not None:
            out[c] = dist
    return out


def dataset_metrics(records: Sequence[dict[str, Any]], column: str, *, scores: Sequence[str] | None = None,
                    encoder: Any = None, opts: MetricOptions | None = None) -> TextMetrics:
    """:func:`text_metrics` of ``column`` plus token usage (from lineage) and score distributions."""
    result = text_metrics(texts_of(records, column), encoder=encoder, opts=opts)
    result.values = {"column": column, **result.values, "tokens": token_stats(records),
                     "scores": score_distributions(records, scores)}
    return result
