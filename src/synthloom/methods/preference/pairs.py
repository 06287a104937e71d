"""Pairs and KTO labels from a scored completion pool: what DPO, KTO and reward-model trainers read.

After any scoring step has put a score on the completions of a pool (``score`` by default: an
UltraFeedback rating, a reward model, a judge), ``pairs`` builds chosen/rejected rows:

* ``best_vs_random`` — chosen = the best, rejected = one of the strictly lower-scored completions
  drawn at random with a seed derived from the row (Zephyr's binarisation of UltraFeedback: Tunstall
  et al. 2023, "Zephyr: Direct Distillation of LM Alignment", arXiv:2310.16944);
* ``best_vs_worst`` — chosen = the best, rejected = the worst (Magpie's DPO set: Xu et al. 2024,
  arXiv:2406.08464; Self-Rewarding: Yuan et al. 2024, arXiv:2401.10020);
* ``all_above_margin`` — every pair whose score difference is at least ``margin``, largest first,
  at most ``max_pairs``.

A pair needs a score difference above 0 and at least ``margin``: ties never make a pair. A row with
fewer than two scored completions, or whose completions all tie, becomes a rejected row with the
reason. Completions marked ``duplicate_of`` (same text as an earlier one) do not pair, identical
texts never face each other, and completions cut off at ``max_tokens`` (``finish_reason: length``)
are left out unless ``skip_truncated: false`` (a cut-off answer makes a poor "chosen"). Each pair
row records ``chosen_index`` and ``rejected_index`` (the completions' positions in the pool) beside
the columns of the row contract: ``prompt``, ``chosen``, ``rejected``, ``chosen_score``,
``rejected_score``, ``chosen_model``, ``rejected_model``, ``margin``, ``pair_rule``, ``system`` and,
for multi-turn prompts, ``prompt_messages``.

``kto_labels`` makes unpaired rows for KTO (Ethayarajh et al. 2024, "KTO: Model Alignment as
Prospect Theoretic Optimization", arXiv:2402.01306): one row per scored completion, ``label`` true
(desirable) when its score is at least ``threshold`` — or, with ``top_k``, when it is among the
``top_k`` best of its prompt (every completion scoring at least the k-th best score, so tied
completions get the same label).

The rules are pure functions (:func:`best_vs_random`, :func:`best_vs_worst`, :func:`all_above_margin`,
:func:`kto_desirable`) over :class:`Scored` items.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

import xxhash

from ...pipeline.step import Rejected, StreamStep
from ...records import adopt_rows
from .prompt_columns import PromptColumns

RULES = ("best_vs_random", "best_vs_worst", "all_above_margin")
ZEPHYR = "Tunstall et al. 2023, Zephyr: Direct Distillation of LM Alignment, arXiv:2310.16944"
KTO = "Ethayarajh et al. 2024, KTO: Model Alignment as Prospect Theoretic Optimization, arXiv:2402.01306"


@dataclass(frozen=True)
class Scored:
    """One scored completion of a pool: its position, text, score and model."""

    index: int
    text: str
    score: float
    model: str | None = None


def score_of(completion: dict[str, Any], key: str) -> float | None:
    """The completion's score under ``key`` as a finite float, or ``None`` (missing, null, not a number)."""
    value = completion.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def scored(completions: list[dict[str, Any]], key: str = "score", skip_truncated: bool = False) -> list[Scored]:
    """The completions that have a score under ``key``, leaving out marked duplicates, any later
    completion with the same text as an earlier scored one and, with ``skip_truncated``, those cut
    off at ``max_tokens`` (``finish_reason`` ``length``)."""
    out: list[Scored] = []
    seen: set[str] = set()
    for i, c in enumerate(completions):
        value = score_of(c, key)
        text = c.get("text")
        if value is None or not isinstance(text, str) or c.get("duplicate_of") is not None or text in seen \
                or (skip_truncated and c.get("finish_reason") == "length"):
            continue
        seen.add(text)
        out.append(Scored(int(c.get("index", i)), text, value, c.get("model")))
    return out


def best(items: list[Scored]) -> Scored:
    """The highest-scored item (the first in pool order among equals)."""
    return max(items, key=lambda s: (s.score, -s.index))


def worst(items: list[Scored]) -> Scored:
    """The lowest-scored item (the first in pool order among equals)."""
    return min(items, key=lambda s: (s.score, s.index))


def best_vs_worst(items: list[Scored], margin: float = 0.0) -> list[tuple[Scored, Scored]]:
    """``[(best, worst)]`` when their difference is above 0 and at least ``margin``, else ``[]``."""
    if len(items) < 2:
        return []
    hi, lo = best(items), worst(items)
    diff = hi.score - lo.score
    return [(hi, lo)] if diff > 0 and diff >= margin else []


def best_vs_random(items: list[Scored], rng: random.Random, margin: float = 0.0) -> list[tuple[Scored, Scored]]:
    """``[(best, r)]`` with ``r`` drawn by ``rng`` among the items scoring at least ``margin`` (and
    strictly) below the best; ``[]`` when there is none."""
    if len(items) < 2:
        return []
    hi = best(items)
    lower = [s for s in items if hi.score - s.score > 0 and hi.score - s.score >= margin]
    return [(hi, rng.choice(lower))] if lower else []


def all_above_margin(items: list[Scored], margin: float = 0.0, max_pairs: int | None = None) -> list[tuple[Scored, Scored]]:
    """Every ``(a, b)`` with ``a.score - b.score`` above 0 and at least ``margin``: largest difference
    first (then pool order), at most ``max_pairs``."""
    pairs = [(a, b) for a in items for b in items if a.score - b.score > 0 and a.score - b.score >= margin]
    pairs.sort(key=lambda p: (-(p[0].score - p[1].score), p[0].index, p[1].index))
    return pairs if max_pairs is None else pairs[:max_pairs]


def kto_desirable(items: list[Scored], threshold: float | None = None, top_k: int | None = None) -> list[bool]:
    """Per item, whether it is desirable: score >= ``threshold``, or (``top_k``) score >= the k-th
    best score of the prompt."""
    if (threshold is None) == (top_k is None):
        raise ValueError("give exactly one of threshold and top_k")
    if top_k is not None:
        ranked = sorted((s.score for s in items), reverse=True)
        threshold = ranked[min(top_k, len(ranked)) - 1] if ranked else math.inf
    return [s.score >= threshold for s in items]


def _spread(items: list[Scored]) -> str:
    return f"best {best(items).score:g}, worst {worst(items).score:g}"


class _PoolRows(StreamStep):
    """What ``pairs`` and ``kto_labels`` share: the pool column, the score key, the prompt columns."""

    kind = "expand"

    def __init__(self, name: str, *, completions: str, score_key: str, skip_truncated: bool, prompt: str,
                 prompt_messages: str | None, system_column: str | None, writes: list[str], inputs: list[str] | None,
                 citations: list[str]) -> None:
        self.completions = completions
        self.score_key = score_key
        self.skip_truncated = skip_truncated
        self.columns = PromptColumns(prompt, prompt_messages, system_column)
        super().__init__(name, inputs=inputs or (), reads=[completions, *self.columns.reads()], writes=writes,
                         citations=citations)

    def output_columns(self, available: set[str]) -> set[str]:
        return (available - {self.completions}) | self.writes  # the pool itself is not carried into its rows

    def pool(self, record: dict[str, Any]) -> list[Scored] | Rejected:
        pool = record.get(self.completions)
        if not isinstance(pool, list):
            return Rejected(f"column {self.completions!r} holds no completion list ({type(pool).__name__})")
        items = scored(pool, self.score_key, self.skip_truncated)
        if len(items) < 2:
            return Rejected(f"fewer than 2 scored completions: {len(items)} of {len(pool)} have a distinct text and "
                            f"a {self.score_key!r}{self.truncated_note(pool)}")
        return items

    def truncated_note(self, pool: list[Any]) -> str:
        cut = sum(isinstance(c, dict) and c.get("finish_reason") == "length" for c in pool) if self.skip_truncated else 0
        return f" ({cut} cut off at max_tokens, left out: skip_truncated)" if cut else ""

    def base(self, record: dict[str, Any]) -> dict[str, Any]:
        return {**{k: v for k, v in record.items() if k != self.completions}, **self.columns.fields(record)}


class Pairs(_PoolRows):
    """Chosen/rejected rows from a scored pool by ``rule`` (see the module docstring)."""

    type_name = "pairs"
    PAIR_COLUMNS = ("prompt", "chosen", "rejected", "chosen_score", "rejected_score", "chosen_model", "rejected_model",
                    "margin", "pair_rule", "system", "chosen_index", "rejected_index")

    def __init__(self, name: str, *, rule: str = "best_vs_random", margin: float = 0.0, max_pairs: int | None = None,
                 seed: int = 0, completions: str = "completions", score_key: str = "score", skip_truncated: bool = True,
                 prompt: str = "prompt", prompt_messages: str | None = None, system_column: str | None = None,
                 inputs: list[str] | None = None) -> None:
        where = f"pairs {name!r}"
        if rule not in RULES:
            raise ValueError(f"{where}: rule must be one of {', '.join(RULES)}, not {rule!r}")
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or margin < 0:
            raise ValueError(f"{where}: margin must be a number >= 0, not {margin!r}")
        if max_pairs is not None and (isinstance(max_pairs, bool) or not isinstance(max_pairs, int) or max_pairs < 1):
            raise ValueError(f"{where}: max_pairs must be a whole number >= 1 (or left out for no cap), not {max_pairs!r}")
        if max_pairs is not None and rule != "all_above_margin":
            raise ValueError(f"{where}: max_pairs caps rule all_above_margin; rule {rule!r} makes one pair per row")
        cols = [*self.PAIR_COLUMNS, *(["prompt_messages"] if prompt_messages else [])]
        super().__init__(name, completions=completions, score_key=score_key, skip_truncated=skip_truncated,
                         prompt=prompt, prompt_messages=prompt_messages, system_column=system_column, writes=cols,
                         inputs=inputs, citations=[ZEPHYR] if rule == "best_vs_random" else [])
        self.rule, self.margin, self.max_pairs, self.seed = rule, float(margin), max_pairs, seed

    def rng(self, record: dict[str, Any]) -> random.Random:
        """The row's random draw: the same for the same row id, step and ``seed``."""
        return random.Random(xxhash.xxh64_intdigest(f"{record.get('id', '')}\x1f{self.name}\x1f{self.seed}".encode()))

    def choose(self, record: dict[str, Any], items: list[Scored]) -> list[tuple[Scored, Scored]]:
        if self.rule == "best_vs_worst":
            return best_vs_worst(items, self.margin)
        if self.rule == "best_vs_random":
            return best_vs_random(items, self.rng(record), self.margin)
        return all_above_margin(items, self.margin, self.max_pairs)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        items = self.pool(record)
        if isinstance(items, Rejected):
            return items
        pairs = self.choose(record, items)
        if not pairs:
            if best(items).score == worst(items).score:
                return Rejected(f"tie: all {len(items)} scored completions have {self.score_key} {best(items).score:g}",
                                score=0.0)
            return Rejected(f"no pair with a score difference >= margin {self.margin:g} ({_spread(items)})",
                            score=best(items).score - worst(items).score)
        base = self.base(record)
        rows = [{**base, "chosen": a.text, "rejected": b.text, "chosen_score": a.score, "rejected_score": b.score,
                 "chosen_model": a.model, "rejected_model": b.model, "margin": a.score - b.score,
                 "pair_rule": self.rule, "chosen_index": a.index, "rejected_index": b.index} for a, b in pairs]
        return adopt_rows(record, rows, self.name, [{"step": self.name}])


class KtoLabels(_PoolRows):
    """One KTO row per scored completion, labelled desirable by ``threshold`` or ``top_k``."""

    type_name = "kto_labels"

    def __init__(self, name: str, *, threshold: float | None = None, top_k: int | None = None,
                 completions: str = "completions", score_key: str = "score", skip_truncated: bool = True,
                 prompt: str = "prompt", prompt_messages: str | None = None, system_column: str | None = None,
                 inputs: list[str] | None = None) -> None:
        where = f"kto_labels {name!r}"
        if (threshold is None) == (top_k is None):
            raise ValueError(f"{where}: give exactly one of `threshold` (desirable when score >= it) and `top_k` "
                             "(the k best of each prompt are desirable)")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
            raise ValueError(f"{where}: threshold must be a number, not {threshold!r}")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise ValueError(f"{where}: top_k must be a whole number >= 1, not {top_k!r}")
        cols = ["prompt", "completion", "label", "score", "model", "system", "completion_index",
                *(["prompt_messages"] if prompt_messages else [])]
        super().__init__(name, completions=completions, score_key=score_key, skip_truncated=skip_truncated,
                         prompt=prompt, prompt_messages=prompt_messages, system_column=system_column, writes=cols,
                         inputs=inputs, citations=[KTO])
        self.threshold = None if threshold is None else float(threshold)
        self.top_k = top_k

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        pool = record.get(self.completions)
        if not isinstance(pool, list):
            return Rejected(f"column {self.completions!r} holds no completion list ({type(pool).__name__})")
        items = scored(pool, self.score_key, self.skip_truncated)
        if not items:
            return Rejected(f"no scored completion: none of {len(pool)} has a distinct text and a {self.score_key!r}"
                            f"{self.truncated_note(pool)}")
        base = self.base(record)
        labels = kto_desirable(items, self.threshold, self.top_k)
        rows = [{**base, "completion": s.text, "label": ok, "score": s.score, "model": s.model,
                 "completion_index": s.index} for s, ok in zip(items, labels)]
        return adopt_rows(record, rows, self.name, [{"step": self.name}])
