"""Exact deduplication on normalised text (NFKC, case-folded, whitespace collapsed).

The first occurrence (in input order) survives; each later copy is rejected naming the id of the
row it duplicates. Memory holds one 128-bit hash and one id per distinct value, never the rows.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Iterator

import xxhash

from ..pipeline.step import GlobalStep, Rejected, RejectedRow
from ..records import ID

_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """The form two texts must share to count as exact duplicates."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


class ExactDedup(GlobalStep):
    """Removes rows whose ``columns`` (normalised, joined) equal an earlier row's."""

    type_name = "dedup_exact"

    def __init__(self, name: str, *, columns: list[str] | str, normalize: bool = True, inputs: list[str] | None = None) -> None:
        cols = [columns] if isinstance(columns, str) else list(columns)
        super().__init__(name, reads=cols, inputs=inputs or ())
        self.columns = cols
        self.normalize = normalize
        self.options = {"columns": cols, "normalize": normalize}

    def key(self, record: dict[str, Any]) -> int:
        parts = []
        for c in self.columns:
            v = record.get(c)
            s = "" if v is None else str(v)
            parts.append(normalise(s) if self.normalize else s)
        return xxhash.xxh3_128_intdigest("\x1f".join(parts).encode())

    def run(self, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any] | RejectedRow]:
        first: dict[int, str] = {}
        for record in rows:
            k = self.key(record)
            survivor = first.get(k)
            if survivor is None:
                first[k] = record.get(ID, "")
                yield record
            else:
                yield RejectedRow(record, Rejected(f"exact duplicate of {survivor}", 1.0, duplicate_of=survivor))
