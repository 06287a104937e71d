import bz2
import csv
import gzip
import json
import sys
import tracemalloc
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthloom.io.shards import ShardWriter
from synthloom.io.sources import SourceError, count_records, detect_format, read_records

RECORDS = [
    {"id": "r0", "prompt": "Write a haiku", "n": 1, "score": 0.5, "ok": True, "tags": ["a", "b"]},
    {"id": "r1", "prompt": "Explain TCP", "n": 2, "score": 1.5, "ok": False, "tags": []},
    {"id": "r2", "prompt": 'Quote "this"', "n": 3, "score": None, "ok": True, "tags": ["c"]},
]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def read_all(path, **kwargs) -> list[dict]:
    return [row for batch in read_records(path, **kwargs) for row in batch]


# --- detection -------------------------------------------------------------------------------------------


def test_detect_format_by_extension_and_content(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", RECORDS)
    write_jsonl(tmp_path / "a.ndjson", RECORDS)
    (tmp_path / "a.json").write_text(json.dumps(RECORDS))
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "a.tsv").write_text("x\n1\n")
    pq.write_table(pa.table({"x": [1]}), tmp_path / "a.parquet")
    write_jsonl(tmp_path / "noext", RECORDS)
    pq.write_table(pa.table({"x": [1]}), tmp_path / "data.bin")
    with gzip.open(tmp_path / "a.jsonl.gz", "wb") as handle:
        handle.write(b'{"x": 1}\n')
    expected = {
        "a.jsonl": "jsonl", "a.ndjson": "jsonl", "a.json": "json", "a.csv": "csv", "a.tsv": "csv",
        "a.parquet": "parquet", "noext": "jsonl", "data.bin": "parquet", "a.jsonl.gz": "jsonl",
    }
    assert {name: detect_format(tmp_path / name) for name in expected} == expected
    assert detect_format("hf:json:/anything/*.jsonl") == "hf_files"


def test_detect_format_folders(tmp_path: Path) -> None:
    ShardWriter(tmp_path / "pq").write_shard(0, RECORDS)
    ShardWriter(tmp_path / "jl", format="jsonl").write_shard(0, RECORDS)
    nested = tmp_path / "hub" / "data"
    nested.mkdir(parents=True)
    (tmp_path / "hub" / "README.md").write_text("# card")
    write_jsonl(nested / "train-0.jsonl", RECORDS)
    assert detect_format(tmp_path / "pq") == "parquet_dir"
    assert detect_format(tmp_path / "jl") == "jsonl_dir"
    assert detect_format(tmp_path / "hub") == "jsonl_dir"


def test_detect_format_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"no such file: .*missing\.jsonl"):
        detect_format(tmp_path / "missing.jsonl")
    (tmp_path / "notes.txt").write_text("hello world")
    with pytest.raises(SourceError, match=r"notes\.txt: cannot tell the format"):
        detect_format(tmp_path / "notes.txt")
    (tmp_path / "blank.txt").write_text("  \n")
    with pytest.raises(SourceError, match=r"blank\.txt: file is empty"):
        detect_format(tmp_path / "blank.txt")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    write_jsonl(mixed / "a.jsonl", RECORDS)
    (mixed / "b.csv").write_text("x\n1\n")
    with pytest.raises(SourceError, match=r"mixed: folder mixes formats \(csv, jsonl\)"):
        detect_format(mixed)
    empty = tmp_path / "nothing"
    empty.mkdir()
    with pytest.raises(SourceError, match=r"nothing: folder holds no data files"):
        detect_format(empty)


# --- round trips -----------------------------------------------------------------------------------------


def test_jsonl_round_trip_plain_and_compressed(tmp_path: Path) -> None:
    plain = write_jsonl(tmp_path / "p.jsonl", RECORDS)
    gz = tmp_path / "p.jsonl.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    bz = tmp_path / "p.jsonl.bz2"
    bz.write_bytes(bz2.compress(b"\xef\xbb\xbf" + plain.read_bytes().replace(b"\n", b"\r\n\n")))
    for path in (plain, gz, bz):
        assert read_all(path) == RECORDS
        assert count_records(path) == len(RECORDS)


def test_json_array_object_and_misnamed_jsonl(tmp_path: Path) -> None:
    (tmp_path / "array.json").write_text(json.dumps(RECORDS, indent=2))
    (tmp_path / "wrapped.json").write_text(json.dumps({"version": 1, "data": RECORDS}))
    write_jsonl(tmp_path / "lines.json", RECORDS)
    for name in ("array.json", "wrapped.json", "lines.json"):
        assert read_all(tmp_path / name) == RECORDS
    assert count_records(tmp_path / "array.json") is None


def test_parquet_round_trip_with_columns_and_non_json_types(tmp_path: Path) -> None:
    table = pa.table({
        "id": ["a", "b"],
        "when": pa.array([0, 86_400], type=pa.timestamp("s")),
        "price": pa.array([1, 2], type=pa.decimal128(5, 2)),
    })
    pq.write_table(table, tmp_path / "t.parquet")
    rows = read_all(tmp_path / "t.parquet")
    assert rows == [
        {"id": "a", "when": "1970-01-01T00:00:00", "price": "1.00"},
        {"id": "b", "when": "1970-01-02T00:00:00", "price": "2.00"},
    ]
    orjson.dumps(rows)
    assert read_all(tmp_path / "t.parquet", columns=["price", "id"]) == [
        {"price": "1.00", "id": "a"}, {"price": "2.00", "id": "b"},
    ]
    assert count_records(tmp_path / "t.parquet") == 2


def test_csv_and_tsv_round_trip_with_types_and_quoted_newlines(tmp_path: Path) -> None:
    with (tmp_path / "t.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "n", "score", "ok", "day"])
        writer.writerow(["a", "line one\nline two", 1, 0.5, "true", "2024-01-31"])
        writer.writerow(["b", 'say "hi", ok', 2, "", "false", "2024-02-01"])
    (tmp_path / "t.tsv").write_text("id\ttext\na\thello, world\n")
    assert read_all(tmp_path / "t.csv") == [
        {"id": "a", "text": "line one\nline two", "n": 1, "score": 0.5, "ok": True, "day": "2024-01-31"},
        {"id": "b", "text": 'say "hi", ok', "n": 2, "score": None, "ok": False, "day": "2024-02-01"},
    ]
    assert read_all(tmp_path / "t.tsv") == [{"id": "a", "text": "hello, world"}]
    assert read_all(tmp_path / "t.csv", columns=["text"])[1] == {"text": 'say "hi", ok'}
    assert count_records(tmp_path / "t.csv") == 2


def test_csv_column_whose_type_changes_after_the_first_block_becomes_text(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    lines = ["id,value"] + [f"r{i},{i}" for i in range(150_000)] + ["last,unknown"]
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > 1 << 20
    rows = read_all(path, batch_size=50_000)
    assert len(rows) == 150_001
    assert rows[0] == {"id": "r0", "value": "0"}
    assert rows[-1] == {"id": "last", "value": "unknown"}


def test_hf_save_to_disk_dataset_and_single_split_dict(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    rows = [{"id": f"r{i}", "text": f"t{i}", "meta": {"k": i}} for i in range(7)]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "ds"))
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "dd"))
    for folder in ("ds", "dd"):
        assert detect_format(tmp_path / folder) == "hf_disk"
        assert count_records(tmp_path / folder) == 7
        batches = list(read_records(tmp_path / folder, batch_size=3))
        assert [len(b) for b in batches] == [3, 3, 1]
        assert [r for b in batches for r in b] == rows
    assert read_all(tmp_path / "ds", columns=["text"], limit=2) == [{"text": "t0"}, {"text": "t1"}]


def test_hf_save_to_disk_with_several_splits_names_them(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    split = datasets.Dataset.from_list([{"x": 1}])
    datasets.DatasetDict({"train": split, "test": split}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(SourceError, match=r"several splits \(.*train.*\); point at one of .*dd/test"):
        read_records(tmp_path / "dd")


def test_hf_load_dataset_on_local_files(tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    write_jsonl(tmp_path / "part-a.jsonl", RECORDS[:2])
    write_jsonl(tmp_path / "part-b.jsonl", RECORDS[2:])
    spec = f"hf:json:{tmp_path}/part-*.jsonl"
    assert read_all(spec) == RECORDS
    assert read_all(spec, columns=["id"], limit=2) == [{"id": "r0"}, {"id": "r1"}]
    assert count_records(spec) is None
    pq.write_table(pa.table({"x": [1, 2, 3]}), tmp_path / "p.parquet")
    assert read_all(f"hf:parquet:{tmp_path}/p.parquet", batch_size=2) == [{"x": 1}, {"x": 2}, {"x": 3}]
    with pytest.raises(SourceError, match=r"no files match .*nope\*\.jsonl"):
        read_records(f"hf:json:{tmp_path}/nope*.jsonl")


def test_missing_datasets_package_names_the_hf_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "state.json").write_text("{}")
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(SourceError, match=r"pip install 'synthloom\[hf\]'"):
        read_records(tmp_path / "ds")


def test_run_output_folders_read_back_with_lineage_decoded(tmp_path: Path) -> None:
    rows = [{"id": f"r{i}", "text": "x" * i, "_lineage": [{"step": "gen", "i": i}]} for i in range(5)]
    for fmt in ("parquet", "jsonl"):
        writer = ShardWriter(tmp_path / fmt, format=fmt)
        writer.write_shard(0, rows[:2])
        writer.write_shard(1, rows[2:])
        assert read_all(tmp_path / fmt) == rows
        assert count_records(tmp_path / fmt) == 5
        assert read_all(tmp_path / fmt, columns=["_lineage"], limit=1) == [{"_lineage": [{"step": "gen", "i": 0}]}]


def test_parquet_folder_with_column_only_in_some_shards(tmp_path: Path) -> None:
    writer = ShardWriter(tmp_path)
    writer.write_shard(0, [{"id": "a"}])
    writer.write_shard(1, [{"id": "b", "extra": 1}])
    assert read_all(tmp_path, columns=["extra"]) == [{"extra": None}, {"extra": 1}]


# --- batching, limits, memory ----------------------------------------------------------------------------


def test_limit_and_batch_size_across_files(tmp_path: Path) -> None:
    for part in range(3):
        write_jsonl(tmp_path / f"part-{part}.jsonl", [{"id": f"{part}-{i}"} for i in range(5)])
    batches = list(read_records(tmp_path, batch_size=4, limit=11))
    assert [len(b) for b in batches] == [4, 4, 3]
    assert [r["id"] for b in batches for r in b][-3:] == ["1-3", "1-4", "2-0"]
    assert list(read_records(tmp_path, limit=0)) == []
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        read_records(tmp_path, batch_size=0)


def test_large_jsonl_streams_lazily_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    bad_line = 150_000
    with path.open("wb") as handle:
        for i in range(1, 200_001):
            line = b"{oops\n" if i == bad_line else orjson.dumps({"id": f"r{i}", "text": "y" * 100}) + b"\n"
            handle.write(line)
    batches = read_records(path, batch_size=1000)
    seen = 0
    tracemalloc.start()
    try:
        with pytest.raises(SourceError, match=rf"big\.jsonl:{bad_line}: not valid JSON"):
            for batch in batches:
                assert len(batch) == 1000
                seen += len(batch)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == bad_line - 1 - (bad_line - 1) % 1000
    assert peak < path.stat().st_size / 10


# --- errors a user can cause -----------------------------------------------------------------------------


def test_malformed_jsonl_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "prompts.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2,}\n')
    with pytest.raises(SourceError, match=r"prompts\.jsonl:3: not valid JSON \(trailing comma .* at column 8\)"):
        read_all(path)


def test_non_object_jsonl_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "prompts.jsonl"
    path.write_text('{"a": 1}\n["a", 2]\n')
    with pytest.raises(SourceError, match=r"prompts\.jsonl:2: expected a JSON object per line, got an array"):
        read_all(path)


def test_bad_json_documents(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('[\n  {"a": 1},\n  {"a": }\n]')
    with pytest.raises(SourceError, match=r"broken\.json:3: not valid JSON"):
        read_all(tmp_path / "broken.json")
    (tmp_path / "scalars.json").write_text('[{"a": 1}, 7]')
    with pytest.raises(SourceError, match=r"scalars\.json: item 1 of the array is a number"):
        read_all(tmp_path / "scalars.json")
    (tmp_path / "config.json").write_text('{"name": "x", "size": 3}')
    with pytest.raises(SourceError, match=r"config\.json: expected a JSON array of objects .* 'name', 'size'"):
        read_all(tmp_path / "config.json")


@pytest.mark.parametrize(
    ("name", "content"),
    [("e.jsonl", ""), ("blank.jsonl", "\n  \n"), ("e.json", "[]"), ("e.csv", ""), ("header.csv", "a,b\n")],
)
def test_empty_files_are_reported(tmp_path: Path, name: str, content: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(SourceError, match=rf"{name.replace('.', '[.]')}: (no records|file is empty)"):
        read_all(tmp_path / name)


def test_csv_row_with_wrong_field_count_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "seeds.csv"
    path.write_text('id,text\na,"multi\nline"\nb,ok\nc,too,many\n')
    with pytest.raises(SourceError, match=r"seeds\.csv:5: expected 2 columns like the header, found 3"):
        read_all(path)


def test_unknown_columns_name_available_ones_and_suggest(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", RECORDS)
    pq.write_table(pa.Table.from_pylist(RECORDS), tmp_path / "a.parquet")
    (tmp_path / "a.csv").write_text("id,prompt\nx,y\n")
    for name in ("a.jsonl", "a.parquet", "a.csv"):
        with pytest.raises(SourceError, match=rf"a\.{name[2:]}: no column 'promt' \(did you mean 'prompt'\?\); "
                                              r"available columns: id, prompt"):
            read_all(tmp_path / name, columns=["id", "promt"])


def test_corrupt_parquet_is_named(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(SourceError, match=r"x\.parquet: not a readable Parquet file"):
        read_all(path)
