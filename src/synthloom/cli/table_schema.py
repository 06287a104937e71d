"""``synthloom table-schema REAL``: infer a table's schema (types, ranges, categories, nulls) as YAML to edit,
then give it to a table recipe with ``--set schema=FILE`` (see :mod:`synthloom.tabular.schema`)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from .main import _fail, app, out


@app.command("table-schema")
def table_schema_command(
    real: str = typer.Argument(..., help="a CSV/TSV/Parquet/JSONL/JSON file, or sklearn:iris|wine|breast_cancer|diabetes"),
    output: Path | None = typer.Option(None, "-o", "--output", help="write the YAML here (default: print it)"),
    max_categories: int = typer.Option(20, "--max-categories", help="text with at most this many distinct values is categorical"),
    target: str | None = typer.Option(None, "--target", help="mark this column as the target (what a model would predict)"),
    check: bool = typer.Option(False, "--check", help="REAL is an edited schema YAML: check it (errors name file:line)"),
) -> None:
    """Infer the schema of a table as editable YAML; with --check, check an edited schema file."""
    from ..tabular.errors import TableError, TabularExtraMissing

    try:
        from ..tabular.schema import TableSchema, infer_schema
        from ..tabular.table_io import read_table

        if check:
            schema = TableSchema.from_yaml(real)
            out.print(f"[green]ok[/green]: {escape(real)} ({len(schema.columns)} columns)", highlight=False)
            return
        schema = infer_schema(read_table(real), max_categories=max_categories, target=target, source=real)
    except (TableError, TabularExtraMissing) as e:
        _fail(str(e))
    if output is None:
        out.print(escape(schema.to_yaml()), highlight=False, end="")
        return
    schema.to_yaml(output)
    out.print(f"[green]schema[/green]: {escape(str(output))} ({len(schema.columns)} columns); use it with "
              f"--set schema={escape(str(output))}", highlight=False)
