"""How records become bytes on disk and back: JSON Lines, JSON, CSV, and Arrow tables for Parquet.

In memory a record is a plain JSON-serialisable dict. On disk:

* JSON Lines hold records as they are (one ``orjson`` object per line).
* Parquet needs one schema per file and, after ``finalize``, one schema per folder. ``_lineage`` (a list of dicts
  whose keys vary with the step that made them) is therefore always stored as a JSON string, and so is any user
  column Arrow cannot type (mixed ``int``/``str`` values, empty objects, ...). Such columns carry the field
  metadata ``synthloom.encoding = json`` so readers decode them back to the original values.
"""

from __future__ import annotations

import bz2
import csv
import datetime
import gzip
import io
import lzma
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv

LINEAGE_COLUMN = "_lineage"
ENCODING_KEY = b"synthloom.encoding"
JSON_ENCODING = b"json"

_ARROW_INFERENCE_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)


class RecordEncodeError(ValueError):
    """A record holds a value that cannot be written (not JSON-serialisable), named by row and column."""


def dumps_record(record: dict[str, Any], *, row_number: int | None = None) -> bytes:
    """Serialise one record as a JSON line (with trailing newline); the error names the offending column."""
    try:
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS)
    except TypeError as exc:
        raise _encode_error(record, row_number, exc) from None


def _encode_error(record: dict[str, Any], row_number: int | None, exc: Exception) -> RecordEncodeError:
    where = f"row {row_number}" if row_number is not None else "record"
    for key, value in record.items():
        try:
            orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
        except TypeError as column_exc:
            return RecordEncodeError(
                f"{where}, column {key!r}: value of type {type(value).__name__} cannot be written "
                f"({column_exc}); records must hold only JSON values (str, int, float, bool, None, list, dict)"
            )
    return RecordEncodeError(f"{where}: cannot be written as JSON ({exc})")


def encode_json_value(value: Any, *, row_number: int | None = None, column: str = "") -> str | None:
    """JSON-encode one cell for a JSON-string column; None stays None so nulls stay nulls."""
    if value is None:
        return None
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError as exc:
        raise _encode_error({column: value}, row_number, exc) from None


def decode_lineage(record: dict[str, Any]) -> dict[str, Any]:
    """Turn a ``_lineage`` JSON string (as stored on disk) back into its list, in place; returns the record."""
    lineage = record.get(LINEAGE_COLUMN)
    if isinstance(lineage, str):
        record[LINEAGE_COLUMN] = orjson.loads(lineage)
    return record


def json_field(name: str) -> pa.Field:
    """A string field marked as holding JSON-encoded values."""
    return pa.field(name, pa.string(), metadata={ENCODING_KEY: JSON_ENCODING})


def is_json_field(field: pa.Field) -> bool:
    """Whether a field holds JSON-encoded values that readers must decode."""
    return bool(field.metadata) and field.metadata.get(ENCODING_KEY) == JSON_ENCODING


def _parquet_writable(data_type: pa.DataType) -> bool:
    if pa.types.is_struct(data_type):
        if data_type.num_fields == 0:
            return False
        return all(_parquet_writable(data_type.field(i).type) for i in range(data_type.num_fields))
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        return _parquet_writable(data_type.value_type)
    return True


def has_struct(data_type: pa.DataType) -> bool:
    """Whether ``data_type`` is a struct or a (nested) list of structs."""
    if pa.types.is_struct(data_type):
        return True
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        return has_struct(data_type.value_type)
    return False


def _exactly_equal(a: Any, b: Any) -> bool:
    """Equality that also tells 3 from 3.0 and a missing key from a null one (what a struct column loses)."""
    if type(a) is not type(b):
        return isinstance(a, list) and isinstance(b, tuple) and _exactly_equal(a, list(b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_exactly_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(_exactly_equal(x, y) for x, y in zip(a, b))
    return a == b or (a != a and b != b)  # NaN equals NaN here


def _column_order(rows: list[dict[str, Any]]) -> list[str]:
    order: dict[str, None] = {}
    for row in rows:
        for key in row:
            if key not in order:
                order[key] = None
    return list(order)


def rows_to_table(rows: list[dict[str, Any]], *, json_columns: Iterable[str] = ()) -> pa.Table:
    """Build an Arrow table from records, with every key of every row as a column (missing values become null).

    ``_lineage`` and the columns named in ``json_columns`` are stored as JSON strings; so is any column whose
    values Arrow cannot give a single Parquet-writable type, and any column of nested dicts that a struct type
    would not give back exactly (dicts with different keys gain null keys; 3 next to 2.5 becomes 3.0).
    Raises :class:`RecordEncodeError` for values that are not JSON-serialisable.
    """
    forced = {LINEAGE_COLUMN, *json_columns}
    fields: list[pa.Field] = []
    arrays: list[pa.Array] = []
    for name in _column_order(rows):
        values = [row.get(name) for row in rows]
        array = None
        if name not in forced:
            try:
                array = pa.array(values)
            except _ARROW_INFERENCE_ERRORS:
                array = None
            if array is not None and not _parquet_writable(array.type):
                array = None
            if array is not None and has_struct(array.type) and not _exactly_equal(array.to_pylist(), values):
                array = None  # dicts with differing keys (tool arguments, messages): a struct would add null keys
        if array is None:
            encoded = [encode_json_value(v, row_number=i, column=name) for i, v in enumerate(values)]
            array = pa.array(encoded, type=pa.string())
            fields.append(json_field(name))
        else:
            fields.append(pa.field(name, array.type))
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def table_to_rows(table: pa.Table | pa.RecordBatch) -> list[dict[str, Any]]:
    """Records from an Arrow table or batch, decoding JSON-string columns and ``_lineage``."""
    rows = table.to_pylist()
    json_names = [f.name for f in table.schema if is_json_field(f)]
    if json_names:
        for row in rows:
            for name in json_names:
                value = row.get(name)
                if isinstance(value, str):
                    row[name] = orjson.loads(value)
    if LINEAGE_COLUMN in table.schema.names and LINEAGE_COLUMN not in json_names:
        for row in rows:
            decode_lineage(row)
    return rows


# --- reading JSON Lines, JSON and CSV ----------------------------------------------------------------------


class SourceError(ValueError):
    """An input file cannot be read as records; the message names the file (and line or column) and the fix."""


_COMPRESSED: dict[str, Callable[[Path], IO[bytes]]] = {
    ".gz": lambda p: gzip.open(p, "rb"),
    ".bz2": lambda p: bz2.open(p, "rb"),
    ".xz": lambda p: lzma.open(p, "rb"),
}
COMPRESSION_SUFFIXES = tuple(_COMPRESSED)
_BOM = b"\xef\xbb\xbf"


def open_binary(path: Path) -> IO[bytes]:
    """Open a file for reading bytes, decompressing ``.gz``, ``.bz2`` and ``.xz``."""
    opener = _COMPRESSED.get(path.suffix.lower())
    return opener(path) if opener else path.open("rb")


def _json_kind(value: Any) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def jsonl_records(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a JSON Lines file, one line at a time; blank lines are skipped."""
    with open_binary(path) as handle:
        for line_number, line in enumerate(handle, start=1):
            if line_number == 1 and line.startswith(_BOM):
                line = line[len(_BOM):]
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise SourceError(
                    f"{path}:{line_number}: not valid JSON ({exc.msg} at column {exc.colno})"
                ) from None
            if not isinstance(record, dict):
                raise SourceError(
                    f"{path}:{line_number}: expected a JSON object per line, got {_json_kind(record)}; "
                    f'write each record as {{"column": value, ...}}'
                )
            yield decode_lineage(record)


def json_records(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a ``.json`` file: an array of objects, or an object holding exactly one such array.

    The document is parsed whole (JSON arrays cannot be streamed); a file that is really JSON Lines is read as such.
    """
    with open_binary(path) as handle:
        data = handle.read()
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if exc.msg.startswith("unexpected content after document"):
            yield from jsonl_records(path)
            return
        if not data.strip():
            return
        raise SourceError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if isinstance(document, dict):
        lists = [k for k, v in document.items() if isinstance(v, list) and v and isinstance(v[0], dict)]
        if len(lists) != 1:
            keys = ", ".join(map(repr, document)) or "(none)"
            raise SourceError(
                f"{path}: expected a JSON array of objects (or an object holding one list of records); "
                f"the top-level object has keys {keys}"
            )
        document = document[lists[0]]
    if not isinstance(document, list):
        raise SourceError(f"{path}: expected a JSON array of objects, got {_json_kind(document)}")
    for position, item in enumerate(document):
        if not isinstance(item, dict):
            raise SourceError(f"{path}: item {position} of the array is {_json_kind(item)}, expected an object")
        yield decode_lineage(item)


def _jsonable_value(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


def jsonable_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Turn columns whose Python values are not JSON into JSON ones: dates, times and timestamps become ISO 8601
    strings, durations seconds, decimals strings (exact)."""
    columns = []
    changed = False
    for column in batch.columns:
        kind = column.type
        if pa.types.is_temporal(kind) or pa.types.is_decimal(kind):
            values = [_jsonable_value(v) for v in column.to_pylist()]
            column = pa.array(values, type=pa.float64() if pa.types.is_duration(kind) else pa.string())
            changed = True
        columns.append(column)
    if not changed:
        return batch
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


_CSV_BLOCK_BYTES = 1 << 20


def _csv_parse_options(path: Path) -> pacsv.ParseOptions:
    name = path.name.lower()
    for suffix in COMPRESSION_SUFFIXES:
        name = name.removesuffix(suffix)
    delimiter = "\t" if name.endswith(".tsv") else ","
    return pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)


def _csv_line_error(path: Path) -> SourceError | None:
    """Find the first row whose field count differs from the header's, with its line number."""
    delimiter = _csv_parse_options(path).delimiter
    with open_binary(path) as raw, io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="") as text:
        reader = csv.reader(text, delimiter=delimiter)
        header = next(reader, [])
        for row in reader:
            if row and len(row) != len(header):
                return SourceError(
                    f"{path}:{reader.line_num}: expected {len(header)} columns like the header, found {len(row)}"
                )
    return None


def _csv_error(path: Path, exc: Exception) -> SourceError:
    message = str(exc)
    if "Empty CSV file" in message:
        return SourceError(f"{path}: file is empty")
    if "CSV parse error" in message:
        located = _csv_line_error(path)
        if located is not None:
            return located
    return SourceError(f"{path}: cannot read as CSV ({message})")


def _open_csv(
    path: Path, types: dict[str, pa.DataType], columns: list[str] | None = None
) -> pacsv.CSVStreamingReader:
    try:
        return pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=_CSV_BLOCK_BYTES),
            parse_options=_csv_parse_options(path),
            convert_options=pacsv.ConvertOptions(column_types=types, include_columns=columns or []),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise _csv_error(path, exc) from None


def csv_header(path: Path) -> list[str]:
    """Column names of a CSV/TSV file."""
    reader = _open_csv(path, {})
    names = reader.schema.names
    reader.close()
    return names


def _csv_column_types(path: Path) -> dict[str, pa.DataType]:
    """Types to force so the whole file converts: Arrow infers types from the first block only, so a later value
    that breaks the inferred type (``"n/a"`` in a number column) makes that column a string column."""
    reader = _open_csv(path, {})
    names = reader.schema.names
    forced = {f.name: pa.string() for f in reader.schema if pa.types.is_temporal(f.type)}
    reader.close()
    single_block = path.suffix.lower() not in COMPRESSION_SUFFIXES and path.stat().st_size <= _CSV_BLOCK_BYTES
    if single_block:
        return forced
    for _ in range(len(names) + 1):
        reader = _open_csv(path, forced)
        try:
            for _batch in reader:
                pass
            return forced
        except pa.ArrowInvalid as exc:
            match = re.search(r"In CSV column #(\d+)", str(exc))
            if match is None:
                raise _csv_error(path, exc) from None
            forced[names[int(match.group(1))]] = pa.string()
        finally:
            reader.close()
    return forced


def csv_batches(path: Path, columns: list[str] | None, size: int) -> Iterator[list[dict[str, Any]]]:
    """Records of a CSV/TSV file in batches of at most ``size``, streaming one 1 MiB block at a time."""
    reader = _open_csv(path, _csv_column_types(path), columns)
    decode = LINEAGE_COLUMN in reader.schema.names
    try:
        for batch in reader:
            rows = batch.to_pylist()
            if decode:
                rows = [decode_lineage(row) for row in rows]
            for start in range(0, len(rows), size):
                yield rows[start:start + size]
    except pa.ArrowInvalid as exc:
        raise _csv_error(path, exc) from None
    finally:
        reader.close()


def csv_count_rows(path: Path) -> int:
    """Number of data rows of a CSV/TSV file (parses only its first column)."""
    first = csv_header(path)[:1]
    reader = _open_csv(path, {name: pa.string() for name in first}, first)
    try:
        return sum(batch.num_rows for batch in reader)
    except pa.ArrowInvalid as exc:
        raise _csv_error(path, exc) from None
    finally:
        reader.close()
