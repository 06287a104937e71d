"""``synthloom steps [TYPE]``: the step types a recipe can use, and one type's options (from the
step class's declaration: the same table as its docs page)."""

from __future__ import annotations

import difflib

import typer
from rich.markup import escape
from rich.table import Table

from .main import app, err, out


@app.command()
def steps(type_name: str | None = typer.Argument(None, metavar="TYPE", help="a step type, e.g. judge")) -> None:
    """List the step types a recipe can use, or the options of one."""
    from ..pipeline.config import option_rows
    from ..recipes.registry import STEP_TYPES, step_class

    if type_name is None:
        t = Table(show_header=True)
        t.add_column("type", no_wrap=True)
        t.add_column("what it does")
        for name in sorted(STEP_TYPES):
            doc = " ".join((step_class(name).__doc__ or "").strip().split("\n\n")[0].split())
            t.add_row(name, escape(doc.split(". ")[0].rstrip(".")))
        out.print(t)
        out.print("options of one type: `synthloom steps TYPE`")
        return
    if type_name not in STEP_TYPES:
        close = difflib.get_close_matches(type_name, sorted(STEP_TYPES), n=1)
        err.print(f"error: unknown step type {type_name!r}" + (f"; did you mean {close[0]!r}?" if close else "")
                  + "; fix: `synthloom steps` lists them", markup=False)
        raise typer.Exit(2)
    cls = step_class(type_name)
    out.print((cls.__doc__ or "").strip(), markup=False)
    t = Table(show_header=True)
    for col in ("option", "type", "default"):
        t.add_column(col)
    for row in option_rows(cls):
        t.add_row(*map(escape, row))
    out.print(t)
