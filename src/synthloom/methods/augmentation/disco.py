"""DISCO: counterfactual NLI examples written by a large model and kept by a teacher's label.

Chen, Z., Gao, Q., Bosselut, A., Sabharwal, A., Richardson, K. (2023). *DISCO: Distilling
Counterfactuals with Large Language Models*. ACL 2023, arXiv:2212.10534.

For a premise–hypothesis pair with its label, DISCO selects spans of the premise, masks one, and
prompts a large model (GPT-3, insertion mode) to fill the mask so that the pair takes a different
target label; a task-specific teacher model (an NLI classifier) then labels each counterfactual
pair, and only those whose teacher label equals the target are kept. Three steps:

* :class:`DiscoSpans` (``disco_spans``) — spans of content words of the premise (those sharing a
  word with the hypothesis first; the paper uses a syntactic parser) × the target labels other than
  the pair's own: one row per (span, target) with the ``masked_premise``;
* :class:`DiscoGenerate` (``disco_generate``) — the model's fill for ``[blank]`` (``disco_generate.jinja``,
  a JSON-schema constrained reply where the backend can), spliced into the premise: the row becomes
  the counterfactual pair with the target label (the original premise and label kept beside it);
* :class:`DiscoTeacher` (``disco_teacher``) — an NLI judgement constrained to the labels
  (``disco_teacher.jinja``), ``teacher_label`` written, the row rejected unless it equals ``label``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ...curate.heuristics.language import STOPWORDS
from ...curate.judges.constrained import verdict_schema
from ...pipeline.model_step import ModelStep, chat, is_refusal
from ...pipeline.step import ExpandStep, Rejected
from ...records import adopt_rows
from ..fanout import bounded, check_max_fanout

CITATION = "Chen et al. 2023, DISCO: Distilling Counterfactuals with Large Language Models, ACL 2023, arXiv:2212.10534"
LABELS = ("entailment", "neutral", "contradiction")
#: how the generation prompt says what a target label means for the statement
TARGET_DESCRIPTIONS = {"entailment": "is definitely true", "neutral": "might be true or might be false",
                       "contradiction": "is definitely false"}
BLANK = "[blank]"
_TOKEN = re.compile(r"[\w'’-]+")
_STOP = STOPWORDS["en"] | {"very", "just", "now", "there", "here", "some", "any", "no", "yes", "out", "up", "down"}


def candidate_spans(premise: str, hypothesis: str, max_words: int = 3) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of runs of content words (not stopwords) in ``premise``, runs
    cut to ``max_words`` words; spans sharing a word with ``hypothesis`` first, then by position."""
    hyp = {w.lower() for w in _TOKEN.findall(hypothesis)}
    runs: list[list[re.Match]] = [[]]
    for m in _TOKEN.finditer(premise):
        gap = premise[runs[-1][-1].end():m.start()] if runs[-1] else ""
        if m.group().lower() in _STOP or (gap.strip() and runs[-1]):
            runs.append([])
        if m.group().lower() not in _STOP:
            runs[-1].append(m)
    spans = []
    for run in runs:
        for i in range(0, len(run), max_words):
            chunk = run[i:i + max_words]
            spans.append((chunk[0].start(), chunk[-1].end(), any(t.group().lower() in hyp for t in chunk)))
    spans.sort(key=lambda s: (not s[2], s[0]))
    return [(a, b) for a, b, _ in spans]


class DiscoSpans(ExpandStep):
    """One row per (span, target label) of each NLI pair: up to ``max_spans`` content-word spans of
    ``premise`` (``max_fanout`` bounds it; the recipes pass ``-n``) × the ``labels`` other than the
    pair's ``label``. Writes ``span``, ``masked_premise`` (the span replaced by ``[blank]``) and
    ``target_label``. A pair with an unknown label or no content word is rejected."""

    type_name = "disco_spans"

    def __init__(self, name: str, *, max_spans: int = 2, max_span_words: int = 3, labels: list[str] | None = None,
                 max_fanout: int | None = None, inputs: Iterable[str] = ()) -> None:
        labels = list(LABELS) if labels is None else list(labels)
        if len(set(labels)) < 2 or any(label not in LABELS for label in labels):
            raise ValueError(f"labels must be two or more of {', '.join(LABELS)}, not {labels}")
        if max_spans < 1 or max_span_words < 1:
            raise ValueError(f"max_spans and max_span_words must be >= 1, not {max_spans} and {max_span_words}")
        super().__init__(name, inputs=inputs, reads=["premise", "hypothesis", "label"],
                         writes=["span", "masked_premise", "target_label"], citations=[CITATION])
        self.labels, self.max_span_words = labels, max_span_words
        self.max_spans = bounded(max_spans, check_max_fanout(max_fanout))

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        premise, hypothesis, label = record.get("premise"), record.get("hypothesis"), record.get("label")
        if label not in self.labels:
            return Rejected(f"label {label!r} is not one of {', '.join(self.labels)}")
        if not isinstance(premise, str) or not isinstance(hypothesis, str) or not premise.strip() or not hypothesis.strip():
            return Rejected("the pair needs a premise and a hypothesis")
        spans = candidate_spans(premise, hypothesis, self.max_span_words)[: self.max_spans]
        if not spans:
            return Rejected("the premise has no content word to mask")
        children = [{**record, "span": premise[a:b], "masked_premise": f"{premise[:a]}{BLANK}{premise[b:]}",
                     "target_label": target}
                    for a, b in spans for target in self.labels if target != label]
        return adopt_rows(record, children, self.name, [{"step": self.name}])


def first_phrase(text: str) -> str:
    """The fill of a reply that is not the schema's JSON: the ``fill`` value of a broken JSON object,
    else the first line without quotes, brackets or a label ("Phrase:")."""
    partial = re.search(r'"fill"\s*:\s*"([^"\n]*)', text)  # a JSON reply cut short: its value so far
    if partial:
        return partial.group(1).strip()
    line = next((ln for ln in text.strip().splitlines() if ln.strip()), "")
    line = re.sub(r"\A\s*(?:phrase|answer|fill)\s*:\s*", "", line, flags=re.IGNORECASE)
    return line.strip().strip("\"“”'[]").strip()


class DiscoGenerate(ModelStep):
    """Asks the model for the phrase that fills ``[blank]`` in ``masked_premise`` so the pair takes
    ``target_label``, and turns the row into the counterfactual pair: ``premise`` (the filled
    sentence), ``label`` (the target), ``original_premise`` and ``original_label``. An empty or
    refused fill, a fill longer than ``max_fill_words`` or one that gives back the original premise
    is rejected; a map step."""

    type_name = "disco_generate"
    default_sampling = {"temperature": 0.8, "max_tokens": 48}

    def __init__(self, name: str, *, max_fill_words: int = 12, **kwargs: Any) -> None:
        if max_fill_words < 1:
            raise ValueError(f"max_fill_words must be >= 1, not {max_fill_words}")
        kwargs.setdefault("citations", [CITATION])
        super().__init__(name, reads=["premise", "hypothesis", "label", "masked_premise", "target_label"],
                         writes=["premise", "label", "original_premise", "original_label"], **kwargs)
        self.max_fill_words = max_fill_words
        self.prompt = self.load_template("disco_generate.jinja")

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        masked, target = str(record.get("masked_premise") or ""), record.get("target_label")
        if masked.count(BLANK) != 1 or target not in TARGET_DESCRIPTIONS:
            return Rejected(f"needs a masked_premise with one {BLANK} and a target_label of {', '.join(LABELS)}")
        view = {"masked_premise": masked, "hypothesis": record.get("hypothesis"),
                "target_description": TARGET_DESCRIPTIONS[target]}
        schema = {"type": "object", "properties": {"fill": {"type": "string", "maxLength": 8 * self.max_fill_words}},
                  "required": ["fill"], "additionalProperties": False}
        response, lineage = await self.call_constrained(record, chat(self.render(self.prompt, view)), json_schema=schema)
        if response.choices and response.choices[0].finish_reason == "length":  # a cut phrase, even if JSON repair closes it
            return Rejected("the fill hit max_tokens (finish_reason=length)")
        fill = response.parsed["fill"].strip() if isinstance(response.parsed, dict) else first_phrase(response.text or "")
        if not fill or is_refusal(fill):
            return Rejected(f"no usable fill for {BLANK}: {(response.text or '')[:80]!r}")
        if len(fill.split()) > self.max_fill_words:
            return Rejected(f"the fill has {len(fill.split())} words (max_fill_words {self.max_fill_words})")
        before, after = masked.split(BLANK)
        counterfactual = " ".join(f"{before}{fill}{after}".split())
        if counterfactual.lower() == " ".join(str(record.get("premise", "")).split()).lower():
            return Rejected("the fill gives back the original premise")
        row = {**record, "premise": counterfactual, "label": target, "original_premise": record.get("premise"),
               "original_label": record.get("label")}
        return adopt_rows(record, row, self.name, [lineage])


class DiscoTeacher(ModelStep):
    """DISCO's teacher filter: an NLI judgement of ``premise`` and ``hypothesis`` (the model ``model``,
    e.g. a stronger one named ``teacher`` in the recipe), constrained by a JSON schema to one of
    ``labels``, written to ``output``; the row is rejected unless it equals ``label_column``."""

    type_name = "disco_teacher"
    default_sampling = {"temperature": 0.0, "max_tokens": 24}

    def __init__(self, name: str, *, label_column: str = "label", labels: list[str] | None = None,
                 output: str = "teacher_label", **kwargs: Any) -> None:
        labels = list(LABELS) if labels is None else list(labels)
        if len(set(labels)) < 2 or any(label not in LABELS for label in labels):
            raise ValueError(f"labels must be two or more of {', '.join(LABELS)}, not {labels}")
        kwargs.setdefault("citations", [CITATION])
        super().__init__(name, reads=["premise", "hypothesis", label_column], writes=[output], **kwargs)
        self.label_column, self.labels, self.output = label_column, labels, output
        self.prompt = self.load_template("disco_teacher.jinja")
        self.schema = verdict_schema("label", labels, reason_key=None)

    def read_label(self, text: str) -> str | None:
        """The label a free-text reply names first (for a backend that cannot take the schema)."""
        found = [(m.start(), label) for label in self.labels for m in [re.search(rf"\b{label}\b", text.lower())] if m]
        return min(found)[1] if found else None

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        view = {"premise": record.get("premise"), "hypothesis": record.get("hypothesis"), "labels": self.labels}
        response, lineage = await self.call_constrained(record, chat(self.render(self.prompt, view)), json_schema=self.schema)
        label = response.parsed.get("label") if isinstance(response.parsed, dict) else self.read_label(response.text or "")
        if label is None:
            return Rejected(f"the teacher gave no label: {(response.text or '')[:80]!r}")
        target = record.get(self.label_column)
        if label != target:
            return Rejected(f"the teacher labels the pair {label!r}, not the target {target!r}")
        return adopt_rows(record, {**record, self.output: label}, self.name, [lineage])
