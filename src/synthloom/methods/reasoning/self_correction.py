"""Self-correction data: a wrong answer, the model's critique of it, and a revision that verifies.

The conversation of intrinsic self-correction — answer, "Review your previous answer and find
problems with your answer.", "Based on the problems you found, improve your answer." — as
prompted by Kim et al. 2023 (RCI, arXiv:2303.17491) and studied by Huang et al. 2023, "Large
Language Models Cannot Self-Correct Reasoning Yet", ICLR 2024, arXiv:2310.01798; the
feedback→refine loop of Madaan et al. 2023, "Self-Refine", arXiv:2303.17651. Training data for
self-correction keeps only the trajectories whose first answer was wrong and whose revision an
external verifier accepts (Huang et al. show that without such a check, revisions turn right
answers wrong as often as the reverse; Welleck et al. 2022, arXiv:2211.00053, likewise train a
corrector only on improving revisions).

Per problem: ``k`` first answers, verified; each wrong one (up to ``max_revisions``) continues
the same conversation with the critique turn and the revise turn. Rows (one per wrong answer):
the problem's columns plus ``initial_solution``, ``initial_answer``, ``critique``,
``revised_solution``, ``messages`` (the six-turn chat) and the revision's verdict (``correct``,
``verify_status``, ``pred_answer``, ``gold_answer``, ``verify_reason``). Follow with
``keep_verified``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...pipeline.step import Rejected
from ...records import adopt_rows
from .verified_sampling import VerifiedSampler, reason_for

CITATION = ("Huang et al. 2023, Large Language Models Cannot Self-Correct Reasoning Yet, ICLR 2024, "
            "arXiv:2310.01798")
REFINE_CITATION = "Madaan et al. 2023, Self-Refine: Iterative Refinement with Self-Feedback, arXiv:2303.17651"
COLUMNS = ("initial_solution", "initial_answer", "critique", "revised_solution", "messages", "correct",
           "verify_status", "pred_answer", "gold_answer", "verify_reason", "verified_rank")


class SelfCorrection(VerifiedSampler):
    """wrong → critique → revised, the revision verified. Options: ``k`` (first answers),
    ``max_revisions`` (wrong answers continued per problem), ``critique_template`` /
    ``revise_template`` (the two follow-up user turns, Jinja2 over the record), and the
    :class:`VerifiedSampler` options."""

    type_name = "self_correction"

    def __init__(self, name: str, *, k: int = 2, max_revisions: int = 1, critique_template: str | None = None,
                 revise_template: str | None = None, temperature: float = 0.7, citations: Iterable[str] = (),
                 **kwargs: Any) -> None:
        if int(max_revisions) < 1:
            raise ValueError(f"max_revisions must be >= 1 (wrong answers revised per problem), not {max_revisions}")
        super().__init__(name, k=k, temperature=temperature, citations=[CITATION, REFINE_CITATION, *citations],
                         **kwargs)
        self.writes = set(COLUMNS)
        self.max_revisions = int(max_revisions)
        self.critique_template = critique_template or self.load_template("self_correction_critique.jinja")
        self.revise_template = revise_template or self.load_template("self_correction_revise.jinja")

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        gold = record.get(self.gold_column)
        first = self.messages(record)
        raw, lineage = await self.sample(record, first, self.k)
        samples = await self.verify(raw, gold)
        wrong = [s for s in samples if not s.correct][: self.max_revisions]
        if not wrong:
            return Rejected(f"no wrong answer to correct: all {len(samples)} first answers verified", 1.0)
        base = self.base_columns(record)
        rows, rank = [], 0
        for s in wrong:
            answer_turn = {"role": "assistant", "content": s.text}
            convo = [*first, answer_turn, self.messages(record, self.critique_template)[-1]]
            crit, lin1 = await self.sample(record, convo, 1, salt=f"\x1fcritique:{s.index}",
                                           lineage={"turn": "critique", "revision_of": s.index})
            critique = crit[0][0].strip()
            revise_turn = self.messages(record, self.revise_template)[-1]
            convo = [*convo, {"role": "assistant", "content": critique}, revise_turn]
            rev, lin2 = await self.sample(record, convo, 1, salt=f"\x1frevise:{s.index}",
                                          lineage={"turn": "revise", "revision_of": s.index})
            lineage += lin1 + lin2
            [checked] = await self.verify(rev, gold)
            rows.append({**base, "initial_solution": s.text, "initial_answer": s.verdict.pred, "critique": critique,
                         "revised_solution": checked.text,
                         "messages": [*convo, {"role": "assistant", "content": checked.text}], **checked.columns(),
                         "verify_reason": None if checked.correct else f"revision: {reason_for(checked.verdict)}",
                         "verified_rank": rank if checked.correct else None})
            rank += checked.correct
        return adopt_rows(record, rows, self.name, lineage)
