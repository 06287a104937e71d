"""Generator comparison: the same prompts answered by several models, their metrics side by side.

Following Kim et al. 2024, "Evaluating Language Models as Synthetic Data Generators" (AgoraBench,
arXiv 2412.03679), which compares generators on intrinsic properties of the data they make —
response quality (judge scores), diversity (embedding similarity), length — before training on it.
Rows are restricted to the prompts every generator answered (when a prompt column is given), and
clusters are fitted once on all generators' embeddings so the cluster entropies count the same
clusters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .embedding import kmeans, unit_rows
from .stats import length_stats, texts_of, token_stats
from .summary import MetricOptions, embedding_metrics, lexical_metrics, resolve_encoder, sample_indices, score_distributions
from .text import as_text

#: (label, path into one generator's metrics) — the rows of the side-by-side table
TABLE_ROWS = (
    ("rows", ("rows",)),
    ("words p50", ("lengths", "words", "p50")),
    ("words mean", ("lengths", "words", "mean")),
    ("distinct-1", ("distinct_1",)),
    ("distinct-2", ("distinct_2",)),
    ("distinct-3", ("distinct_3",)),
    ("compression ratio ↓", ("compression_ratio",)),
    ("self-BLEU ↓", ("self_bleu",)),
    ("dispersion", ("embedding", "dispersion")),
    ("Vendi score", ("embedding", "vendi")),
    ("cluster entropy (norm.)", ("embedding", "cluster_entropy", "normalized")),
)


def _restrict_to_common(groups: dict[str, list[dict]], prompt_column: str) -> tuple[dict[str, list[dict]], int]:
    common: set[str] | None = None
    for rows in groups.values():
        prompts = {as_text(r.get(prompt_column)) for r in rows}
        common = prompts if common is None else common & prompts
    common = common or set()
    return {g: [r for r in rows if as_text(r.get(prompt_column)) in common] for g, rows in groups.items()}, len(common)


def compare_generators(groups: dict[str, list[dict[str, Any]]], column: str, *, prompt_column: str | None = None,
                       scores: Sequence[str] | None = None, encoder: Any = None,
                       opts: MetricOptions | None = None) -> dict[str, Any]:
    """Metrics of ``column`` for each generator (``groups``: name -> its rows), side by side.

    Returns ``{"generators", "column", "common_prompts", "metrics": {name: {...}}, "table": [...]}``
    where ``table`` is a list of ``{"metric", name: value, ...}`` rows (see :data:`TABLE_ROWS`, plus the
    mean of each score column and the rate of each pass column).
    """
    opts = opts or MetricOptions()
    if len(groups) < 1:
        raise ValueError("compare_generators needs at least one generator")
    common = None
    if prompt_column is not None:
        groups, common = _restrict_to_common(groups, prompt_column)
    texts = {g: texts_of(rows, column) for g, rows in groups.items()}
    metrics: dict[str, dict[str, Any]] = {}
    for g, rows in groups.items():
        metrics[g] = {"rows": len(rows), "lengths": length_stats(texts[g]), **lexical_metrics(texts[g], opts),
                      "tokens": token_stats(rows), "scores": score_distributions(rows, scores)}
    if opts.embed:
        _add_embedding_metrics(texts, metrics, encoder, opts)
    table = []
    for label, path in TABLE_ROWS:
        table.append({"metric": label, **{g: _get(metrics[g], path) for g in groups}})
    score_names = sorted({c for m in metrics.values() for c in m["scores"]})
    for c in score_names:
        kinds = {m["scores"][c]["kind"] for m in metrics.values() if c in m["scores"]}
        key = "pass_rate" if kinds == {"pass_rate"} else "mean"
        table.append({"metric": f"{c} ({'pass rate' if key == 'pass_rate' else 'mean'})",
                      **{g: metrics[g]["scores"].get(c, {}).get(key) for g in groups}})
    return {"generators": list(groups), "column": column, "prompt_column": prompt_column,
            "common_prompts": common, "metrics": metrics, "table": table}


def _add_embedding_metrics(texts: dict[str, list[str]], metrics: dict[str, dict], encoder: Any, opts: MetricOptions) -> None:
    enc, why = resolve_encoder(encoder)
    if enc is None:
        for m in metrics.values():
            m["embedding"] = {"skipped": why}
        return
    blocks, owners = [], []
    for g, ts in texts.items():
        idx = sample_indices(len(ts), opts.embed_sample, opts.seed)
        x = enc.encode([ts[i] for i in idx]) if idx else np.zeros((0, enc.dim), dtype=np.float32)
        blocks.append(x)
        owners.append((g, len(x)))
    joint = np.concatenate(blocks) if blocks else np.zeros((0, enc.dim))
    k = min(opts.clusters, len(joint))
    labels = kmeans(unit_rows(joint), k, seed=opts.seed)[0] if len(joint) else None
    start = 0
    for (g, n), x in zip(owners, blocks):
        own = labels[start : start + n] if labels is not None else None
        start += n
        # entropy over the clusters shared by all generators: one that misses clusters scores lower
        emb, _ = embedding_metrics(x, opts, labels=own, k=k)
        metrics[g]["embedding"] = {"model": getattr(enc, "name", type(enc).__name__), **emb}


def _get(d: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def format_table(result: dict[str, Any]) -> list[list[str]]:
    """The side-by-side table as strings (header first), for the terminal and the report."""
    gens = result["generators"]
    rows = [["metric", *gens]]
    for row in result["table"]:
        rows.append([row["metric"], *(_fmt(row.get(g)) for g in gens)])
    return rows


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)
