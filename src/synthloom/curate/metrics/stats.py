"""Length, token and score statistics: percentiles of text lengths, tokens from lineage, and the
distribution of any numeric (judge score) or boolean (pass/fail) column."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .text import as_text, word_tokens

PERCENTILES = (5, 25, 50, 75, 95)
#: columns never treated as scores (ids, lineage, engine bookkeeping)
_NOT_SCORES = {"id", "_lineage", "_rejected_by", "_reason", "_duplicate_of", "_segment"}


def describe(values: Sequence[float]) -> dict[str, Any]:
    """count, mean, std, min, p5/p25/p50/p75/p95, max of ``values`` (count 0 and None values if empty)."""
    arr = np.asarray([float(v) for v in values], dtype=np.float64)
    if arr.size == 0:
        return {"count": 0, "mean": None, "std": None, "min": None,
                **{f"p{p}": None for p in PERCENTILES}, "max": None}
    pct = np.percentile(arr, PERCENTILES)
    return {"count": int(arr.size), "mean": float(arr.mean()), "std": float(arr.std()), "min": float(arr.min()),
            **{f"p{p}": float(v) for p, v in zip(PERCENTILES, pct)}, "max": float(arr.max())}


def length_stats(texts: Iterable[str]) -> dict[str, Any]:
    """Characters and words (``word_tokens``, punctuation excluded) per text."""
    chars, words = [], []
    for t in texts:
        chars.append(len(t))
        words.append(sum(1 for w in word_tokens(t) if w[0].isalnum() or w[0] == "_"))
    return {"chars": describe(chars), "words": describe(words)}


def token_stats(records: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """Model tokens per row from its ``_lineage`` usage (prompt and completion, summed over the row's
    model calls); None when no row has usage."""
    prompt, completion, calls = [], [], 0
    for rec in records:
        lineage = rec.get("_lineage") or []
        p = c = 0
        seen = False
        for entry in lineage if isinstance(lineage, list) else []:
            usage = entry.get("usage") if isinstance(entry, dict) else None
            if isinstance(usage, dict):
                seen = True
                calls += 1
                p += int(usage.get("prompt_tokens") or 0)
                c += int(usage.get("completion_tokens") or 0)
        if seen:
            prompt.append(p)
            completion.append(c)
    if not prompt:
        return None
    return {"rows": len(prompt), "model_calls": calls, "prompt_tokens": describe(prompt),
            "completion_tokens": describe(completion), "total_completion_tokens": int(sum(completion)),
            "total_prompt_tokens": int(sum(prompt))}


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not (isinstance(v, float) and math.isnan(v))


def column_kind(values: Sequence[Any]) -> str | None:
    """"pass_rate" if the non-missing values are booleans, "score" if numbers, else None."""
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not present:
        return None
    if all(isinstance(v, bool) for v in present):
        return "pass_rate"
    if all(_is_number(v) for v in present):
        return "score"
    return None


def score_columns(records: Sequence[dict[str, Any]]) -> list[str]:
    """Columns whose values are all numbers or all booleans (the judge scores and pass flags)."""
    names: dict[str, None] = {}
    for rec in records:
        for k in rec:
            if k not in _NOT_SCORES:
                names.setdefault(k, None)
    return [k for k in names if column_kind([r.get(k) for r in records]) is not None]


def column_distribution(values: Sequence[Any]) -> dict[str, Any] | None:
    """The distribution of a boolean or numeric column.

    Booleans: ``{"kind": "pass_rate", "passed", "failed", "missing", "pass_rate"}``. Numbers:
    ``{"kind": "score", **describe, "missing", "histogram"}`` where the histogram counts each value when
    there are at most 20 distinct integers (a judge's 1–5 or 0–10 scale), else 10 equal bins as
    ``[[low, high, count], ...]``. None for a column of neither.
    """
    kind = column_kind(values)
    missing = sum(1 for v in values if v is None or (isinstance(v, float) and math.isnan(v)))
    if kind == "pass_rate":
        passed = sum(1 for v in values if v is True)
        failed = sum(1 for v in values if v is False)
        return {"kind": kind, "passed": passed, "failed": failed, "missing": missing,
                "pass_rate": passed / (passed + failed) if passed + failed else None}
    if kind != "score":
        return None
    nums = [float(v) for v in values if _is_number(v)]
    out: dict[str, Any] = {"kind": kind, **describe(nums), "missing": missing}
    distinct = set(nums)
    if len(distinct) <= 20 and all(v.is_integer() for v in distinct):
        counts = Counter(nums)
        out["histogram"] = {"values": [[int(v), counts[v]] for v in sorted(counts)]}
    else:
        hist, edges = np.histogram(nums, bins=10)
        out["histogram"] = {"bins": [[float(edges[i]), float(edges[i + 1]), int(hist[i])] for i in range(len(hist))]}
    return out


def texts_of(records: Iterable[dict[str, Any]], column: str) -> list[str]:
    return [as_text(r.get(column)) for r in records]
