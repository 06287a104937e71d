"""The lines of a small bundled or user-given JSON-lines file, parsed, with their line numbers (for data files
a step validates row by row and reports as ``FILE:LINE``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def jsonl_lines(file: Path, what: str, fix: str = "") -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line of ``file``; ``value`` is ``None`` when the line is not
    JSON (the caller says what the line should be). A file that cannot be read is a ``ValueError`` naming
    ``what`` (e.g. "the search corpus") and, when given, the ``fix``."""
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ValueError(f"cannot read {what} {str(file)!r}: {e.strerror or e}" + (f"; {fix}" if fix else "")) from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except ValueError:
            yield n, None
