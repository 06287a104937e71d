"""The ``synthloom`` command: run recipes, list and show them, look at results."""

from __future__ import annotations

import json
import math
import signal
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

EXIT_USER_ERROR = 2
EXIT_STOPPED = 3
EXIT_INTERRUPTED = 130


#: click's exceptions as this typer raises them (recent typer vendors click: its own classes)
_click_errors = sys.modules[typer.BadParameter.__module__]


class OneLineErrors(TyperGroup):
    """The command group with click's usage errors (``-n abc``, an unknown option) as one line
    naming the place and the fix, exit code 2, instead of a usage block and a framed panel."""

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _click_errors.UsageError as e:
            if type(e).__name__ == "NoArgsIsHelpError":
                e.show()
                sys.exit(e.exit_code)
            command = e.ctx.command_path if e.ctx is not None else "synthloom"
            _print_error(f"{e.format_message().rstrip('. ')}; fix: see `{command} --help`")
            sys.exit(EXIT_USER_ERROR)
        except _click_errors.ClickException as e:
            _print_error(e.format_message())
            sys.exit(e.exit_code)
        except typer.Abort:
            _print_error("aborted")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    help="synthloom: scalable, verifiable synthetic data generation with LLMs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=OneLineErrors,
)


# -- options and steps several commands share --------------------------------------------------------

def fresh_option(help: str = "discard this run directory's outputs and start over") -> bool:
    return typer.Option(False, "--fresh", help=help)


def format_option() -> str:
    return typer.Option("parquet", "--format", help="data/ shard format: parquet or jsonl")


def quiet_option() -> bool:
    return typer.Option(False, "--quiet", "-q", help="no progress display")


@app.command()
def run(
    recipe: str = typer.Argument(..., help="built-in recipe name (see `synthloom recipes`) or a YAML file"),
    output: Path | None = typer.Option(None, "-o", "--output", help="run directory (default: runs/NAME)"),
    n: int | None = typer.Option(None, "-n", help="number of records: caps every source (and sets the recipe's `n` parameter)"),
    rows: int | None = typer.Option(None, "--rows", help="rows to keep: draw from the sources (growing -n) until N rows pass every filter"),
    max_attempts: int | None = typer.Option(None, "--max-attempts", help="--rows: most records drawn per source (default 10 × --rows)"),
    model: str | None = typer.Option(None, "--model", help="model spec for the `default` model: embedded | gguf:PATH | openai:MODEL@URL"),
    set_: list[str] = typer.Option([], "--set", help="override a parameter: --set key=value (repeatable)"),
    fresh: bool = fresh_option("discard this run directory's outputs and start over (cached responses are kept)"),
    no_cache: bool = typer.Option(False, "--no-cache", help="neither read nor write the response cache"),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="shared response cache folder (default: OUT/.state)"),
    fmt: str = format_option(),
    partition_size: int = typer.Option(1000, "--partition-size", help="rows per committed shard"),
    max_requests: int | None = typer.Option(None, "--max-requests", help="budget: stop cleanly after this many model requests"),
    max_tokens_budget: int | None = typer.Option(None, "--max-tokens-budget", help="budget: stop cleanly after this many tokens"),
    max_cost: float | None = typer.Option(None, "--max-cost", help="budget: stop cleanly at this cost (model prices in the recipe)"),
    quiet: bool = quiet_option(),
    plain: bool = typer.Option(False, "--plain", help="plain periodic progress lines even on a terminal"),
    batch: bool = typer.Option(False, "--batch", help="send model requests through the provider's batch API "
                               "(openai, anthropic models; half price, answers within 24 h)"),
    engine: str | None = typer.Option(None, "--engine", help="local (default) or ray: spread the work over a Ray cluster"),
    ray_address: str | None = typer.Option(None, "--ray-address", help="--engine ray: an existing cluster (default: start Ray here)"),
    ray_workers: int | None = typer.Option(None, "--ray-workers",
                                           help="--engine ray: worker actors (default: one per CPU of the cluster)"),
) -> None:
    """Run a recipe into a run directory; rerunning the same command resumes it."""
    from ..engine.run import RunOptions
    from ..io.rundir_guard import RunDirError, check_ownership, check_writable_folder
    from ..llm.budget import Budget
    from ..recipes.build import load_pipeline
    from ..recipes.loader import RecipeError

    _check_format(fmt)
    _check_run_flags(n, partition_size, max_requests, max_tokens_budget, max_cost)
    run_rows.check_rows_flags(n, rows, max_attempts)
    try:
        if output is not None:
            check_writable_folder(output, "-o")
        if cache_dir is not None and not no_cache:
            check_writable_folder(cache_dir, "--cache-dir")
    except RunDirError as e:
        _fail(str(e))
    sets = list(set_)
    try:
        loaded = load_pipeline(recipe, sets, model)
        if n is not None and "n" in loaded.pipeline.params:
            loaded = load_pipeline(recipe, [*sets, f"n={n}"], model)
    except RecipeError as e:
        _fail(str(e))
    pipeline = loaded.pipeline
    engine = _check_engine(engine or loaded.engine, ray_address, ray_workers)
    out_dir = output or Path("runs") / pipeline.name
    try:
        check_writable_folder(out_dir, "-o")
        check_ownership(out_dir, pipeline.name, fresh)
    except RunDirError as e:
        _fail(str(e))
    budget = None
    if any(x is not None for x in (max_requests, max_tokens_budget, max_cost)):
        budget = Budget(max_requests=max_requests, max_tokens=max_tokens_budget, max_cost=max_cost)
    options = RunOptions(
        limit=n, fresh=fresh, use_cache=not no_cache, cache_dir=cache_dir, partition_size=partition_size,
        data_format=fmt, progress="quiet" if quiet else ("plain" if plain else "auto"), budget=budget,
        recipe_text=loaded.resolved_text, recipe_source=loaded.source, log=_progress_log(quiet),
        engine=engine, ray_address=ray_address, ray_workers=ray_workers, batch=batch,
    )
    target = run_rows.rows_target(n, rows, max_attempts, loaded, recipe, sets, model, options.log)
    _run_and_report(pipeline, out_dir, options, quiet, target)


def _run_and_report(pipeline, out_dir: Path, options, quiet: bool, target=None):
    """Run ``pipeline`` into ``out_dir``, print the summary and return the result; exits 2 on a
    pipeline or model error, 130 when interrupted, 3 when the run stopped before the end (or, with
    ``target`` (a :class:`~.run_rows.RowsTarget`: ``--rows``), before keeping the rows asked for)."""
    from ..engine.ray_engine import RayEngineError
    from ..engine.run import run_pipeline
    from ..engine.run_end import INTERRUPTED, RunAborted
    from ..io.rundir_guard import RunDirError
    from ..llm.spec import ModelSpecError
    from ..pipeline.pipeline import PipelineError

    previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt)  # outside the run's loop: like Ctrl-C
    try:
        outcome = None
        if target is None:
            result = run_pipeline(pipeline, out_dir, options)
        else:
            from ..engine.target_rows import run_to_target

            outcome = run_to_target(target.build, out_dir, options, rows=target.rows, max_attempts=target.max_attempts,
                                    run=run_pipeline)
            result = outcome.result
        _report(result, quiet, pipeline if outcome is None or not outcome.reached else None)
    except (PipelineError, ModelSpecError, RunDirError, RayEngineError) as e:
        _fail(str(e))
    except RunAborted as e:
        err.print(f"[yellow]{e.status}[/yellow]: {escape(str(e))}", highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED if e.status == INTERRUPTED else EXIT_STOPPED) from None
    except KeyboardInterrupt:
        err.print(f"[yellow]interrupted[/yellow]: committed work is kept in {out_dir}; rerun the same command to resume")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    if result.status == INTERRUPTED:
        raise typer.Exit(EXIT_INTERRUPTED)
    if not result.ok:
        raise typer.Exit(EXIT_STOPPED)
    if outcome is not None:
        run_rows.report_target(outcome)
    return result


def _terminate_as_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _report(result, quiet: bool, pipeline=None) -> None:
    if not quiet:
        t = Table(title="rows per step (in = ok + rejected + errors)")
        for col in ("step", "in", "ok", "out", "rejected", "errors"):
            t.add_column(col, justify="left" if col == "step" else "right")
        for name in result.steps:
            c = result.counts.get(name)
            if c is not None:
                t.add_row(name, str(c.rows_in), str(c.ok), str(c.rows_out), str(c.rejected), str(c.errors))
        err.print(t)
        total = result.usage.get("total", {})
        err.print(f"model requests: {total.get('requests', 0)} sent, {total.get('cached', 0)} from cache, "
                  f"{total.get('errors', 0)} failed; tokens: {total.get('prompt_tokens', 0)} prompt + "
                  f"{total.get('completion_tokens', 0)} completion; {result.elapsed_s:.1f} s")
    if result.ok:
        rows = result.rows
        out.print(f"[green]done[/green]: {rows['data']} rows in {result.out / 'data'}"
                  + (f", {rows['rejected']} rejected" if rows["rejected"] else "")
                  + (f", [red]{rows['errors']} errors[/red] (see {result.out / 'errors'})" if rows["errors"] else ""))
        out.print(f"look at it:  synthloom view {result.out}    (card: {result.out / 'card.md'})")
        if result.retryable_errors:
            out.print(f"{result.retryable_errors} rows failed because the model did (see errors/); "
                      "rerun the same command to retry them")
        if pipeline is not None:
            run_rows.report_removed(result, pipeline)
    else:
        err.print(f"[yellow]{result.status}[/yellow]: {result.message}")


def _fail(message: str) -> None:
    _print_error(message)
    raise typer.Exit(EXIT_USER_ERROR)


def _print_error(message: str) -> None:
    """``error: MESSAGE`` on stderr, always one line (a multi-line message is joined with "; ")."""
    line = "; ".join(part.strip() for part in str(message).splitlines() if part.strip())
    err.print(f"[red]error[/red]: {escape(line)}", highlight=False, soft_wrap=True)


def _check_run_flags(n: int | None, partition_size: int, max_requests: int | None, max_tokens_budget: int | None,
                     max_cost: float | None) -> None:
    """Flags of `run` with values that cannot mean anything: refused before anything is read or written."""
    if n is not None and n < 1:
        _fail(f"-n {n}: the number of records must be at least 1; fix: give e.g. -n 100 (or leave -n out for all)")
    if partition_size < 1:
        _fail(f"--partition-size {partition_size}: must be at least 1; fix: give e.g. --partition-size 1000")
    if max_requests is not None and max_requests < 1:
        _fail(f"--max-requests {max_requests}: must be at least 1; fix: give a positive budget or leave it out")
    if max_tokens_budget is not None and max_tokens_budget < 1:
        _fail(f"--max-tokens-budget {max_tokens_budget}: must be at least 1; fix: give a positive budget or leave it out")
    if max_cost is not None and not (math.isfinite(max_cost) and max_cost > 0):
        _fail(f"--max-cost {max_cost}: must be a positive amount; fix: give e.g. --max-cost 5.0 or leave it out")


def _check_engine(engine: str, ray_address: str | None, ray_workers: int | None) -> str:
    """The engine to run on; Ray flags without ``--engine ray`` or Ray not installed: one-line errors."""
    if engine not in ("local", "ray"):
        _fail(f"--engine {engine}: give local or ray")
    if engine != "ray" and (ray_address or ray_workers is not None):
        _fail("--ray-address/--ray-workers apply to Ray runs; fix: add --engine ray (or `engine: ray` in the recipe)")
    if ray_workers is not None and ray_workers < 1:
        _fail(f"--ray-workers {ray_workers}: must be at least 1; fix: leave it out to use every CPU of the cluster")
    if engine == "ray":
        from ..engine.ray_engine import RayEngineError, import_ray

        try:
            import_ray()
        except RayEngineError as e:
            _fail(str(e))
    return engine


def _check_format(fmt: str) -> None:
    if fmt not in ("parquet", "jsonl"):
        _fail(f"--format must be parquet or jsonl, not {fmt!r}")


def _progress_log(quiet: bool):
    """Where a run's log lines go: stderr, or nowhere with ``--quiet``."""
    return (lambda m: None) if quiet else (lambda m: err.print(m))


@app.command()
def recipes(as_json: bool = typer.Option(False, "--json", help="print JSON: name, title, citation, params with defaults")) -> None:
    """List the built-in recipes with the paper each implements."""
    from ..recipes.build import builtin_catalogue

    if as_json:
        from ..recipes.listing import recipe_catalogue

        sys.stdout.write(json.dumps(recipe_catalogue(), indent=2, ensure_ascii=False, default=str) + "\n")
        return
    t = Table(show_header=True)
    t.add_column("recipe", no_wrap=True)
    t.add_column("what it makes")
    t.add_column("paper")
    for r in builtin_catalogue():
        t.add_row(r["name"], _headline(r["description"]), _short_citation(r["paper"]) or "—")
    out.print(t)
    out.print("show one with `synthloom show NAME`; run it with `synthloom run NAME`")


def _headline(description: str) -> str:
    """The part of a recipe's description before its first " — " or sentence end."""
    head = description.split(" — ", 1)[0]
    head = head.split(". ", 1)[0].strip()
    return head.rstrip(".")


def _short_citation(paper: str | None) -> str | None:
    """``Authors year · arXiv:id`` from a full citation (the card and `show` keep the full one)."""
    if not paper:
        return paper
    import re

    arxiv = re.search(r"arXiv:\s*\d{4}\.\d{4,5}", paper)
    head = paper.split(",", 1)[0].strip()
    return f"{head} · {arxiv.group(0)}" if arxiv and arxiv.group(0) not in head else head


@app.command()
def show(
    name: str = typer.Argument(..., help="built-in recipe name"),
    options: bool = typer.Option(False, "--options", help="print JSON: every option of every step, with its default and value"),
) -> None:
    """Print a built-in recipe, to copy and edit."""
    from ..recipes.loader import RecipeError, resolve_recipe_path

    try:
        path = resolve_recipe_path(name)
    except RecipeError as e:
        _fail(str(e))
    if options:
        _show_options(name)
        return
    sys.stdout.write(path.read_text(encoding="utf-8"))


def _show_options(name: str) -> None:
    """``show NAME --options``: the recipe's steps with every option of their type, as JSON."""
    from ..recipes.listing import recipe_options
    from ..recipes.loader import RecipeError

    try:
        listing = recipe_options(name)
    except RecipeError as e:
        _fail(str(e))
    except ImportError as e:
        _fail(f"{name}: a step needs a package that is not installed ({e}); fix: install the extra it names")
    sys.stdout.write(json.dumps(listing, indent=2, ensure_ascii=False, default=str) + "\n")


@app.command()
def view(
    run_dir: Path = typer.Argument(..., help="a run directory (or any folder of shards / data file)"),
    rows: int = typer.Option(5, "-n", help="rows to show"),
    what: str = typer.Option("data", "--what", help="data, rejected or errors"),
    web: bool = typer.Option(False, "--web", help="open the run in a local web viewer (search, filters, lineage)"),
    port: int = typer.Option(8765, "--port", help="--web: port to listen on (0: any free port)"),
    host: str = typer.Option("127.0.0.1", "--host", help="--web: address to listen on (keep the default to stay local)"),
    no_browser: bool = typer.Option(False, "--no-browser", help="--web: do not open a browser; print the address"),
    compare: Path | None = typer.Option(None, "--compare", help="--web: a second run to compare with"),
    cache: Path | None = typer.Option(None, "--cache", help="--web: the response cache (default RUN/.state/cache.sqlite)"),
) -> None:
    """Show the first rows of a run's data (or its rejected/error rows) and its counts; --web opens
    a read-only local web viewer of the whole run."""
    if web:
        _view_web(run_dir, compare, host, port, not no_browser, cache)
        return
    from ..io.shards import read_shards
    from ..io.sources import SourceError, read_records

    target = run_dir / what if (run_dir / what).is_dir() else run_dir
    try:
        if target.is_dir() and what != "data":
            it = (r for sub in sorted(p for p in target.iterdir() if p.is_dir()) for r in read_shards(sub))
        elif target.is_dir():
            it = read_shards(target)
        else:
            it = (r for batch in read_records(target) for r in batch)
        shown = [r for _, r in zip(range(rows), it)]
    except (SourceError, OSError) as e:
        _fail(str(e))
    if not shown:
        out.print(f"no rows in {target}")
        return
    for i, row in enumerate(shown):
        t = Table(title=f"row {i}", show_header=False, expand=True)
        t.add_column("column", style="bold", no_wrap=True)
        t.add_column("value")
        for k, v in row.items():
            if k == "_lineage":
                v = " → ".join(str(e.get("step")) for e in (v or []))
            text = str(v)
            t.add_row(k, text if len(text) < 600 else text[:600] + " …")
        out.print(t)


def _view_web(run_dir: Path, compare: Path | None, host: str, port: int, open_browser: bool, cache: Path | None) -> None:
    from ..viewer.run_source import ViewerError
    from ..viewer.server import serve

    if not 0 <= port <= 65535:
        _fail(f"--port {port}: give a port from 1 to 65535 (or 0 for any free one)")
    try:
        serve(run_dir, compare=compare, host=host, port=port, cache=cache, open_browser=open_browser,
              log=lambda m: out.print(m, highlight=False))
    except ViewerError as e:
        _fail(str(e))


# command groups defined in their own modules register themselves on `app`
from . import curate as _curate  # noqa: E402,F401  (dedup, decontaminate, judge, metrics, report)
from . import evaluate_table as _evaluate_table  # noqa: E402,F401  (evaluate-table: fidelity, utility, privacy of a table)
from . import export as _export  # noqa: E402,F401  (export: tool-use rows as OpenAI/ShareGPT/Hermes/BFCL files)
from . import run_rows  # noqa: E402  (run --rows, and the end-of-run summary)
from . import steps as _steps  # noqa: E402,F401  (steps: the step types and their options)
from . import table_schema as _table_schema  # noqa: E402,F401  (table-schema: infer a table's schema as YAML)
from . import tools as _tools  # noqa: E402,F401  (tools: the tool catalogue)
from . import verify as _verify  # noqa: E402,F401  (verify math, verify code)

if __name__ == "__main__":  # pragma: no cover - `python -m synthloom.cli.main`: the commands registered on the package's app
    from synthloom.cli.main import app as _package_app

    _package_app()
