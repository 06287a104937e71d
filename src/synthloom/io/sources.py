"""Read seed and input records from files, folders and Hugging Face datasets, in bounded-memory batches.

Supported inputs (see :func:`detect_format`): ``.jsonl``/``.ndjson`` (optionally ``.gz``/``.bz2``/``.xz``),
``.json`` (an array of objects), ``.parquet``, ``.csv``/``.tsv``, folders of any one of those (a run's
``OUT/data`` included), folders written by ``datasets.Dataset.save_to_disk``, and ``hf:BUILDER:DATA_FILES``
(``datasets.load_dataset(BUILDER, data_files=DATA_FILES)``, e.g. ``hf:json:/data/*.jsonl``) or ``hf:NAME``.
"""

from __future__ import annotations

import difflib
import glob
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from synthloom.io.formats import (
    COMPRESSION_SUFFIXES,
    SourceError,
    csv_batches,
    csv_count_rows,
    csv_header,
    decode_lineage,
    json_records,
    jsonable_batch,
    jsonl_records,
    open_binary,
    table_to_rows,
)

__all__ = ["SourceError", "count_records", "detect_format", "read_records"]

Record = dict[str, Any]
_EXTENSIONS = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".jsonlines": "jsonl", ".json": "json",
    ".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv",
}
_HF_DISK_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")
_HELP = (
    "expected .jsonl, .json, .parquet, .csv or .tsv, a folder of those, a datasets.save_to_disk folder, "
    "or hf:BUILDER:DATA_FILES (e.g. hf:json:/data/*.jsonl)"
)


def _file_format(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    return _EXTENSIONS.get(suffixes[-1]) if suffixes else None


def _sniff(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith(b"PAR1"):
        return "parquet"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise SourceError(f"{path}: file is empty")
    if stripped[:1] == b"{":
        return "jsonl"
    if stripped[:1] == b"[":
        return "json"
    raise SourceError(f"{path}: cannot tell the format from the name or content; {_HELP}")


def _data_files(folder: Path) -> list[Path]:
    def visible(p: Path) -> bool:
        return p.is_file() and not p.name.startswith((".", "_")) and _file_format(p) is not None

    files = [p for p in folder.iterdir() if visible(p)]
    if not files:
        files = [p for p in folder.rglob("*") if visible(p) and not any(
            part.startswith(".") for part in p.relative_to(folder).parts)]
    return sorted(files, key=_natural_key)


def _natural_key(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format name of a source: jsonl, json, parquet, csv, hf_disk, hf_files, or ``<format>_dir`` for folders.

    Raises :class:`SourceError` when the path is missing or its format cannot be told.
    """
    text = os.fspath(path)
    if text.startswith("hf:"):
        return "hf_files"
    location = Path(text)
    if not location.exists():
        raise SourceError(f"no such file: {location}")
    if location.is_dir():
        if any((location / marker).exists() for marker in _HF_DISK_MARKERS):
            return "hf_disk"
        formats = {_file_format(p) for p in _data_files(location)}
        if not formats:
            raise SourceError(f"{location}: folder holds no data files; {_HELP}")
        if len(formats) > 1:
            raise SourceError(
                f"{location}: folder mixes formats ({', '.join(sorted(str(f) for f in formats))}); "
                f"point at one file or a folder of one format"
            )
        return f"{formats.pop()}_dir"
    return _file_format(location) or _sniff(location)


def unknown_columns_error(where: str, requested: list[str], available: list[str]) -> SourceError | None:
    """A SourceError naming missing columns, the available ones and the closest match; None if all exist."""
    missing = [c for c in requested if c not in available]
    if not missing:
        return None
    hints = []
    for name in missing:
        close = difflib.get_close_matches(name, available, n=1)
        hints.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
    return SourceError(
        f"{where}: no column {', '.join(hints)}; available columns: {', '.join(available) or '(none)'}"
    )


# --- Parquet -----------------------------------------------------------------------------------------------


def _open_parquet(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{path}: not a readable Parquet file ({exc})") from None


def _parquet_batches(path: Path, columns: list[str] | None, size: int) -> Iterator[list[Record]]:
    parquet = _open_parquet(path)
    try:
        present = columns
        if columns is not None:
            names = parquet.schema_arrow.names
            present = [c for c in columns if c in names]
        for batch in parquet.iter_batches(batch_size=size, columns=present):
            rows = table_to_rows(jsonable_batch(batch))
            if columns is not None and present != columns:
                rows = [{c: row.get(c) for c in columns} for row in rows]
            yield rows
    finally:
        parquet.close()


# --- Hugging Face datasets ---------------------------------------------------------------------------------


def _import_datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise SourceError(
            "reading Hugging Face datasets needs the 'datasets' package: pip install 'synthloom[hf]'"
        ) from None
    return datasets


def _load_hf_disk(path: Path) -> Any:
    datasets = _import_datasets()
    dataset = datasets.load_from_disk(str(path))
    if isinstance(dataset, datasets.DatasetDict):
        splits = list(dataset)
        if len(splits) != 1:
            options = ", ".join(str(path / split) for split in splits)
            raise SourceError(f"{path}: holds several splits ({', '.join(splits)}); point at one of {options}")
        dataset = dataset[splits[0]]
    return dataset


def _hf_disk_batches(dataset: Any, columns: list[str] | None, size: int) -> Iterator[list[Record]]:
    if columns is not None:
        dataset = dataset.select_columns(columns)
    for table in dataset.with_format("arrow").iter(batch_size=size):
        for batch in table.to_batches():
            yield table_to_rows(jsonable_batch(batch))


def _parse_hf_spec(spec: str) -> tuple[str, str | None]:
    body = spec[len("hf:"):]
    builder, _, data_files = body.partition(":")
    if not builder:
        raise SourceError(f"{spec}: expected hf:BUILDER:DATA_FILES (e.g. hf:json:/data/*.jsonl) or hf:NAME")
    if data_files and not re.match(r"^[a-z]+://", data_files) and not glob.glob(data_files, recursive=True):
        raise SourceError(f"{spec}: no files match {data_files}")
    return builder, data_files or None


def _hf_files_records(spec: str) -> Iterator[Record]:
    datasets = _import_datasets()
    builder, data_files = _parse_hf_spec(spec)
    return _hf_stream(spec, datasets, builder, data_files)


def _hf_stream(spec: str, datasets: Any, builder: str, data_files: str | None) -> Iterator[Record]:
    try:
        kwargs = {"data_files": data_files} if data_files else {}
        dataset = datasets.load_dataset(builder, split="train", streaming=True, **kwargs)
        for batch in dataset.iter(batch_size=1024):
            names = list(batch)
            count = len(batch[names[0]]) if names else 0
            for i in range(count):
                yield decode_lineage({name: batch[name][i] for name in names})
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(f"{spec}: datasets.load_dataset failed ({type(exc).__name__}: {exc})") from exc


# --- dispatch ----------------------------------------------------------------------------------------------

_RECORD_READERS: dict[str, Callable[[Path], Iterator[Record]]] = {
    "jsonl": jsonl_records,
    "json": json_records,
}


def _known_columns(fmt: str, files: list[Path]) -> list[str] | None:
    """Columns known before reading any row (schema formats); None for JSON where rows decide."""
    if fmt == "parquet":
        names: dict[str, None] = {}
        for file in files:
            parquet = _open_parquet(file)
            names.update(dict.fromkeys(parquet.schema_arrow.names))
            parquet.close()
        return list(names)
    if fmt == "csv":
        names = {}
        for file in files:
            names.update(dict.fromkeys(csv_header(file)))
        return list(names)
    return None


def _file_batches(fmt: str, file: Path, columns: list[str] | None, size: int) -> Iterator[list[Record]]:
    if fmt == "parquet":
        return _parquet_batches(file, columns, size)
    if fmt == "csv":
        return csv_batches(file, columns, size)
    return _batched(_RECORD_READERS[fmt](file), size)


def _batched(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _rebatch(batches: Iterator[list[Record]], size: int, limit: int | None) -> Iterator[list[Record]]:
    pending: list[Record] = []
    emitted = 0
    try:
        if limit == 0:
            return
        for batch in batches:
            if limit is not None:
                batch = batch[: limit - emitted - len(pending)]
            pending.extend(batch)
            while len(pending) >= size:
                yield pending[:size]
                emitted += size
                pending = pending[size:]
            if limit is not None and emitted + len(pending) >= limit:
                break
        if pending:
            yield pending
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()


def _project(
    batches: Iterator[list[Record]], columns: list[str], where: str
) -> Iterator[list[Record]]:
    checked = False
    for batch in batches:
        if not checked:
            seen: dict[str, None] = {}
            for record in batch:
                seen.update(dict.fromkeys(record))
            error = unknown_columns_error(where, columns, list(seen))
            if error is not None:
                raise error
            checked = True
        yield [{c: record.get(c) for c in columns} for record in batch]


def _non_empty(batches: Iterator[list[Record]], where: str, what: str) -> Iterator[list[Record]]:
    seen_any = False
    for batch in batches:
        seen_any = seen_any or bool(batch)
        yield batch
    if not seen_any:
        raise SourceError(f"{where}: no records ({what} is empty)")


def read_records(
    path: str | os.PathLike[str],
    *,
    columns: list[str] | None = None,
    limit: int | None = None,
    batch_size: int = 1024,
) -> Iterator[list[dict[str, Any]]]:
    """Stream the records of a source as lists of at most ``batch_size`` dicts, holding one batch at a time.

    ``columns`` keeps only those columns (each must exist; the error names the available ones), ``limit`` stops
    after that many records. The format is detected (and a missing path reported) when this is called; reading
    happens as the iterator is consumed. ``_lineage`` stored as JSON text is decoded back into a list.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0 or None, got {limit}")
    fmt = detect_format(path)
    wanted = list(dict.fromkeys(columns)) if columns is not None else None
    if fmt == "hf_files":
        spec = os.fspath(path)
        batches = _batched(_hf_files_records(spec), batch_size)
        if wanted is not None:
            batches = _project(batches, wanted, spec)
        return _rebatch(_non_empty(batches, spec, "the dataset"), batch_size, limit)
    location = Path(path)
    base = fmt.removesuffix("_dir")
    files = _data_files(location) if fmt.endswith("_dir") else [location]
    dataset = _load_hf_disk(location) if base == "hf_disk" else None
    known = list(dataset.column_names) if dataset is not None else _known_columns(base, files)
    if wanted is not None and known is not None:
        error = unknown_columns_error(str(location), wanted, known)
        if error is not None:
            raise error
    if dataset is not None:
        batches = _hf_disk_batches(dataset, wanted, batch_size)
    else:
        batches = _chain(base, files, wanted if known is not None else None, batch_size)
        if wanted is not None and known is None:
            batches = _project(batches, wanted, str(location))
    what = "every file of the folder" if fmt.endswith("_dir") else "the file"
    return _rebatch(_non_empty(batches, str(location), what), batch_size, limit)


def _chain(fmt: str, files: list[Path], columns: list[str] | None, size: int) -> Iterator[list[Record]]:
    for file in files:
        yield from _file_batches(fmt, file, columns, size)


def count_records(path: str | os.PathLike[str]) -> int | None:
    """The number of records in a source when it can be known without parsing every record, else None.

    Parquet and ``save_to_disk`` folders answer from metadata; JSON Lines and CSV are scanned (fast, no JSON
    parsing for JSONL: non-blank lines are counted); JSON arrays and ``hf:`` sources give None.
    """
    fmt = detect_format(path)
    if fmt in ("hf_files", "json", "json_dir"):
        return None
    location = Path(path)
    if fmt == "hf_disk":
        return int(_load_hf_disk(location).num_rows)
    base = fmt.removesuffix("_dir")
    files = _data_files(location) if fmt.endswith("_dir") else [location]
    total = 0
    for file in files:
        if base == "parquet":
            parquet = _open_parquet(file)
            total += parquet.metadata.num_rows
            parquet.close()
        elif base == "csv":
            total += csv_count_rows(file)
        else:
            with open_binary(file) as handle:
                total += sum(1 for line in handle if line.strip())
    return total
