"""``synthloom export RUN --format FORMAT``: a run's rows as the files trainers read — TRL SFT/DPO/KTO/reward,
OpenAI chat, ShareGPT, Alpaca for any run; OpenAI/TRL tool calling, Hermes and BFCL for tool-use runs — with a
dataset card beside them (see docs/export.md)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from .main import _fail, app, out

_FORMAT_HELP = ("trl-sft, trl-dpo, trl-kto, trl-rm (TRL trainers), openai-chat (OpenAI fine-tuning), sharegpt, "
                "alpaca — any run; openai (TRL tool calling), hermes, bfcl — tool-use runs")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@app.command()
def export(
    run: Path = typer.Argument(..., help="run directory (or its data/ folder)"),
    fmt: str = typer.Option(..., "--format", "-f", help=_FORMAT_HELP),
    output: Path | None = typer.Option(None, "-o", "--output",
                                       help="output file (default RUN/export/FORMAT.jsonl; bfcl: RUN/export/bfcl.json, "
                                            "answers in possible_answer/ beside it); the card README.md goes beside it"),
    style: str | None = typer.Option(None, "--style",
                                     help="trl-* formats: conversational (chat messages, the default) or standard (strings)"),
    prompt_column: str | None = typer.Option(None, "--prompt-column",
                                             help="the column holding the prompt (text or chat messages)"),
    response_column: str | None = typer.Option(None, "--response-column",
                                               help="the column holding the answer (SFT formats) or KTO completion"),
    include_simulated: bool = typer.Option(False, "--include-simulated",
                                           help="keep tool rows whose tool results an LLM played (ToolAlpaca-style)"),
    include_failed: bool = typer.Option(False, "--include-failed",
                                        help="keep tool rows with a failed call; its tool reply is the error text"),
) -> None:
    """Export a run's rows for a trainer (TRL, OpenAI, ShareGPT, Alpaca) or a tool-use benchmark, with a dataset card."""
    from ..io.export.writer import ExportError, export_run, skipped_text

    try:
        report = export_run(run, fmt.lower(), output, style=style.lower() if style else None,
                            prompt_column=prompt_column, response_column=response_column,
                            include_simulated=include_simulated, include_failed=include_failed)
    except ExportError as e:
        _fail(str(e))
    if report.format == "bfcl":
        per = ", ".join(f"{n} {c}" for c, n in sorted(report.categories.items()))
        out.print(f"[green]done[/green]: {_count(report.written, 'BFCL question')} in {escape(str(report.outputs[0]))}"
                  + (f" ({per})" if per else "") + f"; possible answers in {escape(str(report.outputs[1]))}",
                  highlight=False)
    else:
        what = f"{report.format}, {report.style}" if report.style else report.format
        made = (_count(report.written, "row") if report.written == report.rows - sum(report.skipped.values())
                else f"{_count(report.written, 'record')} from {_count(report.rows - sum(report.skipped.values()), 'row')}")
        out.print(f"[green]done[/green]: {made} in {escape(str(report.outputs[0]))} ({what})", highlight=False)
    if report.skipped:
        out.print(f"skipped {_count(sum(report.skipped.values()), 'row')}: " + skipped_text(report.skipped),
                  markup=False, highlight=False)
    if report.first_problem:
        out.print(f"first malformed row: {report.first_problem}", markup=False, highlight=False)
    if report.card is not None:
        out.print(f"card: {report.card}", markup=False, highlight=False)
    elif report.card_note:
        out.print(f"note: {report.card_note}", markup=False, highlight=False)
