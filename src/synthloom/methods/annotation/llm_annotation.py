"""LLM annotation measured against human labels: how well does a model reproduce people's labels?

Zhu, Y., Zhang, P., Haq, E.-U., Hui, P., Tyson, G. (2023). *Can ChatGPT Reproduce Human-Generated Labels?
A Study of Social Computing Tasks*, arXiv:2304.10145. The paper re-labels five human-annotated data
sets (stance, sentiment, hate speech, bots...) with ChatGPT under a zero-shot prompt that lists the
label set, and reports accuracy, per-class precision / recall / F1 and the agreement with the human
labels, finding it varies widely by task and class.

The labelling itself is the ``coannotate`` step (:mod:`..preference.coannotating`) with ``k: 1``: one
answer per text, constrained by a JSON schema to the label set. :class:`LabelAgreement`
(``label_agreement``) marks each row (``agrees``: the model's label equals the human one) and, after
the run, compares the two labellings over the rows in ``data/`` (:mod:`.agreement`: accuracy, Cohen's
kappa, per-class precision / recall / F1, confusion matrix), writes ``OUT/agreement/<report>.json``
and ``.md`` (the dataset card includes the latter) and prints the headline numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...io.rundir import atomic_write_text
from ...io.shards import read_shards
from ...pipeline.step import MapStep
from .agreement import agreement_markdown, agreement_report

CITATION = ("Zhu et al. 2023, Can ChatGPT Reproduce Human-Generated Labels? A Study of Social Computing Tasks, "
            "arXiv:2304.10145")


class LabelAgreement(MapStep):
    """Compares the model's label (column ``label``) with the human one (``human_label``): each row gets
    ``agrees``; after the run, accuracy, Cohen's kappa, per-class precision / recall / F1 and the
    confusion matrix over the rows in ``data/`` go to ``OUT/agreement/<report>.json`` and ``.md`` (and the card).
    ``labels`` orders the classes in the report (default: as seen, sorted)."""

    type_name = "label_agreement"

    def __init__(self, name: str, *, label: str = "label", human_label: str = "human_label",
                 labels: list[str] | None = None, report: str = "agreement", inputs: list[str] | None = None) -> None:
        where = f"label_agreement {name!r}"
        if label == human_label:
            raise ValueError(f"{where}: label and human_label name the same column {label!r}; they must differ")
        if labels is not None and (not isinstance(labels, list) or not all(isinstance(v, str) and v for v in labels)):
            raise ValueError(f"{where}: labels must be a list of label names, e.g. [positive, negative]; got {labels!r}")
        if not isinstance(report, str) or not report or "/" in report or report.startswith("."):
            raise ValueError(f"{where}: report must be a plain file name (no suffix) inside the run folder, not {report!r}")
        super().__init__(name, inputs=inputs or (), reads=[label, human_label], writes=["agrees"], citations=[CITATION])
        self.label, self.human_label, self.labels, self.report = label, human_label, labels, report

    def map(self, record: dict[str, Any]) -> dict[str, Any]:
        human = record.get(self.human_label)
        if human is None or str(human).strip() == "":
            raise ValueError(f"label_agreement {self.name!r}: column {self.human_label!r} is empty; every row needs "
                             "its human label")
        return {**record, "agrees": str(record.get(self.label)) == str(human)}

    def compute(self, out: Path) -> dict[str, Any]:
        """The agreement report over the labelled rows of the run in ``out``."""
        gold, pred = [], []
        folder = Path(out) / "data"
        for row in read_shards(folder) if folder.is_dir() else ():
            if row.get(self.label) is not None and row.get(self.human_label) is not None:
                gold.append(str(row[self.human_label]))
                pred.append(str(row[self.label]))
        return agreement_report(gold, pred, self.labels)

    def after_run(self, out: Path, log: Callable[[str], None]) -> None:
        report = self.compute(Path(out))
        if not report["n"]:
            log(f"label_agreement {self.name!r}: no row in data/ has both {self.label!r} and {self.human_label!r} "
                "(a select step after label_agreement must keep them)")
        folder = Path(out) / "agreement"
        folder.mkdir(exist_ok=True)
        atomic_write_text(folder / f"{self.report}.json", json.dumps(report, indent=1) + "\n")
        atomic_write_text(folder / f"{self.report}.md", agreement_markdown(report))
        if report["n"]:
            log(f"agreement with the human labels over {report['n']} rows: accuracy {report['accuracy']:.3f}, "
                f"Cohen's kappa {report['kappa']:.3f}, macro F1 {report['macro_f1']:.3f} ({folder / self.report}.md)")
