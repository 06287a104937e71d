"""The run an export reads: its folders, its rows (streamed), where the export may go, and what the run says
about itself (``run.json``, ``card.md``) for the export's dataset card."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq

from ..formats import jsonl_records, table_to_rows
from ..rundir_guard import RunDirError, check_writable_folder
from ..shards import ShardError, list_shards

_RUN_PARTS = ("data", "rejected", "errors", ".state")


class ExportError(ValueError):
    """The run cannot be exported as asked; the message names the run (or path) and the fix."""


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


def default_output(root: Path, fmt: str, style: str | None = None) -> Path:
    """Where an export goes without ``-o``: ``RUN/export/<format>.jsonl`` (``<format>-standard.jsonl`` for a TRL
    format's standard form; BFCL: ``RUN/export/bfcl.json``)."""
    if fmt == "bfcl":
        return root / "export" / "bfcl.json"
    return root / "export" / (f"{fmt}-standard.jsonl" if style == "standard" else f"{fmt}.jsonl")


def bfcl_answers_path(questions: Path) -> Path:
    """Where BFCL's possible answers go: ``possible_answer/<same name>`` beside the questions, as in BFCL's data."""
    return questions.parent / "possible_answer" / questions.name


def check_output(output: Path, root: Path) -> None:
    """``output`` must be a file path in a writable folder outside the run's own folders."""
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
                              f"elsewhere (the default is {root / 'export'})")


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


@dataclass
class RunInfo:
    """What a run says about itself: its recipe's name and description, status, citations (``card.md``) and
    models (``run.json``: name -> the spec the user gave)."""

    root: Path
    name: str
    description: str = ""
    status: str | None = None
    recipe: str | None = None
    citations: list[str] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)


_RECIPE_LINE = re.compile(r"^- recipe: `(.+)`$")


def read_run_info(root: Path) -> RunInfo:
    """The :class:`RunInfo` of the run at ``root``; what its files do not say stays empty (a run stopped before
    it wrote ``card.md`` still exports)."""
    info = RunInfo(root=root, name=root.name)
    try:
        meta = orjson.loads((root / "run.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        meta = {}
    if isinstance(meta, dict):
        info.name = str(meta.get("pipeline") or info.name)
        info.status = meta.get("status") if isinstance(meta.get("status"), str) else None
        models = meta.get("models") if isinstance(meta.get("models"), dict) else {}
        info.models = {str(k): str(v.get("spec") or v.get("model") or "") for k, v in models.items() if isinstance(v, dict)}
    try:
        lines = (root / "card.md").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return info
    body = lines[1:] if lines and lines[0].startswith("# ") else lines
    description: list[str] = []
    for line in body:
        if line.startswith("- ") or line.startswith("#"):
            break
        description.append(line)
    info.description = "\n".join(description).strip()
    section = None
    for line in lines:
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        match = _RECIPE_LINE.match(line)
        if match and section is None:
            info.recipe = match.group(1)
        elif section == "Methods and citations" and line.startswith("- "):
            info.citations.append(line[2:].strip())
    return info
