"""s1-style selection of long chain-of-thought data: hard problems, spread over domains, long traces.

Muennighoff et al. 2025, "s1: Simple test-time scaling", arXiv:2501.19393, §2: 1,000 of 59K
problems chosen by three criteria in order — **difficulty** (problems that the reference models,
Qwen2.5-7B and 32B-Instruct, solve are dropped), **diversity** (each problem classified into a
domain of the Mathematics Subject Classification; a domain is drawn uniformly at random, then one
of its problems) and, within a domain, **length** (the problem is drawn with weight 2^-rank of its
reasoning trace's length, longest first, "longer traces = harder problems"). The step reads the
difficulty from a column the ``pass_rate`` step writes (run it with the student model and
``select: false``), the domain from a column (a ``llm`` step with a JSON-schema enum writes it in
the built-in recipe) and the trace from ``length_column``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

from ...curate.selection.spill import RowSpill, numeric, spill_folder
from ...pipeline.step import GlobalStep, Rejected, RejectedRow

CITATION = "Muennighoff et al. 2025, s1: Simple test-time scaling, arXiv:2501.19393"


class LongCoTSelect(GlobalStep):
    """Keeps up to ``size`` rows: rows whose ``difficulty_column`` (a pass rate) is over
    ``max_pass_rate`` are rejected as too easy (``difficulty_column: null`` skips the check); then,
    until ``size`` rows are chosen, a domain (``domain_column``; rows without one share the domain
    ``unknown``) is drawn uniformly among those with rows left and one of its rows with weight
    2^-rank by the length in words of ``length_column`` (longest first). Draws use ``seed``; kept
    rows stay in input order, with ``selection_rank`` (the order they were drawn in). Rows left
    over are rejected with their domain and length rank."""

    type_name = "long_cot_select"

    def __init__(self, name: str, *, size: int = 1000, domain_column: str | None = "domain",
                 length_column: str = "reasoning", difficulty_column: str | None = "pass_rate",
                 max_pass_rate: float = 0.0, seed: int = 0, inputs: list[str] | None = None) -> None:
        if int(size) < 1:
            raise ValueError(f"long_cot_select {name!r}: size must be >= 1 (rows to keep), not {size}")
        if not 0.0 <= float(max_pass_rate) <= 1.0:
            raise ValueError(f"long_cot_select {name!r}: max_pass_rate must be in [0, 1], not {max_pass_rate}")
        reads = [length_column] + [c for c in (domain_column, difficulty_column) if c]
        super().__init__(name, reads=reads, writes=["selection_rank"], inputs=inputs or (), citations=[CITATION])
        self.size, self.seed = int(size), int(seed)
        self.domain_column, self.length_column = domain_column, length_column
        self.difficulty_column, self.max_pass_rate = difficulty_column, float(max_pass_rate)

    def too_easy(self, record: dict[str, Any]) -> Rejected | None:
        if not self.difficulty_column:
            return None
        rate = numeric(record.get(self.difficulty_column))
        if rate is None:
            return Rejected(f"no difficulty: column {self.difficulty_column!r} has no pass rate")
        if rate > self.max_pass_rate:
            return Rejected(f"too easy: pass rate {rate:g} over {self.max_pass_rate:g}", rate)
        return None

    def domain(self, record: dict[str, Any]) -> str:
        value = record.get(self.domain_column) if self.domain_column else None
        return str(value).strip() if value is not None and str(value).strip() else "unknown"

    def length(self, record: dict[str, Any]) -> int:
        value = record.get(self.length_column)
        return len(value.split()) if isinstance(value, str) else 0

    def draw(self, pools: dict[str, list[tuple[int, int]]]) -> dict[int, int]:
        """``{row index: draw order}`` for up to ``size`` rows of ``pools`` (domain → [(length, index)])."""
        rng = random.Random(self.seed)
        for pool in pools.values():
            pool.sort(key=lambda item: (-item[0], item[1]))
        chosen: dict[int, int] = {}
        domains = sorted(pools)
        while domains and len(chosen) < self.size:
            d = domains[rng.randrange(len(domains))]
            pool = pools[d]
            weights = [math.ldexp(1.0, -min(rank, 1000)) for rank in range(len(pool))]
            _, index = pool.pop(rng.choices(range(len(pool)), weights=weights)[0])
            chosen[index] = len(chosen)
            if not pool:
                domains.remove(d)
        return chosen

    def run(self, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any] | RejectedRow]:
        with RowSpill(spill_folder(self)) as spill:
            pools: dict[str, list[tuple[int, int]]] = {}
            for record in rows:
                index = spill.add(record)
                if self.too_easy(record) is None:
                    pools.setdefault(self.domain(record), []).append((self.length(record), index))
            ranks = {d: {i: r for r, (_, i) in enumerate(sorted(p, key=lambda t: (-t[0], t[1])))}
                     for d, p in pools.items()}
            chosen = self.draw({d: list(p) for d, p in pools.items()})
            for index, record in enumerate(spill):
                easy = self.too_easy(record)
                if easy is not None:
                    yield RejectedRow(record, easy)
                elif index in chosen:
                    yield {**record, "selection_rank": chosen[index]}
                else:
                    d = self.domain(record)
                    yield RejectedRow(record, Rejected(
                        f"not drawn: {self.size} rows chosen before it (domain {d!r}, its trace "
                        f"{ranks[d][index] + 1} of {len(ranks[d])} by length)"))
