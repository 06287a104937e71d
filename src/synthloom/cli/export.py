"""``synthloom export RUN --format openai|sharegpt|hermes|bfcl``: a run's tool-use rows as training or
evaluation files (see docs/export.md)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from .main import _fail, app, out

_SKIPPED = {
    "simulated": "simulated (an LLM played the tools; --include-simulated keeps them)",
    "failed": "with a failed tool call (--include-failed keeps them, the error as the tool's reply)",
    "no_calls": "without tool calls (BFCL scores calls)",
    "malformed": "malformed",
}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@app.command()
def export(
    run: Path = typer.Argument(..., help="run directory of a tool-use recipe (or its data/ folder)"),
    fmt: str = typer.Option(..., "--format", "-f",
                            help="openai (TRL messages + tools), sharegpt (LLaMA-Factory), hermes (NousResearch), "
                                 "bfcl (questions + possible answers)"),
    output: Path | None = typer.Option(None, "-o", "--output",
                                       help="output file (default RUN/export/FORMAT.jsonl; bfcl: RUN/export/bfcl.json, "
                                            "answers in possible_answer/ beside it)"),
    include_simulated: bool = typer.Option(False, "--include-simulated",
                                           help="keep rows whose tool results an LLM played (ToolAlpaca-style)"),
    include_failed: bool = typer.Option(False, "--include-failed",
                                        help="keep rows with a failed call; its tool reply is the error text"),
) -> None:
    """Export a run's tool-use rows as OpenAI/TRL, ShareGPT, Hermes or BFCL files."""
    from ..io.tool_export import ExportError, export_run

    try:
        report = export_run(run, fmt.lower(), output, include_simulated=include_simulated,
                            include_failed=include_failed)
    except ExportError as e:
        _fail(str(e))
    if report.format == "bfcl":
        per = ", ".join(f"{n} {c}" for c, n in sorted(report.categories.items()))
        out.print(f"[green]done[/green]: {_count(report.written, 'BFCL question')} in {escape(str(report.outputs[0]))}"
                  + (f" ({per})" if per else "") + f"; possible answers in {escape(str(report.outputs[1]))}",
                  highlight=False)
    else:
        out.print(f"[green]done[/green]: {_count(report.written, 'row')} in {escape(str(report.outputs[0]))} ({report.format})",
                  highlight=False)
    if report.skipped:
        parts = [f"{n} {_SKIPPED.get(reason, reason)}" for reason, n in sorted(report.skipped.items())]
        out.print(f"skipped {_count(sum(report.skipped.values()), 'row')}: " + "; ".join(parts), markup=False, highlight=False)
    if report.first_problem:
        out.print(f"first malformed row: {report.first_problem}", markup=False, highlight=False)
