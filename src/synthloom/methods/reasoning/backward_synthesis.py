"""Backward synthesis: a question written from a given solution and answer, kept if it solves back.

Question back-translation as in MathGenie (Lu et al. 2024, "MathGenie: Generating Synthetic Data
with Question Back-translation for Enhancing Mathematical Reasoning of LLMs", ACL 2024,
arXiv:2402.16352): a model writes the question that a given solution answers; the new question is
then solved independently and the pair is kept only when the solution verifies — here, when the
new question, solved ``k`` times *without* the solution, reaches the given answer at least
``min_correct`` times (MathGenie verifies with the model's own rationales; a solved-answer match is
the check used here, as in MetaMath's rephrasing filter).

Rows: the problem's columns plus ``query`` (the generated question), ``response`` (the given
solution it was written from), ``solver_solution`` (a verified independent solution),
``n_correct``, ``n_solves``, ``gold_answer``. Rejected: an empty or answer-leaking question, or one
not solved back to the answer (with the verifier's reason).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ...pipeline.step import Rejected
from ...records import adopt_rows
from .metamath import first_paragraph
from .verified_sampling import VerifiedSampler, reason_for

CITATION = ("Lu et al. 2024, MathGenie: Generating Synthetic Data with Question Back-translation for Enhancing "
            "Mathematical Reasoning of LLMs, ACL 2024, arXiv:2402.16352")
COLUMNS = ("query", "response", "solver_solution", "n_correct", "n_solves", "gold_answer", "correct", "verify_status")
_LEAK = re.compile(r"\\boxed|####|\bthe answer is\b", re.IGNORECASE)


class BackwardSynthesis(VerifiedSampler):
    """Question from (``solution_column``, gold answer) with ``question_template``; then ``k``
    independent solves with ``template`` (default ``solve.jinja``); kept when ``min_correct`` of
    them reach the gold answer. The new question goes into ``query``; the source
    ``question_column`` is not needed (left out of reads when absent)."""

    type_name = "backward_synthesis"

    def __init__(self, name: str, *, solution_column: str = "solution", k: int = 2, min_correct: int = 1,
                 question_template: str | None = None, question_temperature: float | None = None,
                 temperature: float = 0.7, citations: Iterable[str] = (), **kwargs: Any) -> None:
        if not 1 <= int(min_correct) <= int(k):
            raise ValueError(f"min_correct must be between 1 and k={k}, not {min_correct}")
        super().__init__(name, k=k, temperature=temperature, citations=[CITATION, *citations], **kwargs)
        self.writes = set(COLUMNS)
        self.reads.discard(self.question_column)
        self.reads.add(solution_column)
        self.solution_column = solution_column
        self.min_correct = int(min_correct)
        self.question_template = question_template or self.load_template("backward_question.jinja")
        self.question_temperature = question_temperature

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        gold = record.get(self.gold_column)
        solution = record.get(self.solution_column)
        if not isinstance(solution, str) or not solution.strip():
            return Rejected(f"no solution to write a question for in column {self.solution_column!r}")
        view = {**record, "solution": solution}
        raw, lineage = await self.sample(record, self.messages(view, template=self.question_template), 1,
                                         salt="\x1fquestion", temperature=self.question_temperature)
        question = first_paragraph(raw[0][0], ["Question"])
        if not question:
            return Rejected("the generated question is empty")
        if _LEAK.search(question):
            return Rejected("the generated question gives away its answer")
        solve = self.messages({**record, self.question_column: question})
        raw2, lin2 = await self.sample(record, solve, self.k, salt="\x1fsolve")
        samples = await self.verify(raw2, gold)
        good = [s for s in samples if s.correct]
        if len(good) < self.min_correct:
            return Rejected(f"generated question not solved back to the answer: {len(good)} of {len(samples)} "
                            f"solves correct, {self.min_correct} needed "
                            f"({reason_for(next(s for s in samples if not s.correct).verdict)})",
                            len(good) / len(samples))
        row = {**self.base_columns(record), "query": question, "response": solution, "solver_solution": good[0].text,
               "n_correct": len(good), "n_solves": len(samples), "gold_answer": good[0].verdict.gold,
               "correct": True, "verify_status": "correct"}
        return adopt_rows(record, row, self.name, lineage + lin2)
