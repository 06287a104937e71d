"""Self-correction data: answer → critique → revision over rounds, wrong→right and right→right.

The conversation of intrinsic self-correction — answer, "Review your previous answer and find
problems with your answer.", "Based on the problems you found, improve your answer." — as
prompted by Kim et al. 2023 (RCI, arXiv:2303.17491) and studied by Huang et al. 2023, "Large
Language Models Cannot Self-Correct Reasoning Yet", ICLR 2024, arXiv:2310.01798 (over two rounds);
the feedback→refine loop of Madaan et al. 2023, "Self-Refine", arXiv:2303.17651. Huang et al. show
that unchecked revisions turn right answers wrong as often as the reverse, so every revision here
is checked by an external verifier; and a model trained only on corrections learns to always
change its answer, so the data holds both kinds of trajectory (as SCoRe, Kumar et al. 2024,
arXiv:2409.12917, trains on both): **wrong→right** (a wrong first answer whose final revision
verifies) and **right→right** (a right first answer that every revision keeps right).

Per problem: ``k`` first answers, verified; up to ``max_revisions`` wrong ones and up to
``max_confirmations`` right ones each continue the same conversation for ``rounds`` rounds of the
critique turn and the revise turn, every revision verified. Rows (one per trajectory): the
problem's columns plus ``trajectory`` (``wrong_to_right`` / ``right_to_right`` by the first answer),
``initial_solution``, ``initial_answer``, ``initial_correct``, ``critique`` and
``revised_solution`` (the last round's), ``revisions`` (per round: ``critique``, ``solution``,
``answer``, ``correct``), ``messages`` (the whole chat) and the verdict (``correct``: the final
revision verifies and, for a right start, no round made it wrong; ``verify_status``,
``pred_answer``, ``gold_answer``, ``verify_reason``, ``verified_rank``). Follow with
``keep_verified``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from ...pipeline.step import Rejected
from ...records import adopt_rows
from .verified_sampling import Sample, VerifiedSampler, reason_for

CITATION = ("Huang et al. 2023, Large Language Models Cannot Self-Correct Reasoning Yet, ICLR 2024, "
            "arXiv:2310.01798")
REFINE_CITATION = "Madaan et al. 2023, Self-Refine: Iterative Refinement with Self-Feedback, arXiv:2303.17651"
COLUMNS = ("trajectory", "initial_solution", "initial_answer", "initial_correct", "critique", "revised_solution",
           "revisions", "messages", "correct", "verify_status", "pred_answer", "gold_answer", "verify_reason",
           "verified_rank")


class SelfCorrection(VerifiedSampler):
    """answer → (critique → revised) × ``rounds``, every revision verified. Options: ``k`` (first
    answers), ``max_revisions`` (wrong first answers continued per problem), ``max_confirmations``
    (right first answers continued per problem; 0 keeps corrections only), ``rounds`` (critique →
    revise rounds per trajectory), ``critique_template`` / ``revise_template`` (the two follow-up
    user turns, Jinja2 over the record), ``critique_max_tokens`` (a critique is a short review), and
    the :class:`VerifiedSampler` options."""

    type_name = "self_correction"

    def __init__(self, name: str, *, k: int = 2, max_revisions: int = 1, max_confirmations: int = 1, rounds: int = 2,
                 critique_template: str | None = None, revise_template: str | None = None,
                 critique_max_tokens: int = 192, temperature: float = 0.7,
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        if int(max_revisions) < 0 or int(max_confirmations) < 0 or int(max_revisions) + int(max_confirmations) < 1:
            raise ValueError(f"max_revisions (wrong answers continued) and max_confirmations (right answers continued) "
                             f"must be >= 0 and not both 0, not {max_revisions} and {max_confirmations}")
        if int(rounds) < 1:
            raise ValueError(f"rounds must be >= 1 (critique → revise rounds per trajectory), not {rounds}")
        super().__init__(name, k=k, temperature=temperature, citations=[CITATION, REFINE_CITATION, *citations],
                         **kwargs)
        self.writes = set(COLUMNS)
        self.max_revisions = int(max_revisions)
        self.max_confirmations = int(max_confirmations)
        self.rounds = int(rounds)
        self.critique_max_tokens = int(critique_max_tokens)
        self.critique_template = critique_template or self.load_template("self_correction_critique.jinja")
        self.revise_template = revise_template or self.load_template("self_correction_revise.jinja")

    async def trajectory(self, record: dict[str, Any], first: list[dict[str, str]],
                         s: Sample) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One trajectory from first answer ``s``: its row (without the problem's columns) and lineage."""
        gold = record.get(self.gold_column)
        convo = [*first, {"role": "assistant", "content": s.text}]
        critique_turn = self.messages(record, self.critique_template)[-1]
        revise_turn = self.messages(record, self.revise_template)[-1]
        lineage: list[dict[str, Any]] = []
        revisions: list[dict[str, Any]] = []
        checked = s
        critique_tokens = min(self.critique_max_tokens, self.sampling.get("max_tokens") or self.critique_max_tokens)
        for r in range(1, self.rounds + 1):
            tag = f"{s.index}" if r == 1 else f"{s.index}:{r}"
            convo = [*convo, critique_turn]
            crit, lin1 = await self.sample(record, convo, 1, salt=f"\x1fcritique:{tag}", max_tokens=critique_tokens,
                                           lineage={"turn": "critique", "revision_of": s.index, "round": r})
            critique = crit[0][0].strip()
            convo = [*convo, {"role": "assistant", "content": critique}, revise_turn]
            rev, lin2 = await self.sample(record, convo, 1, salt=f"\x1frevise:{tag}",
                                          lineage={"turn": "revise", "revision_of": s.index, "round": r})
            lineage += lin1 + lin2
            [checked] = await self.verify(rev, gold)
            convo = [*convo, {"role": "assistant", "content": checked.text}]
            revisions.append({"round": r, "critique": critique, "solution": checked.text,
                              "answer": checked.verdict.pred, "correct": checked.correct})
        kind = "right_to_right" if s.correct else "wrong_to_right"
        reason = None if checked.correct else f"revision: {reason_for(checked.verdict)}"
        flipped = next((v["round"] for v in revisions if not v["correct"]), None)
        if s.correct and reason is None and flipped is not None:
            reason = f"revision: round {flipped} turned the right answer wrong ({revisions[flipped - 1]['answer']})"
        row = {"trajectory": kind, "initial_solution": s.text, "initial_answer": s.verdict.pred,
               "initial_correct": s.correct, "critique": revisions[-1]["critique"],
               "revised_solution": checked.text, "revisions": revisions, "messages": convo, **checked.columns(),
               "verify_reason": reason}
        row["correct"] = reason is None
        return row, lineage

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        first = self.messages(record)
        raw, lineage = await self.sample(record, first, self.k)
        samples = await self.verify(raw, record.get(self.gold_column))
        wrong = [s for s in samples if not s.correct][: self.max_revisions]
        right = [s for s in samples if s.correct][: self.max_confirmations]
        chosen = sorted(wrong + right, key=lambda s: s.index)
        if not chosen:
            kind = "wrong" if self.max_revisions else "right"
            return Rejected(f"no {kind} answer to continue: {sum(s.correct for s in samples)} of {len(samples)} "
                            f"first answers verified", sum(s.correct for s in samples) / len(samples))
        done = await asyncio.gather(*(self.trajectory(record, first, s) for s in chosen))
        base = self.base_columns(record)
        rows, rank = [], 0
        for row, lin in done:
            lineage += lin
            rows.append({**base, **row, "verified_rank": rank if row["correct"] else None})
            rank += row["correct"]
        return adopt_rows(record, rows, self.name, lineage)
