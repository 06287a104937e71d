"""Rejection sampling / one ReST-EM round: k solutions per problem, keep the verified ones.

Singh et al. 2023, "Beyond Human Data: Scaling Self-Training for Problem-Solving with Language
Models" (ReST-EM), arXiv:2312.06585 — E-step: sample many solutions per problem at T≈1, keep those
whose final answer matches (binary reward), at most 10 per problem; M-step: fine-tune the *base*
model on them (outside synthloom), repeat. Also the filter of STaR / RFT (Yuan et al. 2023,
arXiv:2308.01825).

``rejection_sampling`` expands each problem into its ``k`` samples, each with its verdict and
``verified_rank`` (0, 1, … among the verified samples of the problem, ``None`` if not verified);
``keep_verified`` then rejects failed samples (with the verifier's reason) and verified ones past
``max_per_problem``. With ``emit: pairs`` the step instead emits preference pairs — chosen = a
verified sample, rejected = a failed one of the same problem — for DPO-style training.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...pipeline.step import FilterStep, Rejected
from .verified_sampling import Sample, VerifiedSampler, reason_for

CITATION = ("Singh et al. 2023, Beyond Human Data: Scaling Self-Training for Problem-Solving with Language Models "
            "(ReST-EM), arXiv:2312.06585")

SAMPLE_COLUMNS = ("problem_id", "sample_index", "solution", "reasoning", "finish_reason", "correct",
                  "verify_status", "pred_answer", "gold_answer", "verify_reason", "verified_rank")
PAIR_COLUMNS = ("problem_id", "chosen", "rejected", "chosen_answer", "rejected_answer", "rejected_status",
                "gold_answer", "n_verified", "n_samples")


class RejectionSampling(VerifiedSampler):
    """k sampled solutions per problem, each verified against the gold answer (ReST-EM E-step).
    ``emit: samples`` (default) gives one row per sample — follow with ``keep_verified``;
    ``emit: pairs`` gives up to ``max_pairs`` (chosen verified, rejected failed) rows per problem."""

    type_name = "rejection_sampling"

    def __init__(self, name: str, *, emit: str = "samples", max_pairs: int = 4, k: int = 4,
                 temperature: float = 1.0, citations: Iterable[str] = (), **kwargs: Any) -> None:
        if emit not in ("samples", "pairs"):
            raise ValueError(f"emit must be 'samples' (one row per sample) or 'pairs' (chosen/rejected), not {emit!r}")
        if int(max_pairs) < 1:
            raise ValueError(f"max_pairs must be >= 1, not {max_pairs}")
        super().__init__(name, k=k, temperature=temperature, citations=[CITATION, *citations], **kwargs)
        self.writes = set(SAMPLE_COLUMNS if emit == "samples" else PAIR_COLUMNS)
        self.emit = emit
        self.max_pairs = int(max_pairs)

    def combine(self, record: dict[str, Any], samples: list[Sample]) -> list[dict[str, Any]] | Rejected:
        base = self.base_columns(record)
        problem = record.get("id")
        if self.emit == "pairs":
            good = [s for s in samples if s.correct]
            bad = [s for s in samples if not s.correct]
            if not good or not bad:
                what = "none verified" if not good else "all verified"
                return Rejected(f"no preference pair: {len(good)} of {len(samples)} samples verified ({what})",
                                score=len(good) / len(samples))
            return [{**base, "problem_id": problem, "chosen": g.text, "rejected": b.text,
                     "chosen_answer": g.verdict.pred, "rejected_answer": b.verdict.pred,
                     "rejected_status": b.verdict.status, "gold_answer": g.verdict.gold,
                     "n_verified": len(good), "n_samples": len(samples)}
                    for g, b in list(zip(good, bad))[: self.max_pairs]]
        rows, rank = [], 0
        for s in samples:
            rows.append({**base, "problem_id": problem, "sample_index": s.index, "solution": s.text,
                         "reasoning": s.reasoning, "finish_reason": s.finish_reason, **s.columns(),
                         "verify_reason": None if s.correct else reason_for(s.verdict),
                         "verified_rank": rank if s.correct else None})
            rank += s.correct
        return rows


class KeepVerified(FilterStep):
    """Keeps rows whose answer was verified (``correct``); rejects the rest with the verifier's
    reason, and verified rows whose ``verified_rank`` reaches ``max_per_problem`` (ReST-EM caps
    at 10 per problem so easy problems do not dominate)."""

    type_name = "keep_verified"

    def __init__(self, name: str, *, max_per_problem: int | None = None, inputs: list[str] | None = None) -> None:
        if max_per_problem is not None and int(max_per_problem) < 1:
            raise ValueError(f"max_per_problem must be >= 1 (or left out for no cap), not {max_per_problem}")
        reads = ["correct", "verify_status"] + (["verified_rank"] if max_per_problem is not None else [])
        super().__init__(name, reads=reads, inputs=inputs or ())
        self.max_per_problem = None if max_per_problem is None else int(max_per_problem)

    def check(self, record: dict[str, Any]) -> bool | Rejected:
        if not record.get("correct"):
            reason = record.get("verify_reason")
            if not reason:
                status = record.get("verify_status")
                reason = (f"wrong answer: predicted {record.get('pred_answer')}, gold {record.get('gold_answer')}"
                          if status == "wrong" else f"not verified ({status})")
            return Rejected(reason, 0.0)
        rank = record.get("verified_rank")
        if self.max_per_problem is not None and rank is not None and rank >= self.max_per_problem:
            return Rejected(f"over the cap of {self.max_per_problem} verified samples per problem", 1.0)
        return True
