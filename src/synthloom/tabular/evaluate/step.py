"""``type: evaluate_table`` — the last step of a table recipe: rows pass through unchanged, and once the run
has completed the step evaluates the rows in ``data/`` against the run's real tables (``tables/train.parquet``
and ``tables/holdout.parquet``, written by the generator) and writes ``OUT/evaluation/report.html`` (plots)
and ``OUT/evaluation/report.json`` — exactly what ``synthloom evaluate-table OUT OUT`` writes::

    steps:
      - name: synthesize
        type: table_copula
        real: sklearn:iris
      - name: evaluate
        type: evaluate_table
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...pipeline.step import MapStep

EVALUATION_DIR = "evaluation"


class EvaluateTable(MapStep):
    """Passes rows through; after a completed run writes the fidelity / utility / privacy evaluation of the
    run's rows against its real training table and holdout (``real``/``holdout`` name other tables)."""

    type_name = "evaluate_table"

    def __init__(self, name: str, *, real: str | None = None, holdout: str | None = None, target: str | None = None,
                 seed: int = 0, inputs: list[str] | None = None) -> None:
        super().__init__(name, inputs=inputs or ())
        self.real, self.holdout, self.target, self.seed = real or None, holdout or None, target or None, seed

    def map(self, record: dict[str, Any]) -> dict[str, Any]:
        return record

    def after_run(self, out: Path, log: Callable[[str], None]) -> None:
        from .html_report import evaluate_to_files
        from .inputs import resolve_inputs

        tables = resolve_inputs(self.real or str(out), str(out), self.holdout, self.target)
        files = evaluate_to_files(tables.real, tables.synth, out / EVALUATION_DIR / "report.html", holdout=tables.holdout,
                                  target=tables.target, seed=self.seed, title=out.name)
        log(f"evaluation: {files.html} — {summary_line(files.result['summary'])}")


def summary_line(summary: dict[str, Any]) -> str:
    """The headline numbers in one line."""
    parts = []
    for key, label in (("c2st_auc", "C2ST AUC"), ("tstr", "TSTR"), ("trtr", "TRTR"), ("dcr_ratio", "DCR ratio"),
                       ("exact_copies_share", "exact copies"), ("membership_auc", "membership AUC")):
        value = summary.get(key)
        if value is not None:
            metric = f" {summary.get('utility_metric')}" if key in ("tstr", "trtr") else ""
            parts.append(f"{label}{metric} {value:.3f}")
    return ", ".join(parts) or "no metric computed"
