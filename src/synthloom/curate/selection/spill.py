"""Helpers of the selection steps: column values by dotted path, and a row spill file for two passes."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson


def column_root(column: str) -> str:
    """The record column a dotted path starts from (``scores.helpfulness`` -> ``scores``)."""
    return column.split(".", 1)[0]


def value_at(record: dict[str, Any], column: str) -> Any:
    """``record[column]``, following dots into nested mappings (``scores.helpfulness``)."""
    if column in record:
        return record[column]
    node: Any = record
    for part in column.split("."):
        if isinstance(node, str) and part and node.startswith("{"):
            try:
                node = orjson.loads(node)
            except orjson.JSONDecodeError:
                return None
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def numeric(value: Any) -> float | None:
    """A finite float from a number or numeric string, else ``None`` (booleans count as 1/0)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            f = float(value)
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


class RowSpill:
    """Rows written once to a temporary JSON-lines file and read back in order (bounded memory)."""

    def __init__(self, folder: Path | None) -> None:
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="rows-", suffix=".jsonl", dir=folder)
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self.count = 0

    def add(self, record: dict[str, Any]) -> int:
        self._file.write(orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")
        self.count += 1
        return self.count - 1

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self._file.flush()
        with open(self.path, "rb") as f:
            for line in f:
                yield orjson.loads(line)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> RowSpill:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def spill_folder(step: Any) -> Path | None:
    """The step's spill folder in a run, or ``None`` (system temp) outside one."""
    ctx = getattr(step, "ctx", None)
    if ctx is not None and getattr(ctx, "state_dir", None) is not None:
        return ctx.spill_dir
    return None


class EmbeddingSpill:
    """Sentence embeddings of many rows, encoded in batches and kept in a memory-mapped file.

    ``add(text)`` queues a text; full batches are encoded (``synthloom.curate.embeddings``) and
    appended to the file; :meth:`finish` returns a read-only ``(n, dim)`` float32 memmap.
    """

    def __init__(self, folder: Path | None, encoder: str = "minilm", batch: int = 512) -> None:
        from ..embeddings import get_encoder

        self.encoder = get_encoder(encoder)
        fd, name = tempfile.mkstemp(prefix="emb-", suffix=".f32", dir=folder)
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._pending: list[str] = []
        self._batch = batch
        self.count = 0

    def add(self, text: str) -> None:
        self._pending.append(text)
        if len(self._pending) >= self._batch:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            import numpy as np

            vectors = np.ascontiguousarray(self.encoder.encode(self._pending), dtype=np.float32)
            self._file.write(vectors.tobytes())
            self.count += len(self._pending)
            self._pending = []

    def finish(self) -> Any:
        import numpy as np

        self._flush()
        self._file.close()
        if self.count == 0:
            return np.zeros((0, self.encoder.dim), dtype=np.float32)
        return np.memmap(self.path, dtype=np.float32, mode="r", shape=(self.count, self.encoder.dim))

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> EmbeddingSpill:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
