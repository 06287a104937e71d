"""Fan-out bounded by the run's ``-n``: what keeps a quick try quick.

A step that makes several things per record (samples, rollouts, items, instructions) multiplies the cost
of a run; ``synthloom run NAME -n 3`` on the embedded model should still end in a few minutes. Such steps
take ``max_fanout`` and the built-in recipes pass it ``${n}``: every per-record count of the step is then
at most ``-n`` (``-n 3``: at most 3 samples per problem), and a run without ``-n`` (or with an ``-n`` at
least the count) keeps the paper's counts.
"""

from __future__ import annotations


def check_max_fanout(max_fanout: int | None) -> int | None:
    """``max_fanout`` validated: ``None`` (no bound) or a positive int."""
    if max_fanout is None:
        return None
    if int(max_fanout) < 1:
        raise ValueError(f"max_fanout must be >= 1 (the most per record; the recipes pass -n) or null, not {max_fanout}")
    return int(max_fanout)


def bounded(count: int, max_fanout: int | None) -> int:
    """``count`` (a per-record fan-out) bounded by ``max_fanout`` (``None``: unbounded)."""
    return int(count) if max_fanout is None else min(int(count), int(max_fanout))
