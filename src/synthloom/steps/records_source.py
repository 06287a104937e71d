"""``records``: a source from rows given inline (in a recipe) or as a Python list or generator factory."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
import xxhash

from ..pipeline.step import SourceStep


class RecordsSource(SourceStep):
    """Yields ``rows`` (a list of dicts), or the rows of ``factory()`` called anew on every read —
    the Python API's way to stream generated records without a file."""

    type_name = "records"

    def __init__(self, name: str, *, rows: list[dict[str, Any]] | None = None,
                 factory: Callable[[], Iterable[dict[str, Any]]] | None = None,
                 columns: list[str] | None = None, count: int | None = None) -> None:
        if (rows is None) == (factory is None):
            raise ValueError(f"records source {name!r} needs exactly one of `rows` or `factory`")
        super().__init__(name)
        self.rows = rows
        self.factory = factory
        if columns is None:
            if rows is None:
                raise ValueError(f"records source {name!r}: give `columns` when using a factory")
            columns = sorted({k for r in rows for k in r})
        self.columns = list(columns)
        self._count = len(rows) if rows is not None else count

    def read(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        source = self.rows if self.rows is not None else self.factory()
        for i, row in enumerate(source):
            if limit is not None and i >= limit:
                return
            yield copy.copy(row) if self.rows is not None else row

    def count(self, limit: int | None = None) -> int | None:
        if self._count is None:
            return None
        return self._count if limit is None else min(self._count, limit)

    def fingerprint(self) -> str:
        if self.rows is not None:
            return xxhash.xxh3_64_hexdigest(orjson.dumps(self.rows, option=orjson.OPT_SORT_KEYS, default=str))
        return f"factory:{getattr(self.factory, '__qualname__', repr(self.factory))}:{self._count}"
