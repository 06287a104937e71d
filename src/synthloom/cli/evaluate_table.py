"""``synthloom evaluate-table REAL SYNTH``: fidelity, utility and privacy of a synthetic table, as an HTML
report with plots and a JSON file (see :mod:`synthloom.tabular.evaluate`)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from .main import _fail, app, out


@app.command("evaluate-table")
def evaluate_table_command(
    real: str = typer.Argument(..., help="the real rows the generator learnt from: a CSV/Parquet/JSONL file, sklearn:NAME, "
                               "or a table generator's run directory (its tables/train.parquet, and its holdout)"),
    synth: str = typer.Argument(..., help="the synthetic rows: a file, a folder of shards, or a run directory (its data/)"),
    holdout: str | None = typer.Option(None, "--holdout", help="real rows the generator never saw (for TSTR and the "
                                       "privacy yardsticks)"),
    target: str | None = typer.Option(None, "--target", help="column to predict for TSTR/TRTR (default: the table's target)"),
    output: Path | None = typer.Option(None, "-o", "--output", help="HTML report path (default: evaluation.html here; "
                                       "the JSON goes beside it)"),
    seed: int = typer.Option(0, "--seed", help="seed of the samples, folds and models"),
) -> None:
    """Compare a synthetic table with the real one: per-column KS / total variation, association matrices, C2ST,
    TSTR against TRTR, distance to closest record, exact copies, membership inference."""
    from ..tabular.errors import TableError, TabularExtraMissing

    try:
        from ..tabular.evaluate.html_report import evaluate_to_files
        from ..tabular.evaluate.inputs import resolve_inputs
        from ..tabular.evaluate.step import summary_line

        tables = resolve_inputs(real, synth, holdout, target)
        html = output or Path("evaluation.html")
        if html.suffix.lower() not in (".html", ".htm"):
            _fail(f"-o {html}: the report is an HTML file; fix: name it e.g. -o report.html (the JSON goes beside it)")
        files = evaluate_to_files(tables.real, tables.synth, html, holdout=tables.holdout, target=tables.target, seed=seed,
                                  title=Path(synth).name or synth)
    except (TableError, TabularExtraMissing) as e:
        _fail(str(e))
    except ImportError as e:
        _fail(f"evaluate-table needs the tabular extra ({e.name or e}); fix: pip install 'synthloom[tabular]'")
    for line in tables.sources:
        out.print(escape(line), highlight=False)
    table = Table("metric", "value", "what is good")
    from ..tabular.evaluate.evaluation import SUMMARY

    summary = files.result["summary"]
    for key, label, good in SUMMARY:
        value = summary.get(key)
        table.add_row(label, "—" if value is None else f"{value:.3f}", good)
    out.print(table)
    for part in ("utility", "privacy"):
        skipped = files.result[part].get("skipped")
        if skipped:
            out.print(f"[yellow]{part} skipped[/yellow]: {escape(skipped)}", highlight=False)
    out.print(f"[green]evaluation[/green]: {escape(str(files.html))} (JSON: {escape(str(files.json))}); "
              f"{escape(summary_line(summary))}", highlight=False)
