"""Lexical diversity: distinct-n, compression ratio and self-BLEU.

* distinct-n — unique n-grams over all n-grams of the corpus (Li et al. 2016, "A Diversity-Promoting
  Objective Function for Neural Conversation Models", arXiv 1510.03055). Higher = more diverse.
* compression ratio — size of the texts joined by spaces over its gzip size (Shaib et al. 2024,
  "Standardizing the Measurement of Text Diversity", arXiv 2403.00553). Higher = more repetitive.
* self-BLEU — mean BLEU-4 of each text against all the others as references (Zhu et al. 2018,
  "Texygen", arXiv 1802.01886), on a seeded sample. Higher = more alike. BLEU is Papineni et al.
  2002 with NLTK's smoothing methods 1 (epsilon) and 2 (add-one, Lin & Och 2004).

All three use :func:`~synthloom.curate.metrics.text.word_tokens` (lower-cased words and punctuation).
"""

from __future__ import annotations

import bisect
import gzip
import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence

from .text import ngrams, word_tokens

SMOOTHING = ("epsilon", "add1", "none")


def distinct_n(texts: Iterable[str], n: int) -> float | None:
    """Unique ``n``-grams / total ``n``-grams over all texts (n-grams never cross texts); None if none."""
    if n < 1:
        raise ValueError(f"distinct-n needs n >= 1, got {n}")
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        grams = ngrams(word_tokens(text), n)
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else None


def compression_ratio(texts: Iterable[str]) -> float | None:
    """Bytes of the texts joined by spaces / bytes of their gzip (level 9); None for no text."""
    raw = " ".join(texts).encode("utf-8")
    if not raw:
        return None
    return len(raw) / len(gzip.compress(raw, compresslevel=9, mtime=0))


def _closest_ref_length(hyp_len: int, ref_lens: Sequence[int]) -> int:
    """The reference length closest to the hypothesis length (ties: the shorter), as in BLEU."""
    return min(ref_lens, key=lambda r: (abs(r - hyp_len), r))


def _combine(matches: list[int], totals: list[int], hyp_len: int, ref_len: int, weights: Sequence[float],
             smoothing: str) -> float:
    if smoothing not in SMOOTHING:
        raise ValueError(f"smoothing must be one of {', '.join(SMOOTHING)}, got {smoothing!r}")
    if hyp_len == 0 or not matches or matches[0] == 0:
        return 0.0
    log_sum = 0.0
    for i, (m, t, w) in enumerate(zip(matches, totals, weights)):
        if smoothing == "add1" and i > 0:
            p = (m + 1) / (t + 1)
        elif m == 0:
            if smoothing == "none":
                return 0.0
            p = 0.1 / max(1, t)  # NLTK method1: epsilon 0.1 for an empty numerator
        else:
            p = m / t
        log_sum += w * math.log(p)
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return bp * math.exp(log_sum)


def sentence_bleu(hypothesis: Sequence[str], references: Sequence[Sequence[str]], max_n: int = 4,
                  smoothing: str = "epsilon") -> float:
    """BLEU of one tokenised hypothesis against tokenised references (uniform weights up to ``max_n``).

    Modified precision clips each n-gram's count at its maximum count in any one reference; the
    brevity penalty uses the reference length closest to the hypothesis's. ``smoothing``: "epsilon"
    (NLTK method1: 0.1 in place of a zero match count), "add1" (NLTK method2: +1 to numerator and
    denominator for n >= 2) or "none". No unigram match gives 0.
    """
    if not references:
        raise ValueError("sentence_bleu needs at least one reference")
    matches, totals = [], []
    for n in range(1, max_n + 1):
        hyp = Counter(ngrams(list(hypothesis), n))
        max_ref: Counter = Counter()
        for ref in references:
            for g, c in Counter(ngrams(list(ref), n)).items():
                if c > max_ref[g]:
                    max_ref[g] = c
        matches.append(sum(min(c, max_ref[g]) for g, c in hyp.items()))
        totals.append(max(0, len(hypothesis) - n + 1))
    ref_len = _closest_ref_length(len(hypothesis), [len(r) for r in references])
    return _combine(matches, totals, len(hypothesis), ref_len, [1.0 / max_n] * max_n, smoothing)


class _TopTwo:
    """Per n-gram: the largest count in any document (and which) and the largest in any other."""

    __slots__ = ("best", "doc", "second")

    def __init__(self) -> None:
        self.best = 0
        self.doc = -1
        self.second = 0

    def add(self, count: int, doc: int) -> None:
        if count > self.best:
            self.second, self.best, self.doc = self.best, count, doc
        elif count > self.second:
            self.second = count

    def max_excluding(self, doc: int) -> int:
        return self.second if self.doc == doc else self.best


def self_bleu(texts: Sequence[str], max_n: int = 4, sample: int | None = 1000, seed: int = 0,
              smoothing: str = "epsilon") -> float | None:
    """Mean BLEU of each text against all the other texts as references (Texygen's self-BLEU).

    When there are more than ``sample`` texts, a seeded random sample of that many is used (as both
    hypotheses and references). Exact and linear in the corpus size: for each n-gram only the two
    largest per-document counts are kept, which is all the clipping needs. None for fewer than 2 texts.
    """
    pool = list(texts)
    if sample is not None and len(pool) > sample:
        pool = random.Random(seed).sample(pool, sample)
    if len(pool) < 2:
        return None
    docs = [word_tokens(t) for t in pool]
    counts = [[Counter(ngrams(d, n)) for n in range(1, max_n + 1)] for d in docs]
    tops: list[dict[tuple[str, ...], _TopTwo]] = [{} for _ in range(max_n)]
    for i, per_n in enumerate(counts):
        for k, counter in enumerate(per_n):
            table = tops[k]
            for g, c in counter.items():
                entry = table.get(g)
                if entry is None:
                    entry = table[g] = _TopTwo()
                entry.add(c, i)
    lengths = sorted(len(d) for d in docs)
    weights = [1.0 / max_n] * max_n
    scores = []
    for i, d in enumerate(docs):
        matches = [sum(min(c, tops[k][g].max_excluding(i)) for g, c in counts[i][k].items()) for k in range(max_n)]
        totals = [max(0, len(d) - n + 1) for n in range(1, max_n + 1)]
        scores.append(_combine(matches, totals, len(d), _closest_other_length(len(d), lengths), weights, smoothing))
    return sum(scores) / len(scores)


def _closest_other_length(length: int, lengths: list[int]) -> int:
    """Closest length in the sorted ``lengths`` once one copy of ``length`` (the text itself) is removed."""
    lo = bisect.bisect_left(lengths, length)
    hi = bisect.bisect_right(lengths, length)
    if hi - lo >= 2:
        return length
    candidates = []
    if lo > 0:
        candidates.append(lengths[lo - 1])
    if hi < len(lengths):
        candidates.append(lengths[hi])
    return _closest_ref_length(length, candidates)
