"""``type: report`` — the last step of a recipe: rows pass through unchanged, and once the run has
completed (``run.json`` written) the engine calls :meth:`ReportStep.after_run`, which writes
``OUT/report/`` exactly as ``synthloom report OUT`` does; the dataset card then links it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..pipeline.step import MapStep


class ReportStep(MapStep):
    """Passes rows through; after a completed run writes the HTML report with plots and metrics.json
    (lengths, scores, cluster map, funnel of rows through the steps) into ``OUT/report/``."""

    type_name = "report"

    def __init__(self, name: str, *, column: str | None = None, clusters: int = 10, embed: bool = True,
                 embed_sample: int = 2000, inputs: list[str] | None = None) -> None:
        super().__init__(name, inputs=inputs or ())
        if clusters < 1 or embed_sample < 1:
            raise ValueError(f"report {name!r}: clusters and embed_sample must be >= 1")
        self.column, self.clusters, self.embed, self.embed_sample = column, clusters, embed, embed_sample

    def map(self, record: dict[str, Any]) -> dict[str, Any]:
        return record

    def after_run(self, out: Path, log: Callable[[str], None]) -> None:
        from ..curate.metrics import MetricOptions
        from .build import write_report

        rep = write_report(out, column=self.column, opts=MetricOptions(clusters=self.clusters, embed=self.embed,
                                                                      embed_sample=self.embed_sample))
        log(f"report: {rep.index} ({len(rep.plots)} plots)")
