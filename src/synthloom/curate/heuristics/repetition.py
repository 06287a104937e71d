"""Repetition: Gopher's duplicate line/paragraph fractions and repeated word n-gram fractions.

Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights from Training Gopher"
(arXiv 2112.11446), Appendix A.1.1, Table A1 — a document is removed when:

* the fraction of lines (paragraphs) that duplicate an earlier line (paragraph) is above 0.30;
* the fraction of characters in such duplicate lines is above 0.20 (paragraphs: 0.20);
* the most frequent word 2-, 3-, 4-gram covers more than 0.20, 0.18, 0.16 of the characters;
* the words inside n-grams seen earlier in the text (n = 5..10) cover more than
  0.15, 0.14, 0.13, 0.12, 0.11, 0.10 of the characters (overlapping n-grams are counted once).

Characters are counted over words (whitespace excluded). Gopher applied these to web documents of
at least 50 words; very short texts make the n-gram fractions jumpy, so the n-gram checks are skipped
below ``min_words`` (default 20) words. Setting a limit to ``null`` switches that check off.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .rule import Failure, Rule, check_count, check_fraction

GOPHER_TOP_NGRAM = {2: 0.20, 3: 0.18, 4: 0.16}
GOPHER_DUP_NGRAM = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
_PARAGRAPHS = re.compile(r"\n\s*\n")
_LINES = re.compile(r"\n+")


def duplicate_stats(parts: list[str]) -> tuple[int, int]:
    """(number of parts equal to an earlier part, characters in those parts)."""
    seen: set[str] = set()
    dup = dup_chars = 0
    for p in parts:
        if p in seen:
            dup += 1
            dup_chars += len(p)
        else:
            seen.add(p)
    return dup, dup_chars


def top_ngram_char_fraction(words: list[str], n: int) -> float:
    """Characters covered by the most frequent word n-gram (all its occurrences) / word characters."""
    total = sum(map(len, words))
    if len(words) < n or total == 0:
        return 0.0
    counts = Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    gram, count = counts.most_common(1)[0]
    if count < 2:
        return 0.0
    return min(1.0, sum(map(len, gram)) * count / total)


def duplicate_ngram_char_fraction(words: list[str], n: int) -> float:
    """Characters of the words inside any n-gram that occurred earlier in the text / word characters."""
    total = sum(map(len, words))
    if len(words) < n or total == 0:
        return 0.0
    seen: set[tuple[str, ...]] = set()
    marked = [False] * len(words)
    for i in range(len(words) - n + 1):
        gram = tuple(words[i:i + n])
        if gram in seen:
            for j in range(i, i + n):
                marked[j] = True
        else:
            seen.add(gram)
    return sum(len(w) for w, m in zip(words, marked) if m) / total


def _thresholds(option: str, value: Any, default: dict[int, float]) -> dict[int, float]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"heuristic rule 'repetition': {option} maps n to a fraction, e.g. {default}; got {value!r}")
    out: dict[int, float] = {}
    for k, v in value.items():
        try:
            n = int(k)
        except (TypeError, ValueError):
            raise ValueError(f"heuristic rule 'repetition': {option} keys are n-gram sizes, got {k!r}") from None
        if n < 1:
            raise ValueError(f"heuristic rule 'repetition': {option} n-gram size must be >= 1, got {n}")
        if v is not None:
            check_fraction("repetition", f"{option}[{n}]", v)
            out[n] = float(v)
    return out


@dataclass
class RepetitionRule(Rule):
    """Gopher-style repetition limits (see the module docstring); each limit is a maximum fraction."""

    name = "repetition"
    max_duplicate_line_fraction: float | None = 0.30
    max_duplicate_paragraph_fraction: float | None = 0.30
    max_duplicate_line_char_fraction: float | None = 0.20
    max_duplicate_paragraph_char_fraction: float | None = 0.20
    max_top_ngram_char_fraction: Any = field(default_factory=lambda: dict(GOPHER_TOP_NGRAM))
    max_duplicate_ngram_char_fraction: Any = field(default_factory=lambda: dict(GOPHER_DUP_NGRAM))
    min_words: int = 20

    def __post_init__(self) -> None:
        for opt in ("max_duplicate_line_fraction", "max_duplicate_paragraph_fraction",
                    "max_duplicate_line_char_fraction", "max_duplicate_paragraph_char_fraction"):
            check_fraction(self.name, opt, getattr(self, opt))
        check_count(self.name, "min_words", self.min_words)
        self.max_top_ngram_char_fraction = _thresholds(
            "max_top_ngram_char_fraction", self.max_top_ngram_char_fraction, GOPHER_TOP_NGRAM)
        self.max_duplicate_ngram_char_fraction = _thresholds(
            "max_duplicate_ngram_char_fraction", self.max_duplicate_ngram_char_fraction, GOPHER_DUP_NGRAM)

    def check(self, text: str, record: dict[str, Any]) -> Failure | None:
        text = text.strip()
        if not text:
            return None
        for unit, splitter, max_frac, max_chars in (
            ("line", _LINES, self.max_duplicate_line_fraction, self.max_duplicate_line_char_fraction),
            ("paragraph", _PARAGRAPHS, self.max_duplicate_paragraph_fraction, self.max_duplicate_paragraph_char_fraction),
        ):
            parts = [p.strip() for p in splitter.split(text) if p.strip()]
            if len(parts) < 2:
                continue
            dup, dup_chars = duplicate_stats(parts)
            frac = dup / len(parts)
            if max_frac is not None and frac > max_frac:
                return Failure(f"duplicate {unit} fraction {frac:.2f} > {max_frac}", round(frac, 4))
            char_frac = dup_chars / max(1, sum(map(len, parts)))
            if max_chars is not None and char_frac > max_chars:
                return Failure(f"duplicate {unit} character fraction {char_frac:.2f} > {max_chars}", round(char_frac, 4))
        words = text.split()
        if len(words) < self.min_words:
            return None
        for n, limit in sorted(self.max_top_ngram_char_fraction.items()):
            frac = top_ngram_char_fraction(words, n)
            if frac > limit:
                return Failure(f"top {n}-gram character fraction {frac:.2f} > {limit}", round(frac, 4))
        for n, limit in sorted(self.max_duplicate_ngram_char_fraction.items()):
            frac = duplicate_ngram_char_fraction(words, n)
            if frac > limit:
                return Failure(f"duplicate {n}-gram character fraction {frac:.2f} > {limit}", round(frac, 4))
        return None
