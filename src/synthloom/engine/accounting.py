"""Per-step row accounting: every row a step receives is kept, rejected or an error.

``rows_in == ok + rejected + errors`` holds for every step; ``rows_out`` is what the step emitted
(equal to ``ok`` for 1→1 steps, more for expansions, sources and global steps are heads whose
``rows_in`` counts the rows they emitted or removed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class StepCounts:
    """Counts of one step (in one partition, or summed over a run)."""

    rows_in: int = 0
    ok: int = 0
    rows_out: int = 0
    rejected: int = 0
    errors: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"in": self.rows_in, "ok": self.ok, "out": self.rows_out, "rejected": self.rejected, "errors": self.errors}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> StepCounts:
        return StepCounts(d.get("in", 0), d.get("ok", 0), d.get("out", 0), d.get("rejected", 0), d.get("errors", 0))

    @property
    def balanced(self) -> bool:
        return self.rows_in == self.ok + self.rejected + self.errors


def sum_counts(parts: list[dict[str, dict[str, int]]]) -> dict[str, StepCounts]:
    total: dict[str, StepCounts] = {}
    for counts in parts:
        for step, d in counts.items():
            t = total.setdefault(step, StepCounts())
            c = StepCounts.from_dict(d)
            t.rows_in += c.rows_in
            t.ok += c.ok
            t.rows_out += c.rows_out
            t.rejected += c.rejected
            t.errors += c.errors
    return total
