"""Rows spilled to a JSON-lines file and read back in order or in chunks (steps that pass over their input
several times, e.g. rounds over the same rows, with bounded memory)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson


def write_rows(rows: Iterable[dict[str, Any]], path: Path) -> None:
    """Write ``rows`` to ``path``, one JSON object per line (numpy values as plain numbers)."""
    with path.open("wb") as fh:
        for r in rows:
            fh.write(orjson.dumps(r, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of ``path`` in the order they were written."""
    with path.open("rb") as fh:
        for line in fh:
            yield orjson.loads(line)


def row_chunks(path: Path, size: int) -> Iterator[list[dict[str, Any]]]:
    """The rows of ``path`` in lists of ``size`` (the last may be shorter)."""
    chunk: list[dict[str, Any]] = []
    for r in read_rows(path):
        chunk.append(r)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
