"""LeMa: Learning From Mistakes — wrong solutions corrected, kept only when the correction verifies.

An et al. 2023, "Learning From Mistakes Makes LLM Better Reasoner", arXiv:2310.20689
(microsoft/LEMA). Inaccurate reasoning paths are collected from several models (here: ``k``
solutions per problem from the step's ``model``, checked by :mod:`synthloom.verify.math`, those
whose answer is *wrong* taken). A corrector (GPT-4 in the paper; ``corrector_model`` here) is asked
to "identify the incorrect step, explain why it is incorrect, and provide the correct solution
starting from that step"; a correction is kept only if its final answer equals the gold answer.

Rows (one per wrong solution, at most ``max_corrections`` per problem): the problem's columns plus
``wrong_solution`` (the original, numbered ``Step i:``), ``wrong_answer``, ``incorrect_step``
(the step number, or ``None``), ``explanation``, ``corrected_solution``, and the verdict on the
correction (``correct``, ``verify_status``, ``pred_answer``, ``gold_answer``, ``verify_reason``).
Follow with ``keep_verified``. Problems with no wrong solution are rejected with the count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ...pipeline.step import Rejected
from ...records import adopt_rows
from .solution_steps import number_steps, split_steps
from .verified_sampling import Sample, VerifiedSampler, reason_for

CITATION = "An et al. 2023, Learning From Mistakes Makes LLM Better Reasoner, arXiv:2310.20689"
COLUMNS = ("wrong_solution", "wrong_answer", "incorrect_step", "explanation", "corrected_solution", "correct",
           "verify_status", "pred_answer", "gold_answer", "verify_reason", "verified_rank")

_INCORRECT = re.compile(r"incorrect\s+step\s*:\s*(.*)", re.IGNORECASE)
_EXPLANATION = re.compile(r"explanation\s*:\s*(.*?)(?=\n\s*correct(?:ed)?\s+solution\s*:|\Z)", re.IGNORECASE | re.DOTALL)
_CORRECTED = re.compile(r"correct(?:ed)?\s+solution\s*:\s*(.*)", re.IGNORECASE | re.DOTALL)
_NO_ERROR = re.compile(r"^\s*(?:none|no incorrect step|n/?a|there is no)", re.IGNORECASE)


class CorrectionFormatError(ValueError):
    """The corrector's reply does not have LeMa's three parts."""


def parse_correction(text: str) -> dict[str, Any]:
    """``{"incorrect_step": int | None, "incorrect_step_text", "explanation", "corrected_solution"}``
    from a reply in LeMa's format (``Incorrect Step: Step 2.`` / ``Explanation:`` / ``Correct
    Solution:``). Raises :class:`CorrectionFormatError` naming what is missing, or when the
    corrector says no step is incorrect."""
    text = text or ""
    m_step = _INCORRECT.search(text)
    m_corr = _CORRECTED.search(text)
    if m_step is None:
        raise CorrectionFormatError("no 'Incorrect Step:' line in the correction")
    if m_corr is None or not m_corr.group(1).strip():
        raise CorrectionFormatError("no 'Correct Solution:' section in the correction")
    step_text = m_step.group(1).strip()
    if _NO_ERROR.match(step_text):
        raise CorrectionFormatError("the corrector found no incorrect step")
    number = re.search(r"\d+", step_text)
    m_expl = _EXPLANATION.search(text[m_step.end():])
    return {"incorrect_step": int(number.group()) if number else None, "incorrect_step_text": step_text,
            "explanation": m_expl.group(1).strip() if m_expl else "",
            "corrected_solution": m_corr.group(1).strip()}


class LearningFromMistakes(VerifiedSampler):
    """``k`` solutions per problem; each wrong one (up to ``max_corrections``) goes to the
    corrector (``corrector_model``, ``corrector_template``, ``corrector_temperature``: ``None`` =
    the step's); the correction is verified against the gold answer. ``include_no_answer`` also
    corrects solutions that gave no final answer (LeMa collects wrong answers only)."""

    type_name = "learning_from_mistakes"

    def __init__(self, name: str, *, k: int = 4, max_corrections: int = 2, corrector_model: str | None = None,
                 corrector_template: str | None = None, corrector_temperature: float | None = 0.0,
                 include_no_answer: bool = False, temperature: float = 0.8, citations: Iterable[str] = (),
                 **kwargs: Any) -> None:
        if int(max_corrections) < 1:
            raise ValueError(f"max_corrections must be >= 1 (wrong solutions corrected per problem), not {max_corrections}")
        super().__init__(name, k=k, temperature=temperature, citations=[CITATION, *citations], **kwargs)
        self.writes = set(COLUMNS)
        self.max_corrections = int(max_corrections)
        self.corrector_model = self.uses_model(corrector_model)
        self.corrector_template = corrector_template or self.load_template("lema_correct.jinja")
        self.corrector_temperature = corrector_temperature
        self.include_no_answer = bool(include_no_answer)

    def is_mistake(self, s: Sample) -> bool:
        return s.verdict.status == "wrong" or (self.include_no_answer and s.verdict.status == "no_answer")

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        gold = record.get(self.gold_column)
        raw, lineage = await self.sample(record, self.messages(record), self.k)
        samples = await self.verify(raw, gold)
        mistakes = [s for s in samples if self.is_mistake(s)][: self.max_corrections]
        if not mistakes:
            statuses = ", ".join(sorted({s.verdict.status for s in samples}))
            return Rejected(f"no wrong solution to correct: {sum(s.correct for s in samples)} of {len(samples)} "
                            f"samples verified ({statuses})", sum(s.correct for s in samples) / len(samples))
        base = self.base_columns(record)
        rows, rank = [], 0
        for s in mistakes:
            original = number_steps(split_steps(s.text))
            view = {**record, "original_solution": original}
            reply, lin = await self.sample(record, self.messages(view, template=self.corrector_template), 1,
                                           salt=f"\x1fcorrect:{s.index}", model=self.corrector_model,
                                           temperature=self.corrector_temperature, lineage={"correction_of": s.index})
            lineage.extend(lin)
            row = {**base, "wrong_solution": original, "wrong_answer": s.verdict.pred}
            try:
                parsed = parse_correction(reply[0][0])
            except CorrectionFormatError as e:
                rows.append({**row, "incorrect_step": None, "explanation": None, "corrected_solution": reply[0][0],
                             "correct": False, "verify_status": "unparsed", "pred_answer": None,
                             "gold_answer": None, "verify_reason": f"correction not usable: {e}",
                             "verified_rank": None})
                continue
            [checked] = await self.verify([(parsed["corrected_solution"], None, None)], gold)
            rows.append({**row, "incorrect_step": parsed["incorrect_step"], "explanation": parsed["explanation"],
                         "corrected_solution": parsed["corrected_solution"], **checked.columns(),
                         "verify_reason": None if checked.correct else f"correction: {reason_for(checked.verdict)}",
                         "verified_rank": rank if checked.correct else None})
            rank += checked.correct
        return adopt_rows(record, rows, self.name, lineage)
