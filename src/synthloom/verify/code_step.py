"""``verify_code``: the pipeline step that runs each row's code against its tests in the sandbox,
and the file-to-run-directory function behind ``synthloom verify code``."""

from __future__ import annotations

import os
from typing import Any

from ..pipeline.step import MapStep
from ..sandbox import PoolClosed
from .code import KINDS, CodeVerdict, SandboxClient, valid_text, verify_code

#: columns the step adds
VERDICT_COLUMNS = ("passed", "status", "pass_rate", "test_results")


class VerifyCode(MapStep):
    """Runs the solution in ``code_column`` against the tests in ``tests_column`` in the sandbox
    (bubblewrap + rlimits, warm fork-server pool) and adds ``passed`` (bool), ``status`` (passed /
    failed / timeout / memory / killed / forbidden / crashed / error), ``pass_rate`` and
    ``test_results`` (one dict per test). Every row is kept: filter on ``passed`` downstream.

    ``kind`` is ``assert``, ``call`` or ``stdio`` (see :mod:`synthloom.verify.code`). The entry
    point is ``entry_point`` or, per row, ``entry_point_column``. With ``reference_column``, each
    test's time limit is calibrated on that row's reference solution (EvalPlus's
    ``max(min_timeout, factor x reference runtime)``); otherwise ``timeout`` seconds per test.
    """

    type_name = "verify_code"

    def __init__(self, name: str, *, code_column: str = "code", tests_column: str = "tests", kind: str = "assert",
                 entry_point: str | None = None, entry_point_column: str | None = None,
                 reference_column: str | None = None, timeout: float = 5.0, memory_mb: int = 512,
                 workers: int | None = None, min_timeout: float = 1.0, timeout_factor: float = 4.0,
                 site_packages: bool = False, inputs: list[str] | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"verify_code {name!r}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
        if kind == "call" and not (entry_point or entry_point_column):
            raise ValueError(f"verify_code {name!r}: kind 'call' needs `entry_point` or `entry_point_column`")
        if float(timeout) <= 0:
            raise ValueError(f"verify_code {name!r}: timeout must be a positive number of seconds, not {timeout}")
        if workers is not None and int(workers) < 1:
            raise ValueError(f"verify_code {name!r}: workers must be >= 1, not {workers}")
        reads = [code_column, tests_column] + [c for c in (entry_point_column, reference_column) if c]
        super().__init__(name, reads=reads, writes=VERDICT_COLUMNS, inputs=inputs or ())
        self.code_column, self.tests_column, self.tests_kind = code_column, tests_column, kind
        self.entry_point, self.entry_point_column, self.reference_column = entry_point, entry_point_column, reference_column
        self.timeout, self.memory_mb, self.workers = float(timeout), int(memory_mb), workers
        self.min_timeout, self.timeout_factor, self.site_packages = float(min_timeout), float(timeout_factor), site_packages
        self.sandbox = SandboxClient(timeout=self.timeout, memory_mb=self.memory_mb, workers=workers,
                                     site_packages=site_packages, thread_name=name)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.pop("workers", None)  # parallelism does not change verdicts
        return d

    def verify_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """The row with its verdict columns. Every row gets a verdict: whatever goes wrong on the
        host while judging one row (it should not) is that row's ``error``, never the run's end."""
        pool = self.sandbox.pool
        entry = record.get(self.entry_point_column) if self.entry_point_column else self.entry_point
        reference = record.get(self.reference_column) if self.reference_column else None
        try:
            v = verify_code(record.get(self.code_column), record.get(self.tests_column), kind=self.tests_kind,
                            entry_point=entry or None, timeout=None if reference else self.timeout, pool=pool,
                            reference=reference or None, memory_mb=self.memory_mb, min_timeout=self.min_timeout,
                            timeout_factor=self.timeout_factor)
        except PoolClosed:
            raise  # the run is stopping (SIGTERM/SIGINT): this row gets no verdict and is redone on resume
        except Exception as e:  # noqa: BLE001 - one row's trouble is that row's verdict
            v = CodeVerdict(False, "error", [], 0.0, valid_text(f"verification failed on the host: {type(e).__name__}: {e}"))
        results = v.results or []
        if v.status == "error":
            results = [{"index": -1, "test": "", "status": "error", "passed": False, "expected": None,
                        "got": None, "stderr": v.detail, "detail": v.detail, "duration": 0.0, "timeout": None}]
        return {**record, "passed": v.passed, "status": v.status, "pass_rate": v.pass_rate, "test_results": results}

    async def amap(self, record: dict[str, Any]) -> dict[str, Any]:
        return await self.sandbox.call(self.verify_record, record)

    async def aclose(self) -> None:
        self.sandbox.close()


def verify_code_file(path: str | os.PathLike[str], out: str | os.PathLike[str], *, code_column: str,
                     tests_column: str, kind: str = "assert", entry_point: str | None = None,
                     entry_point_column: str | None = None, reference_column: str | None = None,
                     timeout: float = 5.0, workers: int | None = None, data_format: str = "parquet",
                     fresh: bool = False, progress: str = "auto", log=print):
    """Run load → verify_code over a data file into the run directory ``out`` (every input row,
    ids kept, with the verdict columns). Returns the engine's RunResult. Raises ValueError, before
    anything is written, when ``out`` would overwrite the input (see :mod:`.run_paths`)."""
    from ..engine.run import RunOptions, run_pipeline
    from ..pipeline.pipeline import Pipeline
    from ..steps.load import LoadStep
    from .run_paths import in_place_problem

    problem = in_place_problem(path, out)
    if problem:
        raise ValueError(f"{problem}: verify would overwrite its own input; write to a new folder")

    pipeline = Pipeline(
        steps=[LoadStep("load", path=str(path)),
               VerifyCode("verify_code", code_column=code_column, tests_column=tests_column, kind=kind,
                          entry_point=entry_point, entry_point_column=entry_point_column,
                          reference_column=reference_column, timeout=timeout, workers=workers)],
        models={}, name="verify-code",
        description=f"code in `{code_column}` run against `{tests_column}` ({kind} tests) in the sandbox",
    )
    options = RunOptions(fresh=fresh, data_format=data_format, progress=progress, probe=False, log=log,
                         recipe_source=f"synthloom verify code {path}")
    return run_pipeline(pipeline, out, options)
