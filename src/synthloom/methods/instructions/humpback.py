"""Instruction backtranslation — Humpback (Li et al. 2023, "Self-Alignment with Instruction
Backtranslation", arXiv:2308.06259).

Unlabelled documents become the *outputs* of training pairs:

1. **Self-augmentation** — a backward model writes, for each document, the instruction it would
   answer. The paper fine-tunes a backward model on (output → instruction) seed pairs; here the
   same mapping is prompted, with seed pairs as few-shot demonstrations (``examples``).
2. **Self-curation** — the model rates each (instruction, output) pair with the paper's 5-point
   prompt (Table 1, bundled verbatim) ending in ``Score: <rating>``; only pairs rated 5 are kept
   (A5, ``min_score``). With ``n > 1`` samples the mean score is used (the paper's A5 is score ≥ 4.5).
   The parsed score is kept on every row, kept or rejected. Where the backend can enforce a JSON
   schema the rating is asked for as ``{"reasoning", "score"}``, so a grammar-constrained model
   always gives one; otherwise the paper's free-text "Score: N" is read.
3. Training data are tagged with the source: "Answer with knowledge from web search." for
   augmented pairs (``source_tag``), "Answer in the style of an AI Assistant." for seed data.

The paper iterates (curated data trains a better model that curates again); iterate by running the
recipe again with the improved model.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ...curate.judges.constrained import constrained_value, verdict_schema
from ...llm.types import Response
from ...pipeline.model_step import RowError, reply_text
from ...pipeline.step import Rejected
from .taxonomy_parsing import clean_item, first_paragraph, parse_score, score_explanation, strip_label
from .taxonomy_prompt_step import BundledPromptStep

CITATION = "Li, X. et al. (2023). Self-Alignment with Instruction Backtranslation. arXiv:2308.06259"
WEB_TAG = "Answer with knowledge from web search."
_CUT = re.compile(r"\n\s*(?:response|output|answer)\s*:", re.IGNORECASE)


def parse_instruction(text: str) -> str:
    """The instruction in a backward-model reply: the first paragraph, without an ``Instruction:``
    label, quotes, or a ``Response:`` the model went on to write."""
    body = _CUT.split("\n" + text.strip(), maxsplit=1)[0].strip()
    lines = [ln for ln in body.splitlines() if ln.strip()]
    if len(lines) > 1 and lines[0].rstrip().endswith(":") and len(lines[0].split()) <= 10 \
            and not lines[0].lower().startswith("instruction"):
        body = "\n".join(lines[1:])
    return strip_label(clean_item(first_paragraph(body)), ("instruction", "request", "user request", "user"))


def load_examples(examples: list[dict[str, str]] | str | None) -> list[dict[str, str]]:
    """Seed (instruction, output) demonstrations: a list, or a JSONL file path."""
    if examples is None:
        return []
    if isinstance(examples, str):
        path = Path(examples)
        if not path.exists():
            raise ValueError(f"examples file {examples!r} does not exist; give a JSONL of {{instruction, output}} rows")
        examples = [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    for i, ex in enumerate(examples):
        if not isinstance(ex, dict) or not ex.get("instruction") or not ex.get("output"):
            raise ValueError(f"seed example {i} needs non-empty `instruction` and `output`")
    return [{"instruction": str(e["instruction"]), "output": str(e["output"])} for e in examples]


class HumpbackBackward(BundledPromptStep):
    """Self-augmentation: writes the ``instruction`` a document (column ``document_column``) would
    answer, with seed pairs as few-shot demonstrations; copies the document into ``output``.
    Refusals are rejected; instructions longer than ``max_words`` are rejected."""

    type_name = "humpback_backward"
    template_file = "humpback_backward.jinja"
    provided = frozenset({"examples", "document"})
    writes_columns = frozenset({"instruction", "output"})
    citation = CITATION

    def __init__(self, name: str, *, document_column: str = "text", examples: list[dict[str, str]] | str | None = None,
                 max_words: int = 150, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.reads.add(document_column)
        self.document_column, self.max_words = document_column, int(max_words)
        self.examples = load_examples(examples)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "examples": self.examples}  # the demonstrations a file option names

    def variables(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"examples": self.examples, "document": str(record.get(self.document_column, ""))}

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        text = reply_text(response, "instruction")
        if isinstance(text, Rejected):
            return text
        instruction = parse_instruction(text)
        if not instruction:
            raise RowError("the reply holds no instruction", raw_text=response.text)
        words = len(instruction.split())
        if words > self.max_words:
            return Rejected(f"instruction has {words} words (> {self.max_words})", score=float(words))
        return {**record, "instruction": instruction, "output": str(record[self.document_column])}


class HumpbackCurate(BundledPromptStep):
    """Self-curation: rates (``instruction``, ``output``) with the paper's 5-point prompt and keeps
    pairs scoring >= ``min_score`` (5: the paper's A5). Writes ``score`` (mean of the ``n`` samples'
    parsed scores), ``curation_reasoning`` and, with ``source_tag``, ``system`` = the paper's tag for
    augmented data. Rejected rows carry the score; a reply with no parseable score is an error row."""

    type_name = "humpback_curate"
    template_file = "humpback_curate.jinja"
    citation = CITATION

    def __init__(self, name: str, *, min_score: float = 5, source_tag: bool = True, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.writes |= {"score", "curation_reasoning"} | ({"system"} if source_tag else set())
        if not 1 <= float(min_score) <= 5:
            raise ValueError(f"min_score must be between 1 and 5, got {min_score}")
        self.min_score, self.source_tag = float(min_score), source_tag

    def constrained_schema(self) -> dict[str, Any] | None:
        """``{"reasoning", "score"}`` where the backend can enforce it: a constrained judge always scores."""
        return verdict_schema("score", (1, 5), reason_key="reasoning", max_tokens=self.sampling.get("max_tokens"))

    def _read(self, text: str) -> tuple[int | None, str]:
        value = constrained_value(text, self.constrained_schema() or {})
        if isinstance(value, dict):
            return value["score"], str(value.get("reasoning") or "").strip()
        return parse_score(text, range(1, 6)), score_explanation(text)

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        read = [self._read(c.text) for c in response.choices]
        scores = [score for score, _ in read]
        valid = [s for s in scores if s is not None]
        if not valid:
            raise RowError("no 'Score: 1-5' found in the curation reply", raw_text=response.text)
        score: float | int = valid[0] if len(response.choices) == 1 else sum(valid) / len(valid)
        first_reason = next(why for s, why in read if s is not None)
        if score < self.min_score:
            return Rejected(f"self-curation score {score:g} < {self.min_score:g}", score=float(score))
        out = {**record, "score": score, "curation_reasoning": first_reason}
        if len(response.choices) > 1:
            out["scores"] = scores
        if self.source_tag:
            out["system"] = WEB_TAG
        return out
