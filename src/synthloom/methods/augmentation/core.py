"""CORE: counterfactuals by retrieving related excerpts from a corpus and editing the input with them.

Dixit, T., Paranjape, B., Hajishirzi, H., Zettlemoyer, L. (2022). *CORE: A Retrieve-then-Edit
Framework for Counterfactual Data Generation*. Findings of EMNLP 2022, arXiv:2210.04873.

For each labelled training example CORE retrieves excerpts from an unlabelled task corpus that bear a
label-flipping relation to it (a bi-encoder trained contrastively on a few human counterfactuals),
then prompts GPT-3 with instructions, a few demonstrations of editing an input with such excerpts,
and the input with its own excerpts, so that the model writes a minimally edited counterfactual;
the counterfactuals train a more robust classifier. Three steps:

* :class:`CoreRetrieve` (``core_retrieve``) — one row per (example, target label other than its own):
  the ``k`` corpus excerpts most related to the text by Okapi BM25 (the index of
  :mod:`..instructions.agent_instruct_search`), from those labelled with the target where the corpus
  has labels (our stand-in for the learned counterfactual retriever);
* :class:`CoreEdit` (``core_edit``) — the few-shot "perturbation" prompt (``core_edit.jinja``, the
  demonstrations in ``core_demonstrations.json``) and a JSON-schema constrained edit: the row becomes
  the counterfactual (``text``, ``label`` = the target) with the original beside it;
* :class:`CoreFilter` (``core_filter``) — a classifier judgement constrained to the labels
  (``core_filter.jinja``): the row is kept only when it predicts the target label.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ...curate.judges.constrained import verdict_schema
from ...io.jsonl_lines import jsonl_lines
from ...pipeline.model_step import ModelStep, chat, is_refusal
from ...pipeline.step import ExpandStep, Rejected
from ...records import adopt_rows
from ..fanout import bounded, check_max_fanout
from ..instructions.agent_instruct_search import SearchCorpus

CITATION = ("Dixit et al. 2022, CORE: A Retrieve-then-Edit Framework for Counterfactual Data Generation, "
            "Findings of EMNLP 2022, arXiv:2210.04873")
LABELS = ["positive", "negative"]
BUNDLED_CORPUS = Path(__file__).parent / "core_corpus.jsonl"
BUNDLED_DEMONSTRATIONS = Path(__file__).parent / "core_demonstrations.json"


def _check_labels(labels: list[str] | None, where: str) -> list[str]:
    labels = list(LABELS) if labels is None else [str(x) for x in labels]
    if len(set(labels)) < 2:
        raise ValueError(f"{where}: labels must be two or more distinct labels, not {labels}")
    return labels


class LabelledCorpus:
    """Excerpts (``id``, ``text``, optional ``label``) and their BM25 index."""

    def __init__(self, excerpts: list[dict[str, Any]], *, source: str = "") -> None:
        self.excerpts = excerpts
        self.labels = {e["id"]: e.get("label") for e in excerpts}
        self.index = SearchCorpus([{"id": e["id"], "title": "", "text": e["text"]} for e in excerpts], source=source)

    def retrieve(self, text: str, target: str | None, k: int) -> list[dict[str, Any]]:
        """The ``k`` excerpts most related to ``text`` (BM25, best first), only those labelled
        ``target`` or unlabelled when ``target`` is given; the text itself is never one of them."""
        own = " ".join(text.lower().split())
        out = []
        for hit in self.index.search(text, k=len(self.excerpts)):
            label = self.labels.get(hit.id)
            if target is not None and label is not None and label != target:
                continue
            if " ".join(hit.text.lower().split()) == own:
                continue
            out.append({"id": hit.id, "text": hit.text, "label": label, "score": round(hit.score, 4)})
            if len(out) == k:
                break
        return out


@functools.lru_cache(maxsize=8)
def load_corpus(path: str | None = None) -> LabelledCorpus:
    """The corpus in JSONL file ``path`` (``None``: the bundled review excerpts); each line needs
    ``text``; ``label`` and ``id`` (default: the line number) are optional."""
    file = Path(path) if path else BUNDLED_CORPUS
    excerpts = []
    for n, row in jsonl_lines(file, "the CORE corpus", "give a JSONL file with a 'text' per line"):
        if not (isinstance(row, dict) and isinstance(row.get("text"), str) and row["text"].strip()):
            raise ValueError(f"{file}:{n}: a corpus line must be a JSON object with a non-empty 'text' string")
        label = row.get("label")
        excerpts.append({"id": str(row.get("id", n)), "text": row["text"], "label": None if label is None else str(label)})
    if not excerpts:
        raise ValueError(f"the CORE corpus {str(file)!r} has no excerpts; give a JSONL file with a 'text' per line")
    return LabelledCorpus(excerpts, source=str(file))


class CoreRetrieve(ExpandStep):
    """CORE's retrieval: for each example (``text``, ``label``) and each of the ``labels`` other than
    its own (at most ``max_targets``; ``max_fanout`` bounds it, the recipes pass ``-n``), the ``k``
    excerpts of ``corpus`` (a JSONL of ``text`` and optional ``label``; default the bundled review
    excerpts) most related to the text by BM25, from those labelled with the target where the corpus
    is labelled. Writes ``target_label`` and ``excerpts`` (``id``, ``text``, ``label``, ``score``);
    an example with an unknown label, no text, or no related excerpt is rejected."""

    type_name = "core_retrieve"
    cpu_bound = True

    def __init__(self, name: str, *, corpus: str | None = None, k: int = 3, labels: list[str] | None = None,
                 max_targets: int | None = None, max_fanout: int | None = None, inputs: Iterable[str] = ()) -> None:
        labels = _check_labels(labels, f"step {name!r}")
        if k < 1:
            raise ValueError(f"step {name!r}: k (excerpts per example) must be >= 1, not {k}")
        if max_targets is not None and max_targets < 1:
            raise ValueError(f"step {name!r}: max_targets must be >= 1 or null, not {max_targets}")
        super().__init__(name, inputs=inputs, reads=["text", "label"], writes=["target_label", "excerpts"], citations=[CITATION])
        self.corpus, self.k, self.labels = load_corpus(corpus), k, labels
        self.max_targets = bounded(max_targets or len(labels) - 1, check_max_fanout(max_fanout))

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        text, label = record.get("text"), record.get("label")
        if label not in self.labels:
            return Rejected(f"label {label!r} is not one of {', '.join(self.labels)}")
        if not isinstance(text, str) or not text.strip():
            return Rejected("the example has no text")
        children = []
        for target in [t for t in self.labels if t != label][: self.max_targets]:
            excerpts = self.corpus.retrieve(text, target, self.k)
            if excerpts:
                children.append({**record, "target_label": target, "excerpts": excerpts})
        if not children:
            return Rejected("no corpus excerpt shares a word with the text (for any target label)")
        return adopt_rows(record, children, self.name, [{"step": self.name}])


def load_demonstrations(demonstrations: list[dict[str, Any]] | None, where: str) -> list[dict[str, Any]]:
    """The editing demonstrations: ``demonstrations`` as given, else the bundled sentiment ones;
    each needs ``text``, ``label``, ``target_label``, ``excerpts`` (a list) and ``edited``."""
    demos = json.loads(BUNDLED_DEMONSTRATIONS.read_text(encoding="utf-8")) if demonstrations is None else demonstrations
    for i, d in enumerate(demos):
        if not (isinstance(d, dict) and all(isinstance(d.get(k), str) for k in ("text", "label", "target_label", "edited"))
                and isinstance(d.get("excerpts"), list)):
            raise ValueError(f"{where}: demonstration {i} needs text, label, target_label, edited (strings) and excerpts (a list)")
    return demos


class CoreEdit(ModelStep):
    """CORE's editor: the few-shot prompt (``demonstrations``: the bundled sentiment ones unless
    given, ``[]`` for none), then the example with its retrieved ``excerpts`` as perturbation hints;
    the model writes the text edited toward ``target_label`` (a JSON-schema constrained
    ``{"edited": ...}`` where the backend can). The row becomes the counterfactual: ``text`` (the
    edit), ``label`` (the target), ``original_text``, ``original_label``. An empty, refused or
    cut-off edit, one that gives back the original, or one longer than ``max_length_ratio`` times
    the original is rejected."""

    type_name = "core_edit"
    default_sampling = {"temperature": 0.7, "max_tokens": 160}

    def __init__(self, name: str, *, demonstrations: list[dict[str, Any]] | None = None, max_length_ratio: float = 3.0,
                 **kwargs: Any) -> None:
        if max_length_ratio <= 1:
            raise ValueError(f"step {name!r}: max_length_ratio must be > 1, not {max_length_ratio}")
        kwargs.setdefault("citations", [CITATION])
        super().__init__(name, reads=["text", "label", "target_label", "excerpts"],
                         writes=["text", "label", "original_text", "original_label"], **kwargs)
        self.demonstrations = load_demonstrations(demonstrations, f"step {name!r}")
        self.max_length_ratio = max_length_ratio
        self.prompt = self.load_template("core_edit.jinja")

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        text, target = str(record.get("text") or ""), record.get("target_label")
        excerpts = [e.get("text", "") if isinstance(e, dict) else str(e) for e in record.get("excerpts") or []]
        view = {"text": text, "label": record.get("label"), "target_label": target, "excerpts": excerpts,
                "demonstrations": self.demonstrations}
        max_chars = int(len(text) * self.max_length_ratio) + 40
        schema = {"type": "object", "properties": {"edited": {"type": "string", "maxLength": max_chars}},
                  "required": ["edited"], "additionalProperties": False}
        response, lineage = await self.call_constrained(record, chat(self.render(self.prompt, view)), json_schema=schema)
        if response.choices and response.choices[0].finish_reason == "length":
            return Rejected("the edit hit max_tokens (finish_reason=length)")
        edited = response.parsed["edited"] if isinstance(response.parsed, dict) else (response.text or "")
        edited = " ".join(edited.split()).strip("\"“” ")
        if not edited or is_refusal(edited):
            return Rejected(f"no usable edit: {(response.text or '')[:80]!r}")
        if edited.lower() == " ".join(text.split()).lower():
            return Rejected("the edit gives back the original text")
        if len(edited) > len(text) * self.max_length_ratio:
            return Rejected(f"the edit is {len(edited)} characters, over max_length_ratio {self.max_length_ratio} "
                            f"× the original's {len(text)}")
        row = {**record, "text": edited, "label": target, "original_text": text, "original_label": record.get("label")}
        return adopt_rows(record, row, self.name, [lineage])


class CoreFilter(ModelStep):
    """CORE's label filter: a classification of ``text`` into one of ``labels`` (the model ``model``,
    e.g. a served classifier or a stronger judge named in the recipe), constrained by a JSON schema,
    written to ``output``; the row is rejected unless it equals ``label_column`` (the target)."""

    type_name = "core_filter"
    default_sampling = {"temperature": 0.0, "max_tokens": 24}

    def __init__(self, name: str, *, labels: list[str] | None = None, label_column: str = "label",
                 output: str = "filter_label", **kwargs: Any) -> None:
        labels = _check_labels(labels, f"step {name!r}")
        kwargs.setdefault("citations", [CITATION])
        super().__init__(name, reads=["text", label_column], writes=[output], **kwargs)
        self.labels, self.label_column, self.output = labels, label_column, output
        self.prompt = self.load_template("core_filter.jinja")
        self.schema = verdict_schema("label", labels, reason_key=None)

    def read_label(self, text: str) -> str | None:
        """The label a free-text reply names first (for a backend that cannot take the schema)."""
        low = text.lower()
        found = [(low.find(label.lower()), label) for label in self.labels if label.lower() in low]
        return min(found)[1] if found else None

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        view = {"text": record.get("text"), "labels": self.labels}
        response, lineage = await self.call_constrained(record, chat(self.render(self.prompt, view)), json_schema=self.schema)
        label = response.parsed.get("label") if isinstance(response.parsed, dict) else self.read_label(response.text or "")
        if label is None:
            return Rejected(f"the filter gave no label: {(response.text or '')[:80]!r}")
        target = record.get(self.label_column)
        if label != target:
            return Rejected(f"the filter labels the text {label!r}, not the target {target!r}")
        return adopt_rows(record, {**record, self.output: label}, self.name, [lineage])
