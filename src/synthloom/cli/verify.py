"""`synthloom verify math|code`: check answers or run code against tests, writing a run directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from .main import EXIT_INTERRUPTED, EXIT_STOPPED, _fail, app, err, format_option, fresh_option, quiet_option

verify_app = typer.Typer(
    help="Verify data: check math answers or run code against tests; writes a run directory with verdict columns.",
    no_args_is_help=True,
)
app.add_typer(verify_app, name="verify")


def _check_input(file: Path, output: Path) -> None:
    from ..verify.run_paths import in_place_problem

    if not file.exists():
        _fail(f"input file {file} does not exist; give a JSONL / Parquet / CSV file or a folder of shards")
    problem = in_place_problem(file, output)
    if problem:
        _fail(f"{problem}: verify would overwrite its own input; fix: give -o a new folder outside the input")


def _run_verify(run: Callable[[], object], output: Path, columns_hint: str, quiet: bool):
    """Run a verify command's pipeline: a user mistake is a one-line error (exit 2), an interrupted
    run a one-line reason (exit 130), a run stopped by anything else (disk) one too (exit 3) —
    never a traceback. Returns the engine's RunResult (exits when it did not complete)."""
    from rich.markup import escape

    from ..engine.run_end import INTERRUPTED, RunAborted
    from ..io.rundir_guard import RunDirError
    from ..io.sources import SourceError
    from ..pipeline.pipeline import PipelineError
    from ..sandbox import SandboxUnavailable
    from .main import _report

    try:
        result = run()
    except RunDirError as e:
        _fail(str(e))
    except (PipelineError, SourceError, ValueError, SandboxUnavailable) as e:
        _fail(f"{e} ({columns_hint})")
    except RunAborted as e:
        err.print(f"[yellow]{e.status}[/yellow]: {escape(str(e))}", highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED if e.status == INTERRUPTED else EXIT_STOPPED) from None
    except KeyboardInterrupt:
        _mark_interrupted(output)
        err.print(f"[yellow]interrupted[/yellow]: committed work is kept in {output}; rerun the same command to resume")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    _report(result, quiet)
    if result.status == INTERRUPTED:
        raise typer.Exit(EXIT_INTERRUPTED)
    if not result.ok:
        raise typer.Exit(EXIT_STOPPED)
    return result


def _mark_interrupted(output: Path) -> None:
    """A run.json left saying "running" by a Ctrl-C the engine did not get to handle says "interrupted"."""
    from ..engine.run_end import INTERRUPTED, interrupted_message, mark_run_json
    from ..io.rundir import RunDir

    rundir = RunDir(output)
    info = rundir.read_run_json()
    if info is not None and info.get("status") == "running":
        mark_run_json(rundir, INTERRUPTED, interrupted_message("SIGINT"))


def _print_verdicts(output: Path, column: str, order: tuple[str, ...], show_zero: bool) -> None:
    from collections import Counter

    from ..io.shards import read_shards
    from .main import out

    statuses = Counter(r.get(column) for r in read_shards(output / "data"))
    out.print("verdicts: " + ", ".join(f"{k} {statuses.get(k, 0)}" for k in order if show_zero or statuses.get(k)))


@verify_app.command("code")
def verify_code_command(
    file: Path = typer.Argument(..., help="input data: JSONL / Parquet / CSV file or a folder of shards"),
    code_column: str = typer.Option(..., "--code-column", help="column holding the Python solution"),
    tests_column: str = typer.Option(..., "--tests-column", help="column holding the tests"),
    output: Path = typer.Option(..., "-o", "--output", help="run directory to write"),
    kind: str = typer.Option("assert", "--kind", help="assert (Python asserts), call (input/output cases on "
                             "--entry-point) or stdio (stdin/stdout cases)"),
    entry_point: str | None = typer.Option(None, "--entry-point", help="function the tests call (kind call; "
                                           "HumanEval-style check(candidate))"),
    entry_point_column: str | None = typer.Option(None, "--entry-point-column", help="per-row entry point column"),
    reference_column: str | None = typer.Option(None, "--reference-column", help="known-good solution column: "
                                                "calibrates per-test time limits"),
    timeout: float = typer.Option(5.0, "--timeout", help="seconds per test (without --reference-column)"),
    workers: int | None = typer.Option(None, "--workers", help="sandbox workers (default 2 x cores)"),
    fmt: str = format_option(),
    fresh: bool = fresh_option(),
    quiet: bool = quiet_option(),
) -> None:
    """Run each row's code against its tests in the sandbox; adds passed, status, pass_rate, test_results."""
    from ..sandbox import STATUSES
    from ..verify.code import KINDS
    from ..verify.code_step import verify_code_file
    from .main import _check_format, _progress_log

    _check_format(fmt)
    if kind not in KINDS:
        _fail(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "call" and not (entry_point or entry_point_column):
        _fail("--kind call needs --entry-point NAME (or --entry-point-column COL): the function the tests call")
    _check_input(file, output)
    if timeout <= 0 or (workers is not None and workers < 1):
        _fail("--timeout must be a positive number of seconds and --workers >= 1")
    _run_verify(lambda: verify_code_file(
        file, output, code_column=code_column, tests_column=tests_column, kind=kind, entry_point=entry_point,
        entry_point_column=entry_point_column, reference_column=reference_column, timeout=timeout,
        workers=workers, data_format=fmt, fresh=fresh, progress="quiet" if quiet else "auto",
        log=_progress_log(quiet),
    ), output, "columns are given with --code-column and --tests-column", quiet)
    _print_verdicts(output, "status", (*STATUSES, "error"), show_zero=False)


@verify_app.command("math")
def verify_math_command(
    file: Path = typer.Argument(..., help="input data: JSONL / Parquet / CSV file or a folder of shards"),
    pred_column: str = typer.Option(..., "--pred-column", help="column holding the solution / predicted answer text"),
    gold_column: str = typer.Option(..., "--gold-column", help="column holding the gold answer (or a gold solution with \\boxed{} / ####)"),
    output: Path = typer.Option(..., "-o", "--output", help="run directory to write"),
    workers: int = typer.Option(2, "--workers", help="SymPy worker processes"),
    timeout: float = typer.Option(5.0, "--timeout", help="seconds per SymPy comparison before its worker is killed (status: timeout)"),
    fmt: str = format_option(),
    fresh: bool = fresh_option(),
    quiet: bool = quiet_option(),
) -> None:
    """Check each row's final answer against its gold answer; adds correct, verify_status, pred_answer, gold_answer."""
    from ..verify.math_step import verify_math_file
    from .main import _check_format, _progress_log

    _check_format(fmt)
    _check_input(file, output)
    if workers < 1 or timeout <= 0:
        _fail("--workers must be >= 1 and --timeout a positive number of seconds")
    _run_verify(lambda: verify_math_file(
        file, output, pred_column=pred_column, gold_column=gold_column, workers=workers, timeout=timeout,
        data_format=fmt, fresh=fresh, progress="quiet" if quiet else "auto",
        log=_progress_log(quiet),
    ), output, "columns are given with --pred-column and --gold-column", quiet)
    _print_verdicts(output, "verify_status", ("correct", "wrong", "no_answer", "timeout", "error"), show_zero=True)
