"""``verify_math``: the pipeline step that checks each row's answer, and the file-to-run-directory
function behind ``synthloom verify math``."""

from __future__ import annotations

import os
from typing import Any

from ..pipeline.step import MapStep
from .math import MathVerifier, averify_math

#: columns the step adds
VERDICT_COLUMNS = ("correct", "verify_status", "pred_answer", "gold_answer", "verify_detail")


class VerifyMath(MapStep):
    """Checks the final answer in ``pred_column`` against ``gold_column`` (math-verify with a fast
    path, an exact-rational guard and a hard timeout in worker processes). Adds ``correct``
    (bool), ``verify_status`` (correct / wrong / no_answer / timeout / error), ``pred_answer`` and
    ``gold_answer`` (the normalised answers compared) and ``verify_detail``. Every row is kept:
    filter on ``correct`` downstream to keep only verified rows."""

    type_name = "verify_math"

    def __init__(self, name: str, *, pred_column: str = "response", gold_column: str = "answer",
                 workers: int = 2, timeout: float = 5.0, inputs: list[str] | None = None) -> None:
        if not pred_column or not gold_column:
            raise ValueError("verify_math needs `pred_column` (the solution text) and `gold_column` (the gold answer)")
        if int(workers) < 1:
            raise ValueError(f"verify_math: workers must be >= 1, not {workers}")
        if float(timeout) <= 0:
            raise ValueError(f"verify_math: timeout must be a positive number of seconds, not {timeout}")
        super().__init__(name, reads=[pred_column, gold_column], writes=VERDICT_COLUMNS, inputs=inputs or ())
        self.pred_column = pred_column
        self.gold_column = gold_column
        self.workers = int(workers)
        self.timeout = float(timeout)
        self._verifier: MathVerifier | None = None

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.pop("workers", None)  # how many processes check does not change the verdicts
        return d

    @property
    def verifier(self) -> MathVerifier:
        if self._verifier is None:
            self._verifier = MathVerifier(workers=self.workers, timeout=self.timeout)
        return self._verifier

    async def amap(self, record: dict[str, Any]) -> dict[str, Any]:
        v = await averify_math(record.get(self.pred_column), record.get(self.gold_column), verifier=self.verifier)
        return {**record, "correct": v.correct, "verify_status": v.status, "pred_answer": v.pred,
                "gold_answer": v.gold, "verify_detail": v.detail}

    async def aclose(self) -> None:
        if self._verifier is not None:
            self._verifier.close()
            self._verifier = None


def verify_math_file(path: str | os.PathLike[str], out: str | os.PathLike[str], *, pred_column: str,
                     gold_column: str, workers: int = 2, timeout: float = 5.0, data_format: str = "parquet",
                     fresh: bool = False, progress: str = "auto", log=print):
    """Run load → verify_math over a data file into the run directory ``out`` (every input row,
    ids kept, with the verdict columns). Returns the engine's RunResult."""
    from ..engine.run import RunOptions, run_pipeline
    from ..pipeline.pipeline import Pipeline
    from ..steps.load import LoadStep

    pipeline = Pipeline(
        steps=[LoadStep("load", path=str(path)),
               VerifyMath("verify_math", pred_column=pred_column, gold_column=gold_column, workers=workers,
                          timeout=timeout)],
        models={}, name="verify-math",
        description=f"math answers in `{pred_column}` checked against `{gold_column}`",
    )
    options = RunOptions(fresh=fresh, data_format=data_format, progress=progress, probe=False, log=log,
                         recipe_source=f"synthloom verify math {path}")
    return run_pipeline(pipeline, out, options)
