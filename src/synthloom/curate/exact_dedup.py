"""Exact deduplication on normalised text.

``normalize`` chooses what counts as the same text:

* ``"basic"`` (or ``true``, the default): NFKC, case-folded, whitespace collapsed;
* ``"words"``: the word sequence MinHash dedup shingles (:func:`.text_shingles.words`: NFKC,
  case-folded, punctuation removed), so ``"Hello, world!"`` equals ``"hello world"``;
* ``"none"`` (or ``false``): the raw string.

The first occurrence (in input order) survives; each later copy is rejected naming the id of the
row it duplicates. Memory holds one 128-bit hash and one id per distinct value, never the rows.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

import xxhash

from ..pipeline.step import GlobalStep, Rejected, RejectedRow
from ..records import ID
from .text_shingles import words

_SPACE = re.compile(r"\s+")
NORMALIZE_MODES = ("basic", "words", "none")


def normalise(text: str) -> str:
    """The form two texts must share to count as exact duplicates (``normalize="basic"``)."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def normalise_words(text: str) -> str:
    """The ``normalize="words"`` form: the text's words joined by single spaces."""
    return " ".join(words(text))


def normaliser(mode: bool | str) -> Callable[[str], str] | None:
    """The function for a ``normalize`` option value (None: compare raw strings)."""
    if mode is True or mode == "basic":
        return normalise
    if mode is False or mode == "none":
        return None
    if mode == "words":
        return normalise_words
    raise ValueError(f"normalize must be one of {', '.join(NORMALIZE_MODES)} (or true/false), got {mode!r}")


class ExactDedup(GlobalStep):
    """Removes rows whose ``columns`` (normalised, joined) equal an earlier row's."""

    type_name = "dedup_exact"

    def __init__(self, name: str, *, columns: list[str] | str, normalize: bool | str = True,
                 inputs: list[str] | None = None) -> None:
        cols = [columns] if isinstance(columns, str) else list(columns)
        super().__init__(name, reads=cols, inputs=inputs or ())
        try:
            self._normalise = normaliser(normalize)
        except ValueError as exc:
            raise ValueError(f"dedup_exact {name!r}: {exc}") from None
        self.columns = cols
        self.normalize = normalize

    def key(self, record: dict[str, Any]) -> int:
        parts = []
        for c in self.columns:
            v = record.get(c)
            s = "" if v is None else str(v)
            parts.append(self._normalise(s) if self._normalise else s)
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
