"""DEITA selection: score every row, then take rows best-first while they stay diverse.

Liu et al. 2023, "What Makes Good Data for Alignment? A Comprehensive Study of Automatic Data
Selection in Instruction Tuning" (DEITA, arXiv 2312.15685), §4 "Score-First, Diversity-Aware":

1. each row's score is complexity × quality (the EVOL-COMPLEXITY and EVOL-QUALITY scorers; here any
   two judge columns, e.g. from ``judge`` with ``rubric: deita_complexity`` / ``deita_quality``, which
   read the expected score from the logprobs of "1".."6" as the DEITA scorers do);
2. rows are sorted by score (highest first) and added greedily: a row joins the selection only if
   its embedding's cosine similarity to **every** row already selected is at most ``max_similarity``
   (the paper's threshold τ = 0.9, i.e. cosine distance ≥ 0.1 to the nearest selected row);
3. selection stops at ``budget`` rows (the paper: 6K or 10K).

DEITA embeds whole conversations with its Llama-based model; this step embeds the ``text`` columns
with the offline MiniLM encoder (``synthloom.curate.embeddings``). Rows and embeddings are spilled to
disk; memory holds the scores, the ids and the selected embeddings (at most ``budget`` of them).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from ...pipeline.step import GlobalStep, Rejected, RejectedRow
from ...records import ID
from .spill import EmbeddingSpill, RowSpill, column_root, numeric, spill_folder, value_at

SELECTED, TOO_SIMILAR, OVER_BUDGET, NO_SCORE = 0, 1, 2, 3


def deita_greedy(embeddings: np.ndarray, scores: np.ndarray, *, max_similarity: float = 0.9,
                 budget: int | None = None, chunk: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DEITA's greedy pass over unit-length ``embeddings`` in descending ``scores`` (NaN = no score).

    Returns ``(status, nearest, similarity)`` per row: status is ``SELECTED``, ``TOO_SIMILAR`` (then
    ``nearest`` is the index of the most similar selected row and ``similarity`` its cosine),
    ``OVER_BUDGET`` or ``NO_SCORE``. Ties in score keep input order.
    """
    n = len(scores)
    status = np.full(n, NO_SCORE, dtype=np.int8)
    nearest = np.full(n, -1, dtype=np.int64)
    similarity = np.full(n, np.nan, dtype=np.float32)
    scored = np.flatnonzero(~np.isnan(scores))
    order = scored[np.argsort(-scores[scored], kind="stable")]
    cap = len(order) if budget is None else min(budget, len(order))
    status[order] = OVER_BUDGET
    if cap == 0:
        return status, nearest, similarity
    dim = embeddings.shape[1]
    chosen = np.empty((cap, dim), dtype=np.float32)
    chosen_idx = np.empty(cap, dtype=np.int64)
    s = 0
    for start in range(0, len(order), chunk):
        if s >= cap:
            break
        idx = order[start:start + chunk]
        block = np.asarray(embeddings[idx], dtype=np.float32)
        if s:
            sims = block @ chosen[:s].T
            best_j = sims.argmax(axis=1)
            best = sims[np.arange(len(idx)), best_j]
        else:
            best_j = np.full(len(idx), -1)
            best = np.full(len(idx), -np.inf, dtype=np.float32)
        first_new = s
        for k, row in enumerate(idx):
            if s >= cap:
                break
            b, j = float(best[k]), int(chosen_idx[best_j[k]]) if best_j[k] >= 0 else -1
            if s > first_new:  # rows accepted earlier in this chunk
                within = chosen[first_new:s] @ block[k]
                w = int(within.argmax())
                if within[w] > b:
                    b, j = float(within[w]), int(chosen_idx[first_new + w])
            if b > max_similarity:
                status[row], nearest[row], similarity[row] = TOO_SIMILAR, j, b
                continue
            status[row] = SELECTED
            chosen[s], chosen_idx[s] = block[k], row
            s += 1
    return status, nearest, similarity


class DeitaSelect(GlobalStep):
    """DEITA's score-first, diversity-aware selection (see the module docstring): score =
    ``complexity`` × ``quality`` (or the ``score`` column), then a greedy pass keeping rows whose
    embedding of ``text`` has cosine ≤ ``max_similarity`` to every row kept so far, up to ``budget``."""

    type_name = "select_deita"

    def __init__(self, name: str, *, text: str | list[str] = ("instruction", "response"),
                 complexity: str | None = "complexity", quality: str | None = "quality", score: str | None = None,
                 max_similarity: float = 0.9, budget: int | None = None, score_column: str = "deita_score",
                 encoder: str = "minilm", inputs: list[str] | None = None) -> None:
        where = f"select_deita {name!r}"
        self.text = [text] if isinstance(text, str) else list(text)
        if not self.text or not all(isinstance(c, str) and c for c in self.text):
            raise ValueError(f"{where}: text must name the column(s) to embed, got {text!r}")
        if score is None and not (complexity and quality):
            raise ValueError(f"{where}: give `score:` (one score column) or both `complexity:` and `quality:`")
        if not (isinstance(max_similarity, (int, float)) and -1 <= max_similarity <= 1):
            raise ValueError(f"{where}: max_similarity is a cosine between -1 and 1 (DEITA: 0.9), got {max_similarity!r}")
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 0):
            raise ValueError(f"{where}: budget must be a whole number of rows >= 0, got {budget!r}")
        self.score_cols = [score] if score is not None else [complexity, quality]
        super().__init__(name, reads=[*self.text, *(column_root(c) for c in self.score_cols)],
                         writes=[score_column], inputs=inputs or (), citations=[
                             "Liu et al. 2023, What Makes Good Data for Alignment? A Comprehensive Study of Automatic "
                             "Data Selection in Instruction Tuning (DEITA, arXiv 2312.15685)"])
        self.max_similarity, self.budget = float(max_similarity), budget
        self.score_column, self.encoder = score_column, encoder

    def _score(self, record: dict[str, Any]) -> float | None:
        product = 1.0
        for c in self.score_cols:
            v = numeric(value_at(record, c))
            if v is None:
                return None
            product *= v
        return product

    def embed_text(self, record: dict[str, Any]) -> str:
        """The text of ``record`` that is embedded."""
        from ..embeddings import record_text

        return record_text(record, self.text, f"select_deita {self.name!r}")

    def run(self, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any] | RejectedRow]:
        folder = spill_folder(self)
        with RowSpill(folder) as spill, EmbeddingSpill(folder, self.encoder) as emb:
            scores, ids = [], []
            for record in rows:
                spill.add(record)
                s = self._score(record)
                scores.append(np.nan if s is None else s)
                ids.append(str(record.get(ID, "")))
                emb.add(self.embed_text(record))
            yield from self.select(spill, np.asarray(scores, dtype=np.float64), ids, emb.finish())

    def select(self, rows: Iterable[dict[str, Any]], values: np.ndarray, ids: list[str],
               embeddings: np.ndarray) -> Iterator[dict[str, Any] | RejectedRow]:
        """The greedy pass over all rows' scores (``values``), ids and embeddings, then each row (``rows``, in
        input order) kept or rejected (the Ray form calls it with embeddings computed on workers)."""
        status, nearest, sim = deita_greedy(embeddings, values, max_similarity=self.max_similarity, budget=self.budget)
        for i, record in enumerate(rows):
            st = status[i]
            if st == NO_SCORE:
                shown = {c: value_at(record, c) for c in self.score_cols}
                yield RejectedRow(record, Rejected(f"no numeric score in {shown}"))
                continue
            record[self.score_column] = float(values[i])
            if st == SELECTED:
                yield record
            elif st == TOO_SIMILAR:
                other = ids[nearest[i]]
                yield RejectedRow(record, Rejected(
                    f"too similar to selected row {other} (cosine {sim[i]:.3f} > {self.max_similarity})",
                    float(values[i]), duplicate_of=other))
            else:
                yield RejectedRow(record, Rejected(
                    f"budget of {self.budget} rows reached before this row ({self.score_column} {values[i]:.4g})",
                    float(values[i])))
