"""What a report reads from a run directory: a seeded sample of the kept rows, the rejected rows
with their reasons, and ``run.json`` (status, per-step counts, usage)."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..curate.metrics.text import as_text
from ..io.shards import read_shards

#: engine bookkeeping columns: never a text or score column of the dataset
BOOKKEEPING = {"id", "_lineage", "_rejected_by", "_reason", "_score", "_duplicate_of"}
_VARIABLE = re.compile(r"\b[0-9a-f]{8,}\b|-?\d+(?:\.\d+)?")


class ReportError(ValueError):
    """The folder is not a run directory (or has nothing to report on)."""


@dataclass
class RunData:
    """A run directory's rows (kept rows sampled to at most ``max_rows``) and its run.json."""

    root: Path
    rows: list[dict[str, Any]]
    total_rows: int
    rejected: list[dict[str, Any]]
    rejected_total: int
    run: dict[str, Any] | None
    reasons: list[dict[str, Any]] = field(default_factory=list)

    @property
    def sampled(self) -> bool:
        return self.total_rows > len(self.rows)


def reservoir(items: Iterable[dict[str, Any]], size: int, seed: int) -> tuple[list[dict[str, Any]], int]:
    """A uniform seeded sample of at most ``size`` items in their original order, and the item count."""
    rng = random.Random(seed)
    sample: list[tuple[int, dict[str, Any]]] = []
    n = 0
    for n, item in enumerate(items, 1):
        if len(sample) < size:
            sample.append((n, item))
        else:
            j = rng.randrange(n)
            if j < size:
                sample[j] = (n, item)
    sample.sort(key=lambda p: p[0])
    return [item for _, item in sample], n


def _rejected_rows(root: Path) -> Iterator[dict[str, Any]]:
    rej = root / "rejected"
    if rej.is_dir():
        for sub in sorted(p for p in rej.iterdir() if p.is_dir()):
            yield from read_shards(sub)


def reason_pattern(reason: str) -> str:
    """A reason with ids and numbers replaced by ``#`` so that similar reasons group together."""
    return _VARIABLE.sub("#", reason or "")


class ReasonCounter:
    """Counts (step, reason pattern) over rejected rows as they stream past, keeping one example each."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.examples: dict[tuple[str, str], str] = {}

    def add(self, row: dict[str, Any]) -> None:
        reason = str(row.get("_reason") or "")
        key = (str(row.get("_rejected_by") or "?"), reason_pattern(reason))
        self.counts[key] += 1
        self.examples.setdefault(key, reason)

    def top(self, limit: int = 15) -> list[dict[str, Any]]:
        return [{"step": s, "reason": p, "count": c, "example": self.examples[(s, p)]}
                for (s, p), c in self.counts.most_common(limit)]


def top_reasons(rejected: Iterable[dict[str, Any]], limit: int = 15) -> list[dict[str, Any]]:
    """Counts of (step, reason pattern) among rejected rows, most frequent first, with one example."""
    counter = ReasonCounter()
    for r in rejected:
        counter.add(r)
    return counter.top(limit)


def read_run(root: str | Path, max_rows: int = 50_000, seed: int = 0) -> RunData:
    """Read ``root`` (a run directory: ``data/`` and usually ``run.json``, ``rejected/``)."""
    root = Path(root)
    if not root.is_dir():
        raise ReportError(f"{root}: no such run directory; give the -o folder of `synthloom run` "
                          "or of a curation command (dedup, decontaminate, judge)")
    if not (root / "data").is_dir():
        raise ReportError(f"{root}: not a run directory (no data/ folder); give the -o folder of `synthloom run` "
                          "or of a curation command")
    run = None
    if (root / "run.json").is_file():
        try:
            run = orjson.loads((root / "run.json").read_bytes())
        except orjson.JSONDecodeError as e:
            raise ReportError(f"{root / 'run.json'}: not valid JSON ({e}); rerun the command that made this run") from None
    rows, total = reservoir(read_shards(root / "data"), max_rows, seed)
    reasons = ReasonCounter()

    def counted() -> Iterator[dict[str, Any]]:
        for r in _rejected_rows(root):
            reasons.add(r)
            yield r

    rejected, rejected_total = reservoir(counted(), max_rows, seed)
    return RunData(root, rows, total, rejected, rejected_total, run, reasons.top())


def text_columns(rows: list[dict[str, Any]]) -> list[str]:
    """Columns holding text (strings or chat messages) in most rows, longest on average first."""
    lengths: dict[str, list[int]] = {}
    for r in rows:
        for k, v in r.items():
            if k in BOOKKEEPING:
                continue
            if isinstance(v, str) or (isinstance(v, list) and v and all(isinstance(m, dict) and "content" in m for m in v)):
                lengths.setdefault(k, []).append(len(as_text(v)))
    half = max(1, len(rows) // 2)
    cols = [(sum(ls) / len(ls), k) for k, ls in lengths.items() if len(ls) >= half]
    return [k for _, k in sorted(cols, key=lambda p: -p[0])]
