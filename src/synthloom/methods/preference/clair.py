"""CLAIR: contrastive preference pairs from a minimal revision of the model's own answer.

D'Oosterlinck, K., Xu, W., Develder, C., Demeester, T., Singh, A., Potts, C., Kiela, D., Mehri, S.
(2024). *Anchored Preference Optimization and Contrastive Revisions: Addressing Underspecification
in Alignment*. arXiv:2408.06266 (reference notebook: ContextualAI/CLAIR_and_APO).

Contrastive Learning from AI Revisions: a (stronger) reviser model *minimally* revises the target
model's answer A into A' — "clearer, more correct, and more engaging", copying every part it does
not correct — so the pair A' ≻ A differs only where the answer was improved, a sharper learning
signal than two independent answers ranked by a judge. The reviser reasons first
(``{teacher_reasoning}``), then writes the ``{corrected_student_solution}`` (``clair.jinja``, the
notebook's prompt; the paper used GPT-4-turbo at T=0.7). The paper pairs these with APO-zero.

Rows: the preference pair (chosen = the revision, rejected = the original; ``pair_rule``
``clair_revision``) with ``revision_rationale`` and how far the revision moved:
``edit_distance`` (Levenshtein, characters) and ``edit_ratio`` (that distance normalised to 0–1).
An empty revision, one identical to the original (no contrast), or one cut off by ``max_tokens`` is
a rejected row; a reply without the ``{corrected_student_solution}`` part is an error row.
"""

from __future__ import annotations

import re
from typing import Any

from rapidfuzz.distance import Levenshtein

from ...pipeline.model_step import ModelStep, RowError, chat
from ...pipeline.step import Rejected
from ...records import adopt_rows
from .pair_row import pair_columns, pair_row
from .prompt_columns import PromptColumns

CITATION = ("D'Oosterlinck et al. 2024, Anchored Preference Optimization and Contrastive Revisions: Addressing "
            "Underspecification in Alignment, arXiv:2408.06266")
_SOLUTION = re.compile(r"(?:\*\*|#+\s*)?\{?corrected[ _]student[ _]solution\}?(?:\*\*)?\s*:?(?:\*\*)?[ \t]*",
                       re.IGNORECASE)
_REASONING = re.compile(r"^(?:\*\*|#+\s*)?\{?teacher[ _]reasoning\}?(?:\*\*)?\s*:?(?:\*\*)?\s*", re.IGNORECASE)


def split_revision(text: str) -> tuple[str, str] | None:
    """``(rationale, revision)`` from a reviser reply in the notebook's format: the revision follows
    the last ``{corrected_student_solution}`` identifier (bold or braced, with or without a colon),
    the rationale is what precedes the first one, without its ``{teacher_reasoning}`` label.
    ``None`` when the reply has no such identifier."""
    marks = list(_SOLUTION.finditer(text or ""))
    if not marks:
        return None
    revision = text[marks[-1].end():].strip()
    revision = re.sub(r"\n-{3,}\s*$", "", revision).strip()
    rationale = _REASONING.sub("", text[:marks[0].start()].strip()).strip()
    return rationale, revision


def same_text(a: str, b: str) -> bool:
    """Whether two answers are the same up to whitespace."""
    return " ".join(a.split()) == " ".join(b.split())


class ClairRevise(ModelStep):
    """Minimally revises the answer in column ``response`` to the prompt in column ``prompt`` with
    CLAIR's teacher prompt (use a stronger ``model`` than the one that answered) and emits the pair
    chosen = revision, rejected = original, with ``edit_distance`` and ``edit_ratio``."""

    type_name = "clair"
    default_sampling = {"temperature": 0.7, "max_tokens": 4096}
    dropped_options = ("n",)  # one revision per answer

    def __init__(self, name: str, *, prompt: str = "prompt", prompt_messages: str | None = None,
                 system_column: str | None = None, response: str = "response", response_model_column: str | None = None,
                 structured: bool = False, max_rationale_chars: int = 1000, **kwargs: Any) -> None:
        if int(max_rationale_chars) < 16:
            raise ValueError(f"max_rationale_chars must be at least 16, not {max_rationale_chars}")
        kwargs.setdefault("citations", [CITATION])
        self.columns = PromptColumns(prompt, prompt_messages, system_column)
        reads = [*self.columns.reads(), response] + ([response_model_column] if response_model_column else [])
        super().__init__(name, reads=reads, writes=pair_columns(self.columns, "revision_rationale", "edit_distance",
                                                                "edit_ratio"), **kwargs)
        self.response_column = response
        self.response_model_column, self.structured = response_model_column, structured
        self.max_rationale_chars = int(max_rationale_chars)
        self.template = self.load_template("clair.jinja")

    def schema(self) -> dict[str, Any]:
        return {"type": "object", "required": ["teacher_reasoning", "corrected_student_solution"], "properties": {
            "teacher_reasoning": {"type": "string", "maxLength": self.max_rationale_chars},
            "corrected_student_solution": {"type": "string"}}}

    async def revise(self, record: dict[str, Any], task: str, answer: str) -> tuple[str, str, dict[str, Any]] | Rejected:
        """``(rationale, revision, lineage entry)``, or a rejection when the reply was cut off."""
        messages = chat(self.render(self.template, {"task": task, "student_solution": answer,
                                                    "structured": self.structured}).strip() + "\n\n")
        if self.structured:
            response, lineage = await self.call(record, messages, json_schema=self.schema())
            value = response.parsed
            return str(value["teacher_reasoning"]).strip(), str(value["corrected_student_solution"]).strip(), lineage
        response, lineage = await self.call(record, messages)
        if response.choices and response.choices[0].finish_reason == "length":
            return Rejected("the revision hit max_tokens (finish_reason=length)")
        parts = split_revision(response.text or "")
        if parts is None:
            raise RowError("the reviser's reply has no {corrected_student_solution} part", raw_text=response.text)
        return parts[0], parts[1], lineage

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        self.columns.messages(record)  # a row without a usable prompt is an error row before any call
        task, answer = self.columns.text(record), record.get(self.response_column)
        if not isinstance(answer, str) or not answer.strip():
            return Rejected(f"no answer to revise in column {self.response_column!r}")
        revised = await self.revise(record, task.strip(), answer.strip())
        if isinstance(revised, Rejected):
            return revised
        rationale, revision, lineage = revised
        if not revision:
            return Rejected("the revision is empty")
        if same_text(revision, answer):
            return Rejected("the revision is identical to the original answer (no contrast)", score=0.0)
        distance = Levenshtein.distance(answer.strip(), revision)
        ratio = Levenshtein.normalized_distance(answer.strip(), revision)
        original_model = record.get(self.response_model_column) if self.response_model_column else None
        row = pair_row(record, self.columns, chosen=revision, rejected=answer.strip(), pair_rule="clair_revision",
                       chosen_model=self.model_name, rejected_model=None if original_model is None else str(original_model),
                       revision_rationale=rationale, edit_distance=distance, edit_ratio=round(ratio, 6))
        return adopt_rows(record, row, self.name, [lineage])
