"""STaR: Self-Taught Reasoner, with rationalization.

Zelikman et al. 2022, "STaR: Bootstrapping Reasoning With Reasoning", NeurIPS 2022,
arXiv:2203.14465. Per problem: generate a rationale with a few-shot prompt; keep it if its answer
is correct. If not, *rationalize*: ask again with the correct answer given as a hint (in the
few-shot examples too), and keep the new rationale if it reaches that answer — stored **without
the hint**, as if it had been produced from the question alone. The kept set fine-tunes the
original model for the next iteration (outside synthloom).

Rows: the problem's columns plus ``rationale``, ``pred_answer``, ``gold_answer``,
``rationalized`` (True when the hint was needed) and ``attempts``. Rejected: problems still wrong
after rationalization (with the verifier's reason), and rationales that mention the hint.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ...pipeline.step import Rejected
from ...records import adopt_rows
from .verified_sampling import Sample, VerifiedSampler, reason_for

CITATION = "Zelikman et al. 2022, STaR: Bootstrapping Reasoning With Reasoning, NeurIPS 2022, arXiv:2203.14465"
COLUMNS = ("rationale", "pred_answer", "gold_answer", "rationalized", "attempts", "correct", "verify_status")
_HINT_WORDS = re.compile(r"\b(?:hint|the correct answer is|we are told the answer|given answer)\b", re.IGNORECASE)


class Star(VerifiedSampler):
    """Few-shot rationale per problem (``k`` tries); if none verifies and ``rationalize`` is on,
    one hinted retry (``hint_template`` sees ``question`` and ``gold``). Kept rationales are
    stored without the hint; ``reject_hint_mentions`` rejects ones that refer to it."""

    type_name = "star"
    default_template = "star_rationale.jinja"

    def __init__(self, name: str, *, k: int = 1, rationalize: bool = True, hint_template: str | None = None,
                 reject_hint_mentions: bool = True, temperature: float = 0.7, citations: Iterable[str] = (),
                 **kwargs: Any) -> None:
        super().__init__(name, k=k, temperature=temperature, citations=[CITATION, *citations], **kwargs)
        self.writes = set(COLUMNS)
        self.rationalize = bool(rationalize)
        self.hint_template = hint_template if hint_template is not None else self.load_template("star_hint.jinja")
        self.reject_hint_mentions = bool(reject_hint_mentions)

    def _row(self, record: dict[str, Any], s: Sample, rationalized: bool, attempts: int) -> dict[str, Any]:
        return {**self.base_columns(record), "rationale": s.text, "pred_answer": s.verdict.pred,
                "gold_answer": s.verdict.gold, "rationalized": rationalized, "attempts": attempts,
                "correct": True, "verify_status": s.verdict.status}

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        gold = record.get(self.gold_column)
        raw, lineage = await self.sample(record, self.messages(record), self.k)
        samples = await self.verify(raw, gold)
        good = next((s for s in samples if s.correct), None)
        if good is not None:
            return adopt_rows(record, self._row(record, good, False, 1), self.name, lineage)
        first_reason = reason_for(samples[0].verdict)
        if not self.rationalize:
            return Rejected(f"wrong rationale: {first_reason}", 0.0)
        hinted = self.messages(record, template=self.hint_template)
        # the hinted prompt itself is not stored, only its hash
        raw2, lineage2 = await self.sample(record, hinted, 1, salt="\x1frationalize", lineage={"rationalization": True})
        retry = (await self.verify(raw2, gold, start=len(samples)))[0]
        if not retry.correct:
            return Rejected(f"wrong after rationalization: {reason_for(retry.verdict)} (first try: {first_reason})", 0.0)
        if self.reject_hint_mentions and _HINT_WORDS.search(retry.text):
            return Rejected("rationalized rationale mentions the hint", 0.5)
        return adopt_rows(record, self._row(record, retry, True, 2), self.name, lineage + lineage2)
