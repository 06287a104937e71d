"""``load``: records from a JSONL, JSON, Parquet or CSV file, a folder of shards, or a Hugging Face
dataset (a ``save_to_disk`` folder, or ``hf:json:/path/*.jsonl`` for ``load_dataset`` on local files)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import xxhash

from ..io.sources import count_records, read_records
from ..pipeline.step import SourceStep


class LoadStep(SourceStep):
    """Reads a file or folder as a stream of records (bounded memory)."""

    type_name = "load"

    def __init__(self, name: str, *, path: str, columns: list[str] | None = None,
                 rename: dict[str, str] | None = None, limit: int | None = None) -> None:
        super().__init__(name)
        self.path = str(path)
        self.select = list(columns) if columns else None
        self.rename = dict(rename or {})
        self.limit = limit
        self._columns: list[str] | None = None

    @property
    def columns(self) -> list[str]:
        """The columns its records have (read from the file; raises SourceError if unreadable)."""
        if self._columns is None:
            if self.select is not None:
                cols = self.select
                next(read_records(self.path, columns=cols, limit=1), None)  # checks the file and columns
            else:
                first = next(read_records(self.path, limit=1), [])
                cols = list(first[0]) if first else []
            self._columns = [self.rename.get(c, c) for c in cols]
        return self._columns

    def _limit(self, limit: int | None) -> int | None:
        limits = [x for x in (limit, self.limit) if x is not None]
        return min(limits) if limits else None

    def read(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        for batch in read_records(self.path, columns=self.select, limit=self._limit(limit)):
            for rec in batch:
                if self.rename:
                    rec = {self.rename.get(k, k): v for k, v in rec.items()}
                yield rec

    def count(self, limit: int | None = None) -> int | None:
        try:
            n = count_records(self.path)
        except Exception:  # noqa: BLE001 - a count is only a progress hint
            return None
        lim = self._limit(limit)
        return n if lim is None or n is None else min(n, lim)

    def fingerprint(self) -> str:
        h = xxhash.xxh3_64()
        p = Path(self.path.split(":", 2)[-1]) if self.path.startswith("hf:") else Path(self.path)
        files = sorted(p.rglob("*")) if p.is_dir() else [p]
        for f in files:
            try:
                st = f.stat()
            except OSError:
                continue
            h.update(f"{f}\x1f{st.st_size}\x1f{st.st_mtime_ns}\n".encode())
        return f"{os.path.abspath(self.path)}:{h.hexdigest()}"
