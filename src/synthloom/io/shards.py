"""Output shards of a run (``OUT/data/part-00000.parquet`` ...) and spill files for global steps.

A run writes its records as numbered shards, each written atomically, so a crash leaves only whole shards plus
stray ``.tmp-*`` files; the journal knows which shard indices are finished and ``remove_shards_not_in`` clears the
rest on resume. ``finalize`` then gives every Parquet shard the same schema so the folder loads as one dataset
(``datasets.load_dataset("parquet", data_files="OUT/data/*.parquet")``).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from synthloom.io.formats import (
    LINEAGE_COLUMN,
    decode_lineage,
    dumps_record,
    encode_json_value,
    has_struct,
    is_json_field,
    json_field,
    rows_to_table,
    table_to_rows,
)

ShardFormat = Literal["parquet", "jsonl"]
SHARD_FORMATS: tuple[str, ...] = ("parquet", "jsonl")
_PARQUET_COMPRESSION = "zstd"
_READ_BATCH_ROWS = 1024


def fsync_directory(directory: Path) -> None:
    """Make a rename inside ``directory`` durable (no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


TEMP_PREFIX = ".tmp-"


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Write a file so it appears whole or not at all.

    Yields a binary file in the same folder named ``.tmp-<name>.<random>``; on success it is flushed, fsynced and
    renamed over ``path`` and the folder is fsynced. If the body raises, the temporary file is removed and any
    existing file at ``path`` is left untouched.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.parent / f"{TEMP_PREFIX}{final.name}.{secrets.token_hex(6)}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_directory(final.parent)


class ShardError(ValueError):
    """A shard folder is not in the state an operation needs (mixed formats, unknown format, corrupt shard)."""


def _shard_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(prefix)}-(\d+)\.(parquet|jsonl)$")


def list_shards(directory: str | os.PathLike[str], *, prefix: str = "part") -> list[tuple[int, Path]]:
    """``(index, path)`` of every finished shard in ``directory``, in index order; one format per folder."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    pattern = _shard_pattern(prefix)
    found: list[tuple[int, Path]] = []
    formats: set[str] = set()
    for entry in folder.iterdir():
        match = pattern.match(entry.name)
        if match and entry.is_file():
            found.append((int(match.group(1)), entry))
            formats.add(match.group(2))
    if len(formats) > 1:
        raise ShardError(
            f"{folder}: holds both .parquet and .jsonl shards; a run writes one format per folder — "
            f"move one set elsewhere"
        )
    return sorted(found)


class ShardWriter:
    """Writes numbered output shards atomically (``part-00000.parquet`` or ``.jsonl``) into one folder.

    The same rows always give the same file content, so a resumed run that rewrites a shard produces the shard
    it would have produced the first time.
    """

    def __init__(
        self, directory: str | os.PathLike[str], *, format: ShardFormat = "parquet", prefix: str = "part"
    ) -> None:
        if format not in SHARD_FORMATS:
            raise ShardError(f"unknown shard format {format!r}; use one of {', '.join(SHARD_FORMATS)}")
        if not prefix or "/" in prefix or prefix.startswith("."):
            raise ShardError(f"shard prefix {prefix!r} must be a plain, non-hidden file name part")
        self.directory = Path(directory)
        self.format: ShardFormat = format
        self.prefix = prefix
        self.directory.mkdir(parents=True, exist_ok=True)

    def path_for(self, index: int) -> Path:
        """Where shard ``index`` lives."""
        if index < 0:
            raise ShardError(f"shard index must be >= 0, got {index}")
        return self.directory / f"{self.prefix}-{index:05d}.{self.format}"

    def write_shard(self, index: int, rows: list[dict[str, Any]]) -> Path | None:
        """Write ``rows`` as shard ``index`` (replacing it atomically); an empty list writes nothing."""
        path = self.path_for(index)
        if not rows:
            return None
        if self.format == "parquet":
            table = rows_to_table(rows)
            with atomic_write(path) as handle:
                _write_parquet(table, handle)
        else:
            with atomic_write(path) as handle:
                for number, row in enumerate(rows):
                    handle.write(dumps_record(row, row_number=number))
        return path

    def finalize(self) -> FinalizeReport:
        """Unify the Parquet shard schemas of this folder (see :func:`finalize`)."""
        return finalize(self.directory, prefix=self.prefix)


def _write_parquet(table: pa.Table, sink: Any) -> None:
    pq.write_table(table, sink, compression=_PARQUET_COMPRESSION)


@dataclass
class FinalizeReport:
    """What :func:`finalize` did: the folder's common schema (None without Parquet shards) and rewritten shards."""

    schema: pa.Schema | None
    rewritten: list[Path] = field(default_factory=list)


def _unified_schema(schemas: list[pa.Schema]) -> pa.Schema:
    names: dict[str, None] = {}
    for schema in schemas:
        for name in schema.names:
            names.setdefault(name, None)
    fields: list[pa.Field] = []
    for name in names:
        present = [s.field(name) for s in schemas if name in s.names]
        if name == LINEAGE_COLUMN or any(is_json_field(f) for f in present):
            fields.append(json_field(name))
            continue
        typed = [f.type for f in present if not pa.types.is_null(f.type)]
        if any(has_struct(t) for t in typed) and any(t != typed[0] for t in typed):
            fields.append(json_field(name))  # merging struct fields would add null keys to every dict
            continue
        try:
            merged = pa.unify_schemas([pa.schema([f]) for f in present], promote_options="permissive")
            fields.append(merged.field(name).remove_metadata())
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            fields.append(json_field(name))
    return pa.schema(fields)


def _same_schema(a: pa.Schema, b: pa.Schema) -> bool:
    if a.names != b.names:
        return False
    return all(fa.type == fb.type and is_json_field(fa) == is_json_field(fb) for fa, fb in zip(a, b, strict=True))


def _conform(table: pa.Table, target: pa.Schema) -> pa.Table:
    columns = []
    for target_field in target:
        name = target_field.name
        if name not in table.schema.names:
            columns.append(pa.nulls(table.num_rows, type=target_field.type))
            continue
        current = table.schema.field(name)
        column = table.column(name)
        if is_json_field(target_field) and not is_json_field(current):
            values = column.to_pylist()
            encoded = [encode_json_value(v, row_number=i, column=name) for i, v in enumerate(values)]
            columns.append(pa.array(encoded, type=pa.string()))
        elif current.type == target_field.type:
            columns.append(column)
        else:
            try:
                columns.append(column.cast(target_field.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                columns.append(pa.array(column.to_pylist(), type=target_field.type))
    return pa.Table.from_arrays(columns, schema=target)


def finalize(directory: str | os.PathLike[str], *, prefix: str = "part") -> FinalizeReport:
    """Give every Parquet shard in ``directory`` one common schema, rewriting (atomically) only those that differ.

    Columns missing from a shard are added as nulls, null-only columns take the type other shards have, numeric
    types are widened (int -> double); a column whose types cannot be merged (an int in one shard, a string in
    another) or whose nested dicts differ between shards (merging struct fields would add null keys) is stored as
    JSON strings in every shard. JSONL folders need nothing.
    """
    shards = [path for _, path in list_shards(directory, prefix=prefix) if path.suffix == ".parquet"]
    if not shards:
        return FinalizeReport(schema=None)
    schemas = [pq.read_schema(path) for path in shards]
    target = _unified_schema(schemas)
    report = FinalizeReport(schema=target)
    for path, schema in zip(shards, schemas, strict=True):
        if _same_schema(schema, target):
            continue
        table = _conform(pq.read_table(path), target)
        with atomic_write(path) as handle:
            _write_parquet(table, handle)
        report.rewritten.append(path)
    return report


def _iter_parquet_rows(path: Path) -> Iterator[dict[str, Any]]:
    parquet = pq.ParquetFile(path)
    try:
        for batch in parquet.iter_batches(batch_size=_READ_BATCH_ROWS):
            yield from table_to_rows(batch)
    finally:
        parquet.close()


def _iter_jsonl_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ShardError(f"{path}:{line_number}: corrupt shard line ({exc.msg})") from None
            yield decode_lineage(record)


def read_shards(directory: str | os.PathLike[str], *, prefix: str = "part") -> Iterator[dict[str, Any]]:
    """Every record of a shard folder in shard order, with ``_lineage`` (and JSON-string columns) decoded."""
    for _, path in list_shards(directory, prefix=prefix):
        if path.suffix == ".parquet":
            yield from _iter_parquet_rows(path)
        else:
            yield from _iter_jsonl_rows(path)


def remove_shards_not_in(
    directory: str | os.PathLike[str], keep: set[int], *, prefix: str = "part"
) -> list[Path]:
    """Delete shards whose index is not in ``keep`` (unfinished per the journal) and stray ``.tmp-*`` files."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    removed: list[Path] = []
    pattern = _shard_pattern(prefix)
    for entry in sorted(folder.iterdir()):
        match = pattern.match(entry.name)
        unfinished = match is not None and int(match.group(1)) not in keep
        if (unfinished or entry.name.startswith(TEMP_PREFIX)) and entry.is_file():
            entry.unlink()
            removed.append(entry)
    return removed


def export_jsonl(src_dir: str | os.PathLike[str], dst_path: str | os.PathLike[str], *, prefix: str = "part") -> int:
    """Write all records of a shard folder to one JSON Lines file (atomically); returns the number of rows.

    ``_lineage`` is written as a JSON list, not a string.
    """
    count = 0
    with atomic_write(dst_path) as handle:
        for record in read_shards(src_dir, prefix=prefix):
            handle.write(dumps_record(record, row_number=count))
            count += 1
    return count


class SpillWriter:
    """Append-only record file for global steps (dedup, selection) that must see every row without holding them.

    One JSON object per line. ``append=True`` continues an existing file, first cutting off a torn last line
    left by a crash. Use as a context manager or call :meth:`close`.
    """

    def __init__(self, path: str | os.PathLike[str], *, append: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if append and self.path.exists():
            _truncate_torn_tail(self.path)
        self._handle = self.path.open("ab" if append else "wb")
        self.records_written = 0

    def write(self, record: dict[str, Any]) -> None:
        """Append one record."""
        self._handle.write(dumps_record(record, row_number=self.records_written))
        self.records_written += 1

    def write_many(self, records: Iterable[dict[str, Any]]) -> None:
        """Append records in order."""
        for record in records:
            self.write(record)

    def flush(self, *, durable: bool = False) -> None:
        """Push buffered records to the OS; ``durable=True`` also fsyncs them to disk."""
        self._handle.flush()
        if durable:
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        """Flush and close the file."""
        if not self._handle.closed:
            self._handle.flush()
            self._handle.close()

    def __enter__(self) -> SpillWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _truncate_torn_tail(path: Path) -> None:
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb+") as handle:
        position = size
        chunk = 1 << 16
        while position > 0:
            start = max(0, position - chunk)
            handle.seek(start)
            data = handle.read(position - start)
            if start + len(data) == size and data.endswith(b"\n"):
                return
            newline = data.rfind(b"\n")
            if newline >= 0:
                handle.truncate(start + newline + 1)
                return
            position = start
        handle.truncate(0)


def iter_spill(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Read a spill file back in write order, one record at a time."""
    spill = Path(path)
    if not spill.exists():
        raise ShardError(f"no such spill file: {spill}")
    with spill.open("rb") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.endswith(b"\n"):
                raise ShardError(
                    f"{spill}:{line_number}: last record is cut off (the writer crashed or is still writing); "
                    f"reopen it with SpillWriter(path, append=True) to drop the torn record"
                )
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ShardError(f"{spill}:{line_number}: corrupt spill record ({exc.msg})") from None
