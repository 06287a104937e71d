"""Export a run's rows (``OUT/data/`` shards) as the files trainers and benchmarks read, with a dataset card.

Rows are streamed shard by shard and batch by batch, each converted to zero or more records
(:mod:`~synthloom.io.export.trainer_formats` for any run, :mod:`~synthloom.io.export.tool_formats` for tool-use
rows) and written as JSON lines; the output file appears whole or not at all. A row that cannot be written in
the format is skipped and counted by reason (tool rows whose results an LLM played or whose calls failed, unless
asked to keep them; rows without what the format needs; malformed rows, the first one named). When no row at all
can be written, nothing is written and :class:`ExportError` says why in one line, naming the run and what its
rows lack. Beside the file goes ``README.md``, a dataset card (:mod:`~synthloom.io.export.card`).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from ..formats import SourceError
from ..shards import ShardError, atomic_write
from .card import CardFacts, write_card
from .chat_rows import (
    MULTI_TURN,
    NO_LABEL,
    NO_PAIR,
    NO_PROMPT,
    NO_RESPONSE,
    REASONS,
    TOOL_USE,
    UNDESIRABLE,
    Columns,
    Unusable,
    missing_columns,
)
from .run_dir import ExportError, bfcl_answers_path, check_output, default_output, iter_rows, read_run_info, run_folders
from .tool_formats import NothingToScore, bfcl_category, to_bfcl, to_hermes, to_openai
from .tool_rows import ToolRowError, absent_columns, failed_calls, row_problem
from .trainer_formats import CONVERTERS, NEEDS, STYLED, STYLES, Written

TOOL_FORMATS = ("openai", "hermes", "bfcl")
FORMATS = ("trl-sft", "trl-dpo", "trl-kto", "trl-rm", "openai-chat", "sharegpt", "alpaca", *TOOL_FORMATS)
SIMULATED, FAILED, MALFORMED, NO_CALLS = "simulated", "failed", "malformed", "no_calls"
SKIPS = {
    SIMULATED: "simulated (an LLM played the tools; --include-simulated keeps them)",
    FAILED: "with a failed tool call (--include-failed keeps them, the error as the tool's reply)",
    NO_CALLS: "without tool calls (BFCL scores calls)",
    MALFORMED: "malformed",
    **REASONS,
}
_FIXES = {
    NO_PROMPT: "name the prompt column with --prompt-column",
    NO_RESPONSE: "name the answer column with --response-column",
    NO_PAIR: "export a run that makes preference pairs (chosen, rejected: ultrafeedback, reward-pairs, verified-pairs, "
             "spin, ...), or use an SFT format (trl-sft, openai-chat, sharegpt, alpaca)",
    NO_LABEL: "export a run with KTO labels (a kto_labels step) or preference pairs",
    UNDESIRABLE: "every row is labelled undesirable; --format trl-kto exports them",
    MULTI_TURN: "use --style conversational, or trl-sft / openai-chat / sharegpt, which hold conversations",
    TOOL_USE: "export tool-use rows with --format openai, openai-chat, trl-sft, sharegpt or hermes",
    SIMULATED: "add --include-simulated to export them (their tool results were invented by an LLM)",
    FAILED: "add --include-failed to export them (the error text as the tool's reply)",
    NO_CALLS: "BFCL scores calls; export a run whose rows make tool calls",
}
_TOOL_CONVERTERS = {"openai": to_openai, "hermes": to_hermes}


@dataclass
class ExportReport:
    """What an export did: records written from how many rows, where, the rows skipped per reason (with the first
    malformed one), the dataset card, and what the card counts (records per source model and role, pair rules)."""

    format: str
    style: str | None = None
    written: int = 0
    rows: int = 0
    outputs: list[Path] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    first_problem: str | None = None
    card: Path | None = None
    card_note: str | None = None
    sources: Counter[tuple[str | None, str]] = field(default_factory=Counter)
    pair_rules: Counter[str] = field(default_factory=Counter)


def skipped_text(skipped: Counter[str]) -> str:
    """``"2 simulated (...); 1 malformed"``: the skipped rows per reason."""
    return "; ".join(f"{n} {SKIPS.get(reason, reason)}" for reason, n in sorted(skipped.items()))


def is_tool_row(row: dict[str, Any]) -> bool:
    """Whether a row claims the tool-use layout (it has ``tools`` or ``calls``)."""
    return row.get("tools") is not None or row.get("calls") is not None


def _holds_tool_rows(fmt: str, style: str | None) -> bool:
    return fmt in ("openai-chat", "sharegpt") or (fmt == "trl-sft" and style != "standard")


def export_run(
    run: str | os.PathLike[str],
    fmt: str,
    output: str | os.PathLike[str] | None = None,
    *,
    style: str | None = None,
    prompt_column: str | None = None,
    response_column: str | None = None,
    include_simulated: bool = False,
    include_failed: bool = False,
) -> ExportReport:
    """Write the rows of ``run`` in ``fmt`` (one of :data:`FORMATS`) to ``output`` (default
    :func:`~synthloom.io.export.run_dir.default_output`) and the dataset card beside it; BFCL's answers go to
    :func:`~synthloom.io.export.run_dir.bfcl_answers_path`. ``style`` (``conversational``, the default, or
    ``standard``) is for the ``trl-*`` formats; ``prompt_column`` / ``response_column`` override the columns
    read. Raises :class:`ExportError` for a path that is not a run, a run without rows, or rows none of which
    the format can hold."""
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: unknown format; fix: use one of {', '.join(FORMATS)}")
    if style is not None and fmt not in STYLED:
        raise ExportError(f"--style {style}: only the TRL formats ({', '.join(STYLED)}) have a conversational and a "
                          f"standard form; fix: leave --style out for {fmt}")
    if style is not None and style not in STYLES:
        raise ExportError(f"--style {style!r}: unknown; fix: use conversational or standard")
    if fmt in TOOL_FORMATS and (prompt_column or response_column):
        raise ExportError(f"--prompt-column/--response-column: {fmt} exports tool-use rows, whose columns are fixed; "
                          f"fix: leave them out, or use a chat format (trl-sft, openai-chat, sharegpt, alpaca, ...)")
    style = style or ("conversational" if fmt in STYLED else None)
    root, shards = run_folders(run)
    target = Path(output) if output is not None else default_output(root, fmt, style)
    check_output(target, root)
    if fmt == "bfcl":
        check_output(bfcl_answers_path(target), root)
    rows = iter_rows(shards)
    try:
        first = next(rows)
    except StopIteration:
        raise ExportError(f"{root}: the run has no rows in {shards}; nothing to export") from None
    except (ShardError, SourceError, OSError, pa.ArrowException) as e:
        raise ExportError(f"{root}: cannot read its shards ({e})") from None
    missing = absent_columns(first) if fmt in TOOL_FORMATS else []
    if missing:
        raise ExportError(
            f"{root}: its rows are not tool-use rows (no {', '.join(missing)} column); single-turn tool rows have "
            f"query, tools, calls, results and multi-turn ones messages, tools; fix: export a run of a tool-use "
            f"recipe (APIGen, ToolACE, ToolAlpaca, APIGen-MT), or use trl-sft, openai-chat, sharegpt or alpaca for "
            f"other rows")
    report = ExportReport(format=fmt, style=style)
    cols = Columns(prompt_column, response_column)
    first_records: list[dict[str, Any]] = []
    chained = _prepend(first, rows)
    made = [d for d in (target.parent, bfcl_answers_path(target).parent) if not d.exists()]
    try:
        if fmt == "bfcl":
            _write_bfcl(chained, target, report, include_simulated, include_failed)
        else:
            _write_records(chained, target, report, cols, include_simulated, include_failed, first_records)
    except _NothingWritten:
        for folder in reversed(made):  # the folders this export made for its files, now empty
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise ExportError(_nothing_message(root, report, first, cols)) from None
    except (ShardError, SourceError, pa.ArrowException) as e:
        raise ExportError(f"{root}: cannot read its shards ({e}); nothing was written") from None
    except OSError as e:
        raise ExportError(f"{root}: the export stopped ({e}); nothing was written to {target}") from None
    if fmt != "bfcl":
        facts = CardFacts(fmt, style, read_run_info(root), report.rows, report.written,
                          skipped_text(report.skipped) or None, report.sources, report.pair_rules,
                          first_records[0] if first_records else None)
        try:
            report.card = write_card(target, facts)
        except OSError as e:
            report.card_note = f"the dataset card was not written ({e})"
        if report.card is None and report.card_note is None:
            report.card_note = f"{target.parent / 'README.md'} is not a synthloom card; left it as it is (no card written)"
    return report


class _NothingWritten(Exception):
    """Raised inside the atomic write when no row could be written, so that no file is left."""


def _prepend(first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield first
    yield from rest


def _tool_skip(row: dict[str, Any], include_simulated: bool, include_failed: bool) -> str | None:
    if row_problem(row) is not None:
        return MALFORMED
    if row.get("simulated") is True and not include_simulated:
        return SIMULATED
    if not include_failed and failed_calls(row):
        return FAILED
    return None


def _malformed(report: ExportReport, number: int, row: dict[str, Any], problem: str) -> None:
    report.skipped[MALFORMED] += 1
    if report.first_problem is None:
        where = f"row {number}" + (f" (id {row['id']})" if isinstance(row.get("id"), (str, int)) else "")
        report.first_problem = f"{where}: {problem}"


def _convert(row: dict[str, Any], report: ExportReport, cols: Columns, include_simulated: bool,
             include_failed: bool) -> list[Written] | str:
    """The records of one row, or the reason it is skipped (a malformed row raises :class:`ToolRowError` or
    :class:`Unusable`)."""
    fmt = report.format
    tool_row = fmt in _TOOL_CONVERTERS or is_tool_row(row)
    if tool_row:
        if fmt not in _TOOL_CONVERTERS and not _holds_tool_rows(fmt, report.style):
            return TOOL_USE
        reason = _tool_skip(row, include_simulated, include_failed)
        if reason == MALFORMED:
            raise ToolRowError(f"not a tool-use row: {row_problem(row)}")
        if reason is not None:
            return reason
    if fmt in _TOOL_CONVERTERS:
        return [Written(_TOOL_CONVERTERS[fmt](row))]
    return CONVERTERS[fmt](row, cols, report.style or "conversational", tool_row)


def _write_records(rows: Iterator[dict[str, Any]], target: Path, report: ExportReport, cols: Columns,
                   include_simulated: bool, include_failed: bool, first_records: list[dict[str, Any]]) -> None:
    with atomic_write(target) as handle:
        for number, row in enumerate(rows):
            report.rows += 1
            try:
                written = _convert(row, report, cols, include_simulated, include_failed)
            except (ToolRowError, Unusable) as e:
                if isinstance(e, Unusable) and e.reason != MALFORMED:
                    report.skipped[e.reason] += 1
                else:
                    _malformed(report, number, row, str(e))
                continue
            if isinstance(written, str):
                report.skipped[written] += 1
                continue
            for item in written:
                handle.write(orjson.dumps(item.record, option=orjson.OPT_APPEND_NEWLINE))
                report.written += 1
                report.sources.update(item.sources)
                if item.pair_rule:
                    report.pair_rules[item.pair_rule] += 1
                if not first_records:
                    first_records.append(item.record)
        if report.written == 0:
            raise _NothingWritten
    report.outputs.append(target)


def _write_bfcl(rows: Iterator[dict[str, Any]], target: Path, report: ExportReport,
                include_simulated: bool, include_failed: bool) -> None:
    answers_path = bfcl_answers_path(target)
    with atomic_write(target) as questions, atomic_write(answers_path) as answers:
        for number, row in enumerate(rows):
            report.rows += 1
            reason = _tool_skip(row, include_simulated, include_failed)
            if reason == MALFORMED:
                _malformed(report, number, row, f"not a tool-use row: {row_problem(row)}")
                continue
            if reason is not None:
                report.skipped[reason] += 1
                continue
            category = bfcl_category(row)
            try:
                question, answer = to_bfcl(row, report.categories[category])
            except NothingToScore:
                report.skipped[NO_CALLS] += 1
                continue
            except ToolRowError as e:
                _malformed(report, number, row, str(e))
                continue
            questions.write(orjson.dumps(question, option=orjson.OPT_APPEND_NEWLINE))
            answers.write(orjson.dumps(answer, option=orjson.OPT_APPEND_NEWLINE))
            report.categories[category] += 1
            report.written += 1
        if report.written == 0:
            raise _NothingWritten
    report.outputs += [target, answers_path]


def _nothing_message(root: Path, report: ExportReport, first: dict[str, Any], cols: Columns) -> str:
    """The one line saying why no row of the run could be exported, and what to do."""
    top = report.skipped.most_common(1)[0][0] if report.skipped else MALFORMED
    what = f"{root}: no row can be exported as {report.format}"
    what += f" ({report.style})" if report.style == "standard" else ""
    what += f": {skipped_text(report.skipped)}"
    need = NEEDS.get(report.format)
    missing = missing_columns(first, need, cols) if need and top in (NO_PROMPT, NO_RESPONSE, NO_PAIR, NO_LABEL) else []
    if missing:
        have = [c for c in first if c not in ("id", "_lineage")]
        shown = ", ".join(have[:12]) + (", ..." if len(have) > 12 else "")
        what += f" (no {'; no '.join(missing)} column; the rows have {shown})"
    if top == MALFORMED:
        return f"{what}; first malformed: {report.first_problem}; fix: correct those rows, or name other columns"
    return f"{what}; fix: {_FIXES.get(top, 'name the columns to read with --prompt-column / --response-column')}"
