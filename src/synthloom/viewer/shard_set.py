"""The shard files of one table of a run, read in chunks with only the columns a query needs.

A table is one or more folders (``data/``, every ``rejected/<segment>/``) or a single file. Its
**chunks** are the units every query works on: a Parquet row group (a synthloom shard has one) or a
whole JSON Lines shard. Footers are read once per file version (path, size, mtime) and kept in a small
process-wide cache, so listing a million-row run costs a directory scan; shards that appear while a run
is writing are picked up on the next listing, and ``.tmp-*`` files are never read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from ..io.formats import rows_to_table
from ..io.shards import ShardError, list_shards

SHARD_SUFFIXES = (".parquet", ".jsonl")


@dataclass(frozen=True)
class Chunk:
    """One readable unit of a table: row group ``group`` of a Parquet file (-1: a whole JSON Lines file)."""

    path: Path
    group: int
    rows: int
    version: tuple[int, int]  # the file's (size, mtime_ns): a rewritten shard is a new chunk

    @property
    def key(self) -> tuple[str, int, int, int]:
        return (str(self.path), self.group, *self.version)


@dataclass(frozen=True)
class _FileInfo:
    schema: pa.Schema
    groups: tuple[int, ...]  # rows per row group
    nulls: dict[str, int]  # nulls per top-level column, where the file's statistics say
    dictionary: frozenset[str] = frozenset()  # text columns with few distinct values: read as dictionaries


class _FooterCache:
    """Schemas and row-group sizes of files already seen, by (path, size, mtime_ns); bounded LRU."""

    def __init__(self, limit: int = 50_000):
        self.limit = limit
        self._items: OrderedDict[tuple[str, int, int], _FileInfo] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path, version: tuple[int, int]) -> _FileInfo:
        key = (str(path), *version)
        with self._lock:
            info = self._items.get(key)
            if info is not None:
                self._items.move_to_end(key)
                return info
        info = _read_info(path)
        with self._lock:
            self._items[key] = info
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
        return info


def _read_info(path: Path) -> _FileInfo:
    if path.suffix == ".jsonl":
        table = read_jsonl(path)
        return _FileInfo(table.schema, (table.num_rows,), {c: table.column(c).null_count for c in table.column_names})
    try:
        meta = pq.read_metadata(path)
    except (OSError, pa.ArrowInvalid) as e:
        raise ShardError(f"{path}: cannot read this Parquet shard ({e}); is it a synthloom shard?") from None
    schema = meta.schema.to_arrow_schema()
    nulls: dict[str, int] = {}
    small_dictionary = {f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)}
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            column = group.column(c)
            name = column.path_in_schema
            if "." not in name and column.is_stats_set and column.statistics.has_null_count:
                nulls[name] = nulls.get(name, 0) + column.statistics.null_count
            # dictionary-encoded data pages of at most ~8 bits a row (bit-packed indices barely compress):
            # at most a few hundred distinct values (categories, models, reasons), which decode faster
            # as a dictionary than as one string per row
            if not column.has_dictionary_page:
                small_dictionary.discard(name)
                continue
            data_bytes = column.total_compressed_size - (column.data_page_offset - column.dictionary_page_offset)
            if data_bytes > group.num_rows:
                small_dictionary.discard(name)
    groups = tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups))
    return _FileInfo(schema, groups, nulls, frozenset(small_dictionary))


FOOTERS = _FooterCache()


def read_jsonl(path: Path) -> pa.Table:
    """A JSON Lines shard as an Arrow table typed the way a Parquet shard would be."""
    rows = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    rows.append(orjson.loads(line))
                except orjson.JSONDecodeError as e:
                    raise ShardError(f"{path}:{number}: not a JSON line ({e.msg})") from None
    return rows_to_table(rows) if rows else pa.table({})


def shard_files(folder: Path) -> list[Path]:
    """The finished shards of ``folder`` (``part-NNNNN.parquet|jsonl``); a folder of other data files
    gives every ``*.parquet`` / ``*.jsonl`` in it that is not hidden."""
    found = [path for _, path in list_shards(folder)]
    if found or not folder.is_dir():
        return found
    return sorted(p for p in folder.iterdir() if p.suffix in SHARD_SUFFIXES and not p.name.startswith(".") and p.is_file())


class ShardSet:
    """The shards of one table: ``folders`` (read in order) and/or single ``files``."""

    def __init__(self, folders: Iterable[Path] = (), files: Iterable[Path] = ()):
        self.folders = list(folders)
        self.files = list(files)

    def paths(self) -> list[Path]:
        """Every shard file now, in table order."""
        out = [path for folder in self.folders for path in shard_files(folder)]
        return out + [f for f in self.files if f.is_file()]

    def chunks(self) -> list[Chunk]:
        """Every chunk now, in table order (a file that vanished between listing and reading is skipped)."""
        chunks: list[Chunk] = []
        for path in self.paths():
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            version = (st.st_size, st.st_mtime_ns)
            info = FOOTERS.get(path, version)
            if path.suffix == ".jsonl":
                chunks.append(Chunk(path, -1, info.groups[0], version))
            else:
                chunks.extend(Chunk(path, g, n, version) for g, n in enumerate(info.groups) if n)
        return chunks

    def schema_of(self, chunk: Chunk) -> pa.Schema:
        return FOOTERS.get(chunk.path, chunk.version).schema

    def null_counts(self, chunks: list[Chunk]) -> dict[str, int | None]:
        """Nulls per column over the table's files (None where a file's statistics do not say); a
        column a file lacks counts as null for all its rows."""
        out: dict[str, int | None] = {}
        files = {str(c.path): c for c in chunks}
        names = list(self.columns(chunks))
        for chunk in files.values():
            info = FOOTERS.get(chunk.path, chunk.version)
            rows = sum(info.groups)
            for name in names:
                here = info.nulls.get(name) if name in info.schema.names else rows
                out[name] = None if here is None or out.get(name, 0) is None else out.get(name, 0) + here
        return out

    def columns(self, chunks: list[Chunk] | None = None) -> dict[str, pa.Field]:
        """Every column of the table (the union over its files, in first-seen order), its first typed field."""
        fields: dict[str, pa.Field] = {}
        seen: set[str] = set()
        for chunk in chunks if chunks is not None else self.chunks():
            if str(chunk.path) in seen:
                continue
            seen.add(str(chunk.path))
            for field in self.schema_of(chunk):
                if field.name not in fields or pa.types.is_null(fields[field.name].type):
                    fields[field.name] = field
        return fields


def read_chunk(chunk: Chunk, columns: Iterable[str] | None) -> pa.Table:
    """The rows of ``chunk`` with ``columns`` (those it has; None: all), field metadata kept; text
    columns with few distinct values come as dictionary arrays."""
    info = FOOTERS.get(chunk.path, chunk.version)
    wanted = None if columns is None else [c for c in dict.fromkeys(columns) if c in info.schema.names]
    if chunk.group < 0:
        table = read_jsonl(chunk.path)
        return table if wanted is None else table.select(wanted)
    if wanted is not None and not wanted:
        return pa.table({"rows": pa.nulls(chunk.rows)}).select([])
    as_dictionary = [c for c in (wanted if wanted is not None else info.schema.names) if c in info.dictionary]
    # pre-buffering (coalesced reads on an I/O thread pool) is for remote storage; on local files it costs CPU
    parquet = pq.ParquetFile(chunk.path, read_dictionary=as_dictionary or None, pre_buffer=False)
    try:
        return parquet.read_row_group(chunk.group, columns=wanted, use_threads=False)
    finally:
        parquet.close()
