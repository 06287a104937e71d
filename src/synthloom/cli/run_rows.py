"""``synthloom run --rows N`` (and a recipe's ``rows:``), and the end of a run that kept few rows:
the flags' checks, how each round's pipeline is built (``-n`` and the recipe's ``n`` parameter set
to the round's limit), and the end messages (see :mod:`synthloom.engine.target_rows` and
:mod:`synthloom.engine.run_summary`)."""

from __future__ import annotations

import typer
from rich.markup import escape

from .main import EXIT_STOPPED, _fail, err, out


def report_removed(result, pipeline) -> None:
    """When a run kept few or no rows: which steps removed them, why, and where to look."""
    from ..engine.run_summary import summarize_run

    summary = summarize_run(result, pipeline)
    if summary.few_kept:
        for line in summary.lines():
            out.print(line, markup=False, highlight=False)


def report_target(outcome) -> None:
    """The end of a ``--rows`` run: reached (rows, rounds) or one line on why not; exits 3 when not."""
    last = outcome.rounds[-1]
    if outcome.reached:
        out.print(f"--rows {outcome.rows}: kept {outcome.result.rows['data']} rows from {last.drawn} records in "
                  f"{len(outcome.rounds)} round(s) (exactly the rows of -n {last.limit})", highlight=False)
        return
    err.print(f"[yellow]stopped[/yellow]: {escape(outcome.end_message())}", highlight=False)
    raise typer.Exit(EXIT_STOPPED)


class RowsTarget:
    """``--rows`` (or a recipe's ``rows:``): the rows to keep, the cap on records drawn, and how
    to build the pipeline of a round with ``-n limit`` (the recipe's ``n`` parameter set too)."""

    def __init__(self, rows: int, max_attempts: int | None, recipe: str, sets: list[str], model: str | None,
                 sets_n: bool) -> None:
        self.rows, self.max_attempts = rows, max_attempts
        self.recipe, self.sets, self.model, self.sets_n = recipe, sets, model, sets_n

    def build(self, limit: int):
        from ..recipes.build import load_pipeline
        from ..recipes.loader import RecipeError

        try:
            loaded = load_pipeline(self.recipe, [*self.sets, f"n={limit}"] if self.sets_n else self.sets, self.model)
        except RecipeError as e:
            _fail(f"--rows: with -n {limit}: {e}")
        return loaded.pipeline, loaded.resolved_text


def rows_target(n: int | None, rows: int | None, max_attempts: int | None, loaded, recipe: str, sets: list[str],
                 model: str | None, log) -> RowsTarget | None:
    """The run's rows target: ``--rows``, else the recipe's ``rows:`` unless ``-n`` caps the sources."""
    wanted = rows if rows is not None else loaded.rows
    if wanted is None:
        if max_attempts is not None:
            _fail("--max-attempts caps the records drawn for a rows target, and there is none; "
                  "fix: add --rows N (or use -n to cap the sources)")
        return None
    if n is not None:
        log(f"-n {n} caps the sources: the recipe's `rows: {wanted}` target is not used")
        return None
    if max_attempts is not None and max_attempts < wanted:
        log(f"--max-attempts {max_attempts} is below --rows {wanted}: only a step that makes several rows "
            "of one record can reach the target")
    return RowsTarget(wanted, max_attempts, recipe, sets, model, "n" in loaded.pipeline.params)


def check_rows_flags(n: int | None, rows: int | None, max_attempts: int | None) -> None:
    """``--rows`` / ``--max-attempts`` values and combinations that cannot mean anything."""
    if rows is not None and rows < 1:
        _fail(f"--rows {rows}: the rows to keep must be at least 1; fix: give e.g. --rows 100")
    if max_attempts is not None and max_attempts < 1:
        _fail(f"--max-attempts {max_attempts}: must be at least 1; fix: give e.g. --max-attempts 1000 or leave it out")
    if rows is not None and n is not None:
        _fail(f"-n {n} and --rows {rows} contradict each other: -n caps the records drawn from the sources, "
              "--rows keeps drawing until N rows are kept; fix: give one (cap --rows with --max-attempts)")
    if max_attempts is not None and n is not None:
        _fail(f"--max-attempts applies to --rows, not -n (-n {n} already caps the sources); fix: leave one out")
