"""Pass rates and difficulty labels per problem, with band selection for RL data.

The pass rate of a problem is the share of ``k`` sampled solutions whose final answer verifies.
RL-with-verifiable-rewards pipelines keep the problems the policy sometimes solves: a problem
solved by every sample or by none gives no learning signal under group-normalised advantages
(DAPO's "dynamic sampling": Yu et al. 2025, arXiv:2503.14476; pass-rate difficulty filtering as in
Polaris / Skywork-OR1 / DeepScaleR data recipes). Default band: keep 0 < pass rate < 1.

Difficulty labels: ``unsolved`` (0), ``hard`` (≤ 1/3), ``medium`` (≤ 2/3), ``easy`` (< 1),
``solved`` (1).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...pipeline.step import Rejected
from .verified_sampling import Sample, VerifiedSampler

CITATION = "Yu et al. 2025, DAPO: An Open-Source LLM Reinforcement Learning System at Scale, arXiv:2503.14476"
COLUMNS = ("pass_rate", "n_correct", "n_samples", "difficulty", "status_counts", "samples")


def difficulty(pass_rate: float) -> str:
    if pass_rate <= 0:
        return "unsolved"
    if pass_rate >= 1:
        return "solved"
    if pass_rate <= 1 / 3:
        return "hard"
    if pass_rate <= 2 / 3:
        return "medium"
    return "easy"


class PassRate(VerifiedSampler):
    """k samples per problem → ``pass_rate``, ``n_correct``, ``n_samples``, ``difficulty``,
    ``status_counts`` (and ``samples`` with ``keep_samples``). With ``select`` (default) problems
    outside the band (``min_pass_rate``, ``max_pass_rate``; exclusive unless ``inclusive``) are
    rejected with their pass rate as the reason and score."""

    type_name = "pass_rate"

    def __init__(self, name: str, *, k: int = 8, min_pass_rate: float = 0.0, max_pass_rate: float = 1.0,
                 inclusive: bool = False, select: bool = True, keep_samples: bool = True,
                 temperature: float = 1.0, citations: Iterable[str] = (), **kwargs: Any) -> None:
        if not 0.0 <= float(min_pass_rate) <= float(max_pass_rate) <= 1.0:
            raise ValueError(f"need 0 <= min_pass_rate <= max_pass_rate <= 1, got {min_pass_rate} and {max_pass_rate}")
        super().__init__(name, k=k, temperature=temperature, citations=[CITATION, *citations], **kwargs)
        self.writes = set(COLUMNS if keep_samples else COLUMNS[:-1])
        self.min_pass_rate, self.max_pass_rate = float(min_pass_rate), float(max_pass_rate)
        self.inclusive, self.select, self.keep_samples = bool(inclusive), bool(select), bool(keep_samples)

    def in_band(self, p: float) -> bool:
        if self.inclusive:
            return self.min_pass_rate <= p <= self.max_pass_rate
        return self.min_pass_rate < p < self.max_pass_rate

    def combine(self, record: dict[str, Any], samples: list[Sample]) -> dict[str, Any] | Rejected:
        n_correct = sum(s.correct for s in samples)
        p = n_correct / len(samples)
        if self.select and not self.in_band(p):
            lo, hi = ("[", "]") if self.inclusive else ("(", ")")
            return Rejected(f"pass rate {p:.2f} ({n_correct}/{len(samples)}, {difficulty(p)}) outside "
                            f"{lo}{self.min_pass_rate:g}, {self.max_pass_rate:g}{hi}", score=p)
        counts: dict[str, int] = {}
        for s in samples:
            counts[s.verdict.status] = counts.get(s.verdict.status, 0) + 1
        row = {**self.base_columns(record), "pass_rate": p, "n_correct": n_correct, "n_samples": len(samples),
               "difficulty": difficulty(p), "status_counts": counts}
        if self.keep_samples:
            row["samples"] = [{"solution": s.text, "pred_answer": s.verdict.pred, "status": s.verdict.status}
                              for s in samples]
        return row
