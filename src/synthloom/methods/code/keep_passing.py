"""``keep_passing``: keep the rows whose code passed its tests in the sandbox (after ``verify_code``);
reject the rest with the status, the first failing test and its error as the reason."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...pipeline.step import FilterStep, Rejected
from .execution import failure_reason


class KeepPassing(FilterStep):
    """Keeps rows whose ``verify_code`` verdict passed (or, with ``min_pass_rate`` below 1, whose
    ``pass_rate`` reaches it); rejects the others with a reason such as ``failed: test 1 `assert
    f(2) == 4`: AssertionError`` and the pass rate as the score."""

    type_name = "keep_passing"

    def __init__(self, name: str, *, min_pass_rate: float = 1.0, passed_column: str = "passed",
                 status_column: str = "status", pass_rate_column: str = "pass_rate",
                 results_column: str = "test_results", inputs: Iterable[str] = ()) -> None:
        if not 0.0 < float(min_pass_rate) <= 1.0:
            raise ValueError(f"keep_passing {name!r}: min_pass_rate must be in (0, 1], not {min_pass_rate}")
        super().__init__(name, reads=[passed_column, status_column, pass_rate_column, results_column], inputs=inputs)
        self.min_pass_rate = float(min_pass_rate)
        self.verdict_columns = (passed_column, status_column, pass_rate_column, results_column)

    def check(self, record: dict[str, Any]) -> bool | Rejected:
        passed_col, status_col, rate_col, results_col = self.verdict_columns
        rate = float(record.get(rate_col) or 0.0)
        if record.get(passed_col) or (self.min_pass_rate < 1.0 and rate >= self.min_pass_rate):
            return True
        reason = failure_reason({"status": record.get(status_col), "results": record.get(results_col) or []})
        if self.min_pass_rate < 1.0:
            reason = f"pass rate {rate:.2f} < {self.min_pass_rate:g}; {reason}"
        return Rejected(reason, rate)
