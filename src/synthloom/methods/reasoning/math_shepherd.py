"""Math-Shepherd: process (per-step) labels from rollouts, without human annotation.

Wang et al. 2023, "Math-Shepherd: Verify and Reinforce LLMs Step-by-step without Human
Annotations", ACL 2024, arXiv:2312.08935. A solution is split into steps; for each step prefix a
*completer* decodes ``N`` continuations to a final answer (the paper: N=8). The step's quality is
its potential to reach the gold answer:

- **hard estimate** (HE): 1 if any of the N completions reaches the gold answer, else 0;
- **soft estimate** (SE): the fraction of the N completions that reach it.

The last step is labelled by the solution's own final answer (it is its only completion). The
labels train a process reward model (PRM).

Rows (one per solution): the problem's columns plus ``solution``, ``steps``, ``hard_labels``,
``soft_labels``, ``rollouts_correct`` (per step, how many of the N reached the gold),
``n_rollouts``, ``first_error_step`` (the first step with HE 0, or ``None``) and the solution's
own verdict (``correct``, ``verify_status``, ``pred_answer``, ``gold_answer``). Solutions come
from ``solution_column`` (one given solution per problem) or are sampled, ``k`` per problem.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from ...pipeline.step import Rejected
from ...records import adopt_rows
from ..fanout import bounded, check_max_fanout
from .solution_steps import split_steps
from .verified_sampling import Sample, VerifiedSampler

CITATION = ("Wang et al. 2023, Math-Shepherd: Verify and Reinforce LLMs Step-by-step without Human Annotations, "
            "ACL 2024, arXiv:2312.08935")
COLUMNS = ("solution", "steps", "hard_labels", "soft_labels", "rollouts_correct", "n_rollouts", "first_error_step",
           "correct", "verify_status", "pred_answer", "gold_answer")


def estimates(hits: list[int], n: int) -> tuple[list[int], list[float]]:
    """Hard and soft estimates from per-step counts of completions that reached the gold answer."""
    if n < 1:
        raise ValueError(f"n (rollouts per step) must be >= 1, not {n}")
    return [1 if h > 0 else 0 for h in hits], [h / n for h in hits]


def step_prefix(steps: list[str], i: int) -> str:
    """The solution up to and including step ``i`` (0-based), one step a line."""
    return "\n".join(steps[: i + 1])


class MathShepherd(VerifiedSampler):
    """Per-step labels by rollouts. Options: ``n_rollouts`` (N completions per step prefix, the
    paper 8), ``solution_column`` (label the given solutions; default: sample ``k`` per problem
    with ``template``), ``max_steps`` (solutions with more steps are rejected: the cost is steps ×
    N calls), ``completer_model`` / ``completer_template`` (the rollout prompt sees ``question``
    and ``prefix``), ``max_fanout`` (bounds ``n_rollouts`` and ``k``; the recipe passes ``-n``), and
    the :class:`VerifiedSampler` options. The step prefixes of all solutions roll out concurrently."""

    type_name = "math_shepherd"

    def __init__(self, name: str, *, n_rollouts: int = 8, k: int = 1, solution_column: str | None = None,
                 max_steps: int = 12, completer_model: str | None = None, completer_template: str | None = None,
                 temperature: float = 0.7, max_fanout: int | None = None, citations: Iterable[str] = (),
                 inputs: Iterable[str] = (), **kwargs: Any) -> None:
        if int(n_rollouts) < 1:
            raise ValueError(f"n_rollouts must be >= 1 (completions per step prefix), not {n_rollouts}")
        if int(max_steps) < 1:
            raise ValueError(f"max_steps must be >= 1, not {max_steps}")
        max_fanout = check_max_fanout(max_fanout)
        super().__init__(name, k=bounded(k, max_fanout), temperature=temperature, citations=[CITATION, *citations],
                         inputs=inputs, **kwargs)
        self.writes = set(COLUMNS)
        self.n_rollouts = bounded(n_rollouts, max_fanout)
        self.solution_column = solution_column
        if solution_column:
            self.reads.add(solution_column)
        self.max_steps = int(max_steps)
        self.completer_model = self.uses_model(completer_model)
        self.completer_template = completer_template or self.load_template("math_shepherd_complete.jinja")

    async def _solutions(self, record: dict[str, Any], gold: Any, lineage: list[dict[str, Any]]) -> list[Sample]:
        if self.solution_column:
            text = record.get(self.solution_column)
            if not isinstance(text, str) or not text.strip():
                return []
            return await self.verify([(text, None, None)], gold)
        raw, lin = await self.sample(record, self.messages(record), self.k)
        lineage.extend(lin)
        return await self.verify(raw, gold)

    async def rollouts(self, record: dict[str, Any], s: Sample, steps: list[str], i: int,
                       gold: Any) -> tuple[int, list[dict[str, Any]]]:
        """How many of the ``n_rollouts`` completions of step prefix ``i`` reach ``gold``, and their lineage."""
        prefix = step_prefix(steps, i)
        msgs = self.messages({**record, "prefix": prefix}, template=self.completer_template)
        raw, lin = await self.sample(record, msgs, self.n_rollouts, salt=f"\x1frollout:{s.index}:{i}",
                                     model=self.completer_model, lineage={"solution": s.index, "prefix_steps": i + 1})
        done = [(f"{prefix}\n{text}", reasoning, finish) for text, reasoning, finish in raw]
        return sum(r.correct for r in await self.verify(done, gold)), lin

    async def label(self, record: dict[str, Any], s: Sample, gold: Any,
                    lineage: list[dict[str, Any]]) -> dict[str, Any]:
        steps = split_steps(s.text)
        per_prefix = await asyncio.gather(*(self.rollouts(record, s, steps, i, gold) for i in range(len(steps) - 1)))
        hits = [h for h, _ in per_prefix]
        for _, lin in per_prefix:
            lineage.extend(lin)
        hits.append(self.n_rollouts if s.correct else 0)  # the last step: the solution is its own completion
        hard, soft = estimates(hits, self.n_rollouts)
        return {"solution": s.text, "steps": steps, "hard_labels": hard, "soft_labels": soft,
                "rollouts_correct": hits, "n_rollouts": self.n_rollouts,
                "first_error_step": hard.index(0) if 0 in hard else None, **s.columns()}

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        gold = record.get(self.gold_column)
        lineage: list[dict[str, Any]] = []
        solutions = await self._solutions(record, gold, lineage)
        reasons, usable = [], []
        for s in solutions:
            n = len(split_steps(s.text))
            if n == 0:
                reasons.append(f"solution {s.index} is empty")
            elif n > self.max_steps:
                reasons.append(f"solution {s.index} has {n} steps, over max_steps={self.max_steps}")
            else:
                usable.append(s)
        if not usable:
            if not solutions:
                return Rejected(f"no solution to label in column {self.solution_column!r}")
            return Rejected("no solution to label: " + "; ".join(reasons))
        base = self.base_columns(record)
        lineages: list[list[dict[str, Any]]] = [[] for _ in usable]
        labels = await asyncio.gather(*(self.label(record, s, gold, lin) for s, lin in zip(usable, lineages)))
        rows = [{**base, **label} for label in labels]
        lineage.extend(entry for lin in lineages for entry in lin)
        return adopt_rows(record, rows, self.name, lineage)
