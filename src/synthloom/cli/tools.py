"""``synthloom tools [NAME]``: the bundled tool catalogue (or a user's tools file), one tool's schema."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from .main import _fail, app, out


@app.command()
def tools(
    name: str | None = typer.Argument(None, metavar="[NAME|CATEGORY]", help="a tool (shows its schema) or a category"),
    file: Path | None = typer.Option(None, "--file", "-f", help="a tools file (.py, .json schemas, OpenAPI) instead "
                                                                 "of the bundled catalogue"),
) -> None:
    """List the tools agentic recipes can call, a category's tools, or one tool's JSON schema."""
    from ..tools import ToolCatalogue, load_catalogue, load_tools

    try:
        cat = ToolCatalogue(load_tools(file)) if file is not None else load_catalogue()
    except (OSError, ValueError) as e:
        _fail(str(e))
    if name is not None and name in cat:
        tool = cat.get(name)
        out.print(json.dumps(tool.openai(), indent=2, ensure_ascii=False), markup=False, soft_wrap=True)
        out.print(f"category: {tool.category}; " + ("executable in the sandbox" if tool.executable else
                                                   "no implementation: usable only simulated (toolalpaca)"))
        return
    if name is not None and name not in cat.categories:
        close = difflib.get_close_matches(name, [*cat.categories, *cat.names], n=1, cutoff=0.6)
        _fail(f"no tool or category named {name!r}" + (f"; did you mean {close[0]!r}?" if close else "")
              + f"; fix: `synthloom tools` lists the tools; categories: {', '.join(cat.categories)}")
    t = Table(show_header=True)
    for col in ("tool", "category", "what it does"):
        t.add_column(col, no_wrap=col != "what it does")
    for tool in cat.tools(name):
        t.add_row(tool.name, tool.category, escape(" ".join(tool.description.split())[:120]))
    out.print(t)
    out.print(f"{len(cat.tools(name))} tools; one tool's schema: `synthloom tools NAME`")
