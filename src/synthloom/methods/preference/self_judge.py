"""Self-Judge: the model answers, scores its own answer, and abstains when the score is low.

Ye, H., Ng, H. T. (2024). *Self-Judge: Selective Instruction Following with Alignment
Self-Evaluation*. arXiv:2409.00935.

Selective instruction following: a system declines an instruction when the expected quality of its
response is low. Self-J trains judge models that predict a response's quality score without human
scores: the model evaluates its own responses to labelled instructions with the gold reference answer
in the prompt, the score is recalibrated by the semantic similarity of the response to the gold
reference, and a reference-free judge is trained on these scores (with self-distillation). The data
this step makes is that training data and its use:

* the model answers the instruction (``self_judge_answer``: the instruction as the user turn);
* it scores its own response, reference-free, on 1–10 (``self_judge_score.jinja``, a JSON-schema
  constrained ``{"score": n}``): ``self_score``; below ``threshold`` it abstains (``abstain``, and
  ``final_response`` is ``abstain_message``; or the row is rejected with ``abstained: reject``);
* where the row has a gold ``reference``, the reference-guided score (``self_judge_reference.jinja``,
  by the same model as in Self-J or by ``judge_model``) is recalibrated with the similarity of the
  response to the reference: ``calibrated_score = (1 - w) * gold_score + w * (1 + 9 * similarity)``;
  without a reference a ``judge_model`` gives a reference-free ``calibrated_score``; ``self_agrees``
  says whether the self-score's decision (answer or abstain) is the calibrated score's.
"""

from __future__ import annotations

import re
from typing import Any

from ...curate.judges.constrained import verdict_schema
from ...llm.structured import StructuredOutputError
from ...pipeline.model_step import ModelStep, chat, reply_text
from ...pipeline.step import Rejected
from ...records import adopt_rows
from ..augmentation.similarity import check_measure, similarity

CITATION = "Ye & Ng 2024, Self-Judge: Selective Instruction Following with Alignment Self-Evaluation, arXiv:2409.00935"
SCALE = (1, 10)
ABSTAINED = ("keep", "reject")
DEFAULT_ABSTAIN_MESSAGE = "I am not confident that I can answer this well, so I would rather not answer it."
_INT = re.compile(r"\b(10|[1-9])\b")


def read_score(response: Any) -> int | None:
    """The score of a constrained reply (``response.parsed``), else the first integer 1–10 of its text."""
    if isinstance(response.parsed, dict) and isinstance(response.parsed.get("score"), int):
        return response.parsed["score"]
    m = _INT.search(response.text or "")
    return int(m.group(1)) if m else None


def calibrate(gold_score: float, similarity_value: float, weight: float) -> float:
    """Self-J's recalibration: the reference-guided score mixed with the response's similarity to the
    gold reference mapped onto the 1–10 scale, ``weight`` the similarity's share."""
    return round((1 - weight) * gold_score + weight * (SCALE[0] + (SCALE[1] - SCALE[0]) * similarity_value), 3)


def abstains(self_score: float, threshold: float) -> bool:
    """Selective instruction following: the model declines when its self-score is below ``threshold``."""
    return self_score < threshold


class SelfJudge(ModelStep):
    """Answers ``instruction_column`` (to ``response``), then scores the response itself, 1–10 under a
    JSON schema (``self_score``), and abstains below ``threshold`` (``abstain``; ``final_response`` is
    the response or ``abstain_message``; ``abstained: reject`` rejects such rows instead). With a gold
    answer in ``reference_column`` the reference-guided score (``gold_score``, by ``judge_model`` or
    the same model) is recalibrated by the response's ``similarity_measure`` similarity to it
    (``similarity_weight``) into ``calibrated_score``; with no reference, a ``judge_model`` scores
    without one. ``self_agrees`` says whether the self-score decides as the calibrated score does
    (``None`` when there is neither). A reply without a score is rejected."""

    type_name = "self_judge"
    default_sampling = {"temperature": 0.7, "max_tokens": 384}

    def __init__(self, name: str, *, instruction_column: str = "instruction", reference_column: str = "reference",
                 threshold: float = 6, judge_model: str | None = None, similarity_measure: str = "chrf",
                 similarity_weight: float = 0.5, abstained: str = "keep", abstain_message: str = DEFAULT_ABSTAIN_MESSAGE,
                 score_max_tokens: int = 16, **kwargs: Any) -> None:
        where = f"step {name!r}"
        if not SCALE[0] < threshold <= SCALE[1]:
            raise ValueError(f"{where}: threshold must be in ({SCALE[0]}, {SCALE[1]}] (scores are {SCALE[0]}-{SCALE[1]}), not {threshold}")
        if not 0 <= similarity_weight <= 1:
            raise ValueError(f"{where}: similarity_weight must be in [0, 1], not {similarity_weight}")
        if abstained not in ABSTAINED:
            raise ValueError(f"{where}: abstained must be one of {', '.join(ABSTAINED)}, not {abstained!r}")
        if score_max_tokens < 4:
            raise ValueError(f"{where}: score_max_tokens must be >= 4 (a JSON score), not {score_max_tokens}")
        check_measure(similarity_measure, where)
        kwargs.setdefault("citations", [CITATION])
        super().__init__(name, reads=[instruction_column],
                         writes=["response", "self_score", "abstain", "final_response", "gold_score", "similarity",
                                 "calibrated_score", "self_agrees"], **kwargs)
        if judge_model is not None:
            self.models = [*self.models, judge_model]
        self.instruction_column, self.reference_column, self.threshold = instruction_column, reference_column, threshold
        self.judge_model, self.measure, self.weight = judge_model, similarity_measure, similarity_weight
        self.abstained, self.abstain_message, self.score_max_tokens = abstained, abstain_message, score_max_tokens
        self.score_prompt = self.load_template("self_judge_score.jinja")
        self.reference_prompt = self.load_template("self_judge_reference.jinja")
        self.schema = verdict_schema("score", SCALE, reason_key=None)

    async def score(self, record: dict[str, Any], prompt: str, *, salt: str, model: str | None) -> tuple[int | None, dict[str, Any]]:
        """One 1-10 score at temperature 0 under the JSON schema (validated, re-asked where the backend
        cannot constrain); ``None`` when no attempt gave one."""
        try:
            response, lineage = await self.call(record, chat(prompt), json_schema=self.schema, model=model, salt=salt,
                                                temperature=0.0, max_tokens=self.score_max_tokens, lineage={"role": salt})
        except StructuredOutputError as e:
            return None, {"step": self.name, "role": salt, "error": str(e)[:200]}
        return read_score(response), lineage

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        instruction = str(record.get(self.instruction_column) or "").strip()
        if not instruction:
            return Rejected(f"the row has no {self.instruction_column!r}")
        answer, first = await self.call(record, chat(instruction), salt="answer", lineage={"role": "answer"})
        if answer.choices and answer.choices[0].finish_reason == "length":
            return Rejected("the response hit max_tokens (finish_reason=length)")
        response = reply_text(answer, "response")
        if isinstance(response, Rejected):
            return response
        view = {"instruction": instruction, "response": response}
        self_score, second = await self.score(record, self.render(self.score_prompt, view), salt="self_score", model=None)
        if self_score is None:
            return Rejected("the self-evaluation gave no score")
        lineage = [first, second]
        gold_score = sim = calibrated = None
        reference = record.get(self.reference_column)
        if isinstance(reference, str) and reference.strip():
            prompt = self.render(self.reference_prompt, {**view, "reference": reference.strip()})
            gold_score, entry = await self.score(record, prompt, salt="gold_score", model=self.judge_model)
            lineage.append(entry)
            if gold_score is not None:
                sim = round(similarity(response, reference, self.measure), 4)
                calibrated = calibrate(gold_score, sim, self.weight)
        elif self.judge_model is not None:
            gold_score, entry = await self.score(record, self.render(self.score_prompt, view), salt="judge_score",
                                                 model=self.judge_model)
            lineage.append(entry)
            calibrated = gold_score
        abstain = abstains(self_score, self.threshold)
        if abstain and self.abstained == "reject":
            return Rejected(f"the model abstains: self-score {self_score} < threshold {self.threshold}", score=self_score)
        agrees = None if calibrated is None else abstains(calibrated, self.threshold) == abstain
        row = {**record, "response": response, "self_score": self_score, "abstain": abstain,
               "final_response": self.abstain_message if abstain else response, "gold_score": gold_score,
               "similarity": sim, "calibrated_score": calibrated, "self_agrees": agrees}
        return adopt_rows(record, row, self.name, lineage)
