"""CoAnnotating: route each row to the AI label or to a human, by the uncertainty of the AI's label.

Li, M., Shi, T., Ziems, C., Kan, M.-Y., Chen, N. F., Liu, Z., Yang, D. (2023). *CoAnnotating:
Uncertainty-Guided Work Allocation between Human and Large Language Models for Data Annotation*.
EMNLP 2023, arXiv:2310.15638.

The paper asks an LLM for a row's label several times under a diversity-promoting set of prompts and
measures its uncertainty as the entropy of the answers, ``H = -Σ_l p_l ln p_l`` over the share
``p_l`` of answers giving label ``l``; rows the LLM is unsure of go to human annotators, the rest
keep the LLM's label, either above an entropy threshold or as the most uncertain share of a human
budget. (It also studies self-evaluated confidence; that is not implemented here.)

* ``coannotate`` (a map step) asks ``k`` times for one label of ``labels`` (the label space; the
  answer is constrained to it by a JSON schema, a grammar on the embedded model), sampling at the
  step's temperature (self-consistency) and, with ``prompt_variants``, cycling through four prompt
  phrasings (instruction; multiple-choice question; text before instruction, the paper's
  "sequence swapping"; a paraphrased instruction) with the label order shuffled per sample
  (seeded). It writes ``<output>`` (the majority label; a tie goes to the label listed first in
  ``labels``), ``<output>_votes`` ({label: count} over every label), ``<output>_samples``,
  ``<output>_entropy`` (nats; 0 when all agree, at most ln k), ``<output>_agreement`` (the
  majority's share) and ``<output>_model``.
* ``coannotate_route`` (a global step) keeps certain rows in the dataset and rejects uncertain ones
  "to human review": ``<label>_entropy`` ≥ ``threshold`` (default 0.6 nats: with k = 5, a 4–1 vote
  is certain, 3–2 is not), or — with ``fraction`` — the most uncertain ``fraction`` of rows (the
  paper's budget allocation). After the run it writes the review rows (its rejected rows) to
  ``OUT/<review_dir>/``: ``argilla_records.json`` (Argilla 2.x records in the shape of
  ``rg.Record.to_dict()``: ``fields``, ``metadata``, ``suggestions`` {label: {value, score, agent}}),
  ``label_studio_tasks.json`` (Label Studio tasks: ``data`` and ``predictions`` with ``result``,
  ``score`` and ``model_version``), ``label_studio_config.xml`` (the labelling interface those
  tasks fit) and ``README.md`` with the import commands.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ...curate.selection.spill import RowSpill, numeric, spill_folder
from ...pipeline.model_step import ModelStep, RowError
from ...pipeline.step import GlobalStep, Rejected, RejectedRow
from ...records import adopt_rows
from .review_export import write_review_files

CITATION = ("Li et al. 2023, CoAnnotating: Uncertainty-Guided Work Allocation between Human and Large Language Models "
            "for Data Annotation, EMNLP 2023, arXiv:2310.15638")
VARIANTS = 4


def label_entropy(samples: list[str]) -> float:
    """``-Σ p ln p`` over the shares of the distinct answers (natural log; 0 for an empty list)."""
    counts = Counter(samples)
    n = sum(counts.values())
    return max(0.0, float(-sum(c / n * math.log(c / n) for c in counts.values()))) if n else 0.0


def majority(samples: list[str], labels: list[str]) -> str:
    """The most frequent label; a tie goes to the one listed first in ``labels``."""
    counts = Counter(samples)
    top = max(counts.values())
    return next(label for label in labels if counts.get(label) == top)


def _labels(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{where}: labels must list at least two label names (the label space); got {value!r}")
    if len(set(value)) != len(value):
        raise ValueError(f"{where}: labels lists a label twice: {value}")
    return list(value)


def _fields(value: Any, where: str) -> list[str]:
    fields = ["text"] if value is None else value
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) and f for f in fields):
        raise ValueError(f"{where}: fields must list the columns an annotator reads, e.g. [text]; got {value!r}")
    return list(fields)


class CoAnnotate(ModelStep):
    """Labels each row ``k`` times with one of ``labels`` and records the votes, the majority label and
    the entropy of the votes (CoAnnotating's uncertainty); see the module docstring."""

    type_name = "coannotate"
    default_sampling = {"temperature": 0.7, "max_tokens": 32}

    def __init__(self, name: str, *, labels: list[str], fields: list[str] | None = None,
                 instruction: str = "Choose the label that best describes the text.", k: int = 5,
                 prompt_variants: bool = True, output: str = "label", **kwargs: Any) -> None:
        where = f"coannotate {name!r}"
        self.labels = _labels(labels, where)
        self.fields = _fields(fields, where)
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 64:
            raise ValueError(f"{where}: k (label samples per row) must be a whole number from 1 to 64, not {k!r}")
        if not isinstance(instruction, str) or not instruction.strip():
            raise ValueError(f"{where}: instruction must say what to label, e.g. 'Is the review positive or negative?'")
        if kwargs.get("n") not in (None, 1):
            raise ValueError(f"{where}: n must be 1; set k (label samples per row) instead")
        self.output = output
        kwargs.setdefault("citations", [CITATION])
        super().__init__(name, reads=self.fields, writes=self.columns(), **kwargs)
        self.instruction, self.k, self.prompt_variants = instruction.strip(), k, bool(prompt_variants)
        self.template = self.load_template("coannotating.jinja")
        self.schema = {"type": "object", "properties": {"label": {"type": "string", "enum": self.labels}},
                       "required": ["label"]}

    def columns(self) -> list[str]:
        """The columns this step writes."""
        return [self.output, *(f"{self.output}_{s}" for s in ("votes", "samples", "entropy", "agreement", "model"))]

    def prompt_for(self, record: dict[str, Any], j: int) -> str:
        """The prompt of sample ``j``: variant ``j mod 4`` with the labels in a seeded order when
        ``prompt_variants``, otherwise variant 0 with the labels as listed."""
        labels = list(self.labels)
        variant = j % VARIANTS if self.prompt_variants else 0
        if self.prompt_variants:
            random.Random(self.seed_for(record, f"labels\x1f{j}")).shuffle(labels)
        values = []
        for f in self.fields:
            value = record.get(f)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise RowError(f"coannotate {self.name!r}: column {f!r} is empty")
            values.append({"name": f, "value": value})
        return self.render(self.template, {"variant": variant, "instruction": self.instruction, "labels": labels,
                                           "fields": values})

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        prompts = [self.prompt_for(record, j) for j in range(self.k)]
        answers = await asyncio.gather(*(self.call(record, [{"role": "user", "content": p}], salt=f"sample{j}",
                                                   json_schema=self.schema, lineage={"sample": j})
                                         for j, p in enumerate(prompts)))
        samples = [str((response.parsed or {}).get("label")) for response, _ in answers]
        bad = [s for s in samples if s not in self.labels]
        if bad:
            raise RowError(f"coannotate {self.name!r}: labels outside the label space: {bad}",
                           raw_text="\n".join(r.text for r, _ in answers))
        label = majority(samples, self.labels)
        counts = Counter(samples)
        out = {**record, self.output: label, f"{self.output}_votes": {lab: counts.get(lab, 0) for lab in self.labels},
               f"{self.output}_samples": samples, f"{self.output}_entropy": round(label_entropy(samples), 6),
               f"{self.output}_agreement": counts[label] / len(samples), f"{self.output}_model": self.model_name}
        return adopt_rows(record, out, self.name, [entry for _, entry in answers])


class CoAnnotateRoute(GlobalStep):
    """Keeps rows whose AI label is certain; rejects the uncertain ones to human review (entropy ≥
    ``threshold``, or the top ``fraction`` by entropy when ``fraction`` is set) and, after the run,
    writes them as Argilla and Label Studio import files under ``OUT/<review_dir>/``."""

    type_name = "coannotate_route"

    def __init__(self, name: str, *, label: str = "label", fields: list[str] | None = None, threshold: float = 0.6,
                 fraction: float | None = None, review_dir: str = "review", inputs: list[str] | None = None) -> None:
        where = f"coannotate_route {name!r}"
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold >= 0:
            raise ValueError(f"{where}: threshold must be an entropy >= 0 (nats), not {threshold!r}")
        if fraction is not None and (isinstance(fraction, bool) or not isinstance(fraction, (int, float))
                                     or not 0 <= fraction <= 1):
            raise ValueError(f"{where}: fraction (share of rows sent to review) must be between 0 and 1, not {fraction!r}")
        if not isinstance(review_dir, str) or not review_dir or "/" in review_dir or review_dir.startswith("."):
            raise ValueError(f"{where}: review_dir must be a plain folder name inside the run folder, not {review_dir!r}")
        self.fields = _fields(fields, where)
        super().__init__(name, inputs=inputs or (), reads=[label, f"{label}_entropy", *self.fields], citations=[CITATION])
        self.label, self.threshold, self.fraction, self.review_dir = label, float(threshold), fraction, review_dir

    def run(self, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any] | RejectedRow]:
        column = f"{self.label}_entropy"
        with RowSpill(spill_folder(self)) as spill:
            values = []
            for record in rows:
                spill.add(record)
                v = numeric(record.get(column))
                values.append(np.nan if v is None else v)
            entropy = np.asarray(values, dtype=np.float64)
            review = self._review(entropy)
            for i, record in enumerate(spill):
                if np.isnan(entropy[i]):
                    yield RejectedRow(record, Rejected(f"{column}: no entropy ({record.get(column)!r}); sent to human review"))
                elif review[i]:
                    rule = (f"among the {self.fraction:g} most uncertain" if self.fraction is not None
                            else f">= threshold {self.threshold:g}")
                    yield RejectedRow(record, Rejected(f"uncertain AI label: entropy {entropy[i]:.3f} {rule}; "
                                                       "sent to human review", float(entropy[i])))
                else:
                    yield record

    def _review(self, entropy: np.ndarray) -> np.ndarray:
        """Which rows go to review (``True``)."""
        if self.fraction is None:
            return np.where(np.isnan(entropy), True, entropy >= self.threshold - 1e-12)
        valid = np.flatnonzero(~np.isnan(entropy))
        ranked = valid[np.argsort(-entropy[valid], kind="stable")]
        out = np.zeros(len(entropy), dtype=bool)
        out[ranked[: math.ceil(self.fraction * len(valid))]] = True
        return out

    def after_run(self, out: Path, log: Callable[[str], None]) -> None:
        folder = write_review_files(Path(out), step=self.name, label=self.label, fields=self.fields,
                                    review_dir=self.review_dir)
        log(f"coannotate_route: human-review files in {folder}")
