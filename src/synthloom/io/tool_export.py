"""Export a run's tool-use rows (``OUT/data/`` shards) as OpenAI/TRL, ShareGPT, Hermes or BFCL files.

Rows are streamed shard by shard and batch by batch, each converted by :mod:`synthloom.io.tool_formats` and
written as one JSON line; the output files appear whole or not at all. Rows are skipped, and counted by reason,
when their tool results were played by an LLM (``simulated``) or a call failed, unless asked to keep them, and
when they cannot be written in the format (a malformed row; for BFCL, a row without calls).
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
import pyarrow.parquet as pq

from .formats import SourceError, jsonl_records, table_to_rows
from .rundir_guard import RunDirError, check_writable_folder
from .shards import ShardError, atomic_write, list_shards
from .tool_formats import CONVERTERS, FORMATS, NothingToScore, bfcl_category, to_bfcl
from .tool_rows import ToolRowError, absent_columns, failed_calls, row_problem

SIMULATED, FAILED, MALFORMED, NO_CALLS = "simulated", "failed", "malformed", "no_calls"
_RUN_PARTS = ("data", "rejected", "errors", ".state")


class ExportError(ValueError):
    """The run cannot be exported as asked; the message names the run (or path) and the fix."""


@dataclass
class ExportReport:
    """What an export did: rows written, where, and the rows skipped per reason (with the first malformed one)."""

    format: str
    written: int = 0
    outputs: list[Path] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    first_problem: str | None = None


def run_folders(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(run root, shard folder)`` for a run directory or its ``data/`` folder; :class:`ExportError` otherwise."""
    given = Path(path)
    if not given.exists():
        raise ExportError(f"{given}: no such run directory; fix: give the folder `synthloom run -o` wrote")
    if (given / "data").is_dir():
        return given, given / "data"
    try:
        has_shards = given.is_dir() and bool(list_shards(given))
    except ShardError as e:
        raise ExportError(str(e)) from None
    if has_shards:
        return (given.parent if given.name == "data" else given), given
    raise ExportError(f"{given}: not a run directory (no data/ folder of shards); fix: give the folder "
                      f"`synthloom run -o` wrote, e.g. runs/apigen")


def default_outputs(root: Path, fmt: str) -> Path:
    """Where an export goes without ``-o``: ``RUN/export/<format>.jsonl`` (BFCL: ``RUN/export/bfcl.json``)."""
    return root / "export" / ("bfcl.json" if fmt == "bfcl" else f"{fmt}.jsonl")


def bfcl_answers_path(questions: Path) -> Path:
    """Where BFCL's possible answers go: ``possible_answer/<same name>`` beside the questions, as in BFCL's data."""
    return questions.parent / "possible_answer" / questions.name


def _check_output(output: Path, root: Path) -> None:
    if output.is_dir():
        raise ExportError(f"-o {output}: is a folder; fix: give -o a file path, e.g. {output / 'train.jsonl'}")
    try:
        check_writable_folder(output.parent, "-o")
    except RunDirError as e:
        raise ExportError(str(e).replace(f"-o {output.parent}", f"-o {output}", 1)) from None
    resolved = output.resolve()
    for part in _RUN_PARTS:
        inside = (root / part).resolve()
        if resolved == inside or inside in resolved.parents:
            raise ExportError(f"-o {output}: is inside the run's {part}/ folder, which the run owns; fix: write it "
                              f"elsewhere (the default is {default_outputs(root, 'openai').parent})")


def iter_rows(shards: Path) -> Iterator[dict[str, Any]]:
    """The rows of a shard folder in order, a batch at a time."""
    for _, path in list_shards(shards):
        if path.suffix == ".jsonl":
            yield from jsonl_records(path)
            continue
        parquet = pq.ParquetFile(path)
        try:
            for batch in parquet.iter_batches(batch_size=512):
                yield from table_to_rows(batch)
        finally:
            parquet.close()


def export_run(
    run: str | os.PathLike[str],
    fmt: str,
    output: str | os.PathLike[str] | None = None,
    *,
    include_simulated: bool = False,
    include_failed: bool = False,
) -> ExportReport:
    """Write the tool-use rows of ``run`` in ``fmt`` (one of :data:`FORMATS`) to ``output`` (default
    :func:`default_outputs`); BFCL's answers go to :func:`bfcl_answers_path`. Raises :class:`ExportError` for a
    path that is not a run, a run without rows, or rows that are not tool-use rows."""
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: unknown format; fix: use one of {', '.join(FORMATS)}")
    root, shards = run_folders(run)
    target = Path(output) if output is not None else default_outputs(root, fmt)
    _check_output(target, root)
    if fmt == "bfcl":
        _check_output(bfcl_answers_path(target), root)
    rows = iter_rows(shards)
    try:
        first = next(rows)
    except StopIteration:
        raise ExportError(f"{root}: the run has no rows in {shards}; nothing to export") from None
    except (ShardError, SourceError, OSError, pa.ArrowException) as e:
        raise ExportError(f"{root}: cannot read its shards ({e})") from None
    missing = absent_columns(first)
    if missing:
        raise ExportError(
            f"{root}: its rows are not tool-use rows (no {', '.join(missing)} column); single-turn tool rows have "
            f"query, tools, calls, results and multi-turn ones messages, tools; fix: export a run of a tool-use "
            f"recipe (APIGen, ToolACE, ToolAlpaca, APIGen-MT)")
    report = ExportReport(format=fmt)
    chained = _prepend(first, rows)
    try:
        if fmt == "bfcl":
            _write_bfcl(chained, target, report, include_simulated, include_failed)
        else:
            _write_records(chained, target, fmt, report, include_simulated, include_failed)
    except (ShardError, SourceError, pa.ArrowException) as e:
        raise ExportError(f"{root}: cannot read its shards ({e}); nothing was written") from None
    except OSError as e:
        raise ExportError(f"{root}: the export stopped ({e}); nothing was written to {target}") from None
    return report


def _prepend(first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield first
    yield from rest


def _skip_reason(row: dict[str, Any], include_simulated: bool, include_failed: bool) -> str | None:
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


def _write_records(rows: Iterator[dict[str, Any]], target: Path, fmt: str, report: ExportReport,
                   include_simulated: bool, include_failed: bool) -> None:
    convert = CONVERTERS[fmt]
    with atomic_write(target) as handle:
        for number, row in enumerate(rows):
            reason = _skip_reason(row, include_simulated, include_failed)
            if reason == MALFORMED:
                _malformed(report, number, row, f"not a tool-use row: {row_problem(row)}")
                continue
            if reason is not None:
                report.skipped[reason] += 1
                continue
            try:
                record = convert(row)
            except ToolRowError as e:
                _malformed(report, number, row, str(e))
                continue
            handle.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
            report.written += 1
    report.outputs.append(target)


def _write_bfcl(rows: Iterator[dict[str, Any]], target: Path, report: ExportReport,
                include_simulated: bool, include_failed: bool) -> None:
    answers_path = bfcl_answers_path(target)
    with atomic_write(target) as questions, atomic_write(answers_path) as answers:
        for number, row in enumerate(rows):
            reason = _skip_reason(row, include_simulated, include_failed)
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
    report.outputs += [target, answers_path]
