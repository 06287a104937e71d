import os
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthloom.io.formats import RecordEncodeError, is_json_field
from synthloom.io.shards import (
    ShardError,
    ShardWriter,
    SpillWriter,
    export_jsonl,
    finalize,
    iter_spill,
    list_shards,
    read_shards,
    remove_shards_not_in,
)

ROWS = [
    {"id": "a", "text": "hi", "_lineage": [{"step": "seed", "index": 0}]},
    {"id": "b", "text": "yo", "_lineage": [{"step": "seed", "index": 1}, {"step": "gen", "model": "m", "tokens": 7}]},
]


def stray_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".tmp-"))


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_write_and_read_back_shards_in_index_order(tmp_path: Path, fmt: str) -> None:
    writer = ShardWriter(tmp_path / "data", format=fmt)
    second = writer.write_shard(12, ROWS[1:])
    first = writer.write_shard(3, ROWS[:1])
    assert first == tmp_path / "data" / f"part-00003.{fmt}"
    assert second == tmp_path / "data" / f"part-00012.{fmt}"
    assert list(read_shards(tmp_path / "data")) == ROWS
    assert [index for index, _ in list_shards(tmp_path / "data")] == [3, 12]
    assert stray_files(tmp_path / "data") == []


def test_lineage_is_a_json_string_column_in_parquet(tmp_path: Path) -> None:
    path = ShardWriter(tmp_path).write_shard(0, ROWS)
    table = pq.read_table(path)
    assert table.schema.field("_lineage").type == pa.string()
    assert is_json_field(table.schema.field("_lineage"))
    assert orjson.loads(table.column("_lineage")[1].as_py()) == ROWS[1]["_lineage"]


def test_empty_rows_write_nothing(tmp_path: Path) -> None:
    writer = ShardWriter(tmp_path / "data")
    assert writer.write_shard(0, []) is None
    assert list((tmp_path / "data").iterdir()) == []


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_same_rows_give_identical_bytes(tmp_path: Path, fmt: str) -> None:
    one = ShardWriter(tmp_path / "one", format=fmt).write_shard(0, ROWS)
    two = ShardWriter(tmp_path / "two", format=fmt).write_shard(0, [dict(r) for r in ROWS])
    assert one.read_bytes() == two.read_bytes()


def test_rows_with_different_keys_keep_every_column(tmp_path: Path) -> None:
    rows = [{"id": "a", "x": 1}, {"id": "b", "y": "new"}]
    ShardWriter(tmp_path).write_shard(0, rows)
    assert list(read_shards(tmp_path)) == [{"id": "a", "x": 1, "y": None}, {"id": "b", "x": None, "y": "new"}]


def test_untypable_columns_round_trip_exactly(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "mixed": 1, "empty": {}, "deep": [{"k": 1}]},
        {"id": "b", "mixed": "two", "empty": {}, "deep": [{"k": "x"}]},
        {"id": "c", "mixed": [3], "empty": None, "deep": None},
    ]
    path = ShardWriter(tmp_path).write_shard(0, rows)
    schema = pq.read_schema(path)
    assert [is_json_field(schema.field(n)) for n in ("id", "mixed", "empty", "deep")] == [False, True, True, True]
    assert list(read_shards(tmp_path)) == rows


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_failed_write_leaves_no_partial_file(tmp_path: Path, fmt: str) -> None:
    writer = ShardWriter(tmp_path, format=fmt)
    rows = [{"id": str(i), "text": "ok"} for i in range(500)]
    rows[400] = {"id": "400", "text": object()}
    with pytest.raises(RecordEncodeError, match=r"row 400, column 'text': value of type object"):
        writer.write_shard(0, rows)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_failed_rewrite_keeps_the_previous_shard(tmp_path: Path, fmt: str) -> None:
    writer = ShardWriter(tmp_path, format=fmt)
    path = writer.write_shard(0, ROWS)
    before = path.read_bytes()
    with pytest.raises(RecordEncodeError):
        writer.write_shard(0, [{"id": "x"}, {"id": "y", "bad": Path("x")}])
    assert path.read_bytes() == before
    assert stray_files(tmp_path) == []


def test_writer_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ShardError, match="unknown shard format 'csv'"):
        ShardWriter(tmp_path, format="csv")  # type: ignore[arg-type]
    with pytest.raises(ShardError, match="shard index must be >= 0"):
        ShardWriter(tmp_path).write_shard(-1, ROWS)


def shards_with_drifting_schemas(directory: Path) -> ShardWriter:
    writer = ShardWriter(directory)
    writer.write_shard(0, [{"id": "a", "maybe": None, "num": 1, "conflict": 1, "meta": {"k": 1},
                            "_lineage": [{"step": "s"}]}])
    writer.write_shard(1, [{"id": "b", "maybe": "text", "num": 2.5, "conflict": "one", "meta": {"j": "v"},
                            "turns": [{"role": "user"}], "_lineage": [{"step": "s", "model": "m"}]}])
    writer.write_shard(2, [{"id": "c", "maybe": None, "num": 3, "conflict": None, "meta": None,
                            "turns": [{"role": "assistant", "content": "hi"}], "_lineage": []}])
    return writer


def test_finalize_unifies_schemas_and_values_survive(tmp_path: Path) -> None:
    shards_with_drifting_schemas(tmp_path)
    report = finalize(tmp_path)
    schemas = {path.name: pq.read_schema(path) for _, path in list_shards(tmp_path)}
    assert len({str(s) for s in schemas.values()}) == 1
    schema = report.schema
    assert schema.names == ["id", "maybe", "num", "conflict", "meta", "_lineage", "turns"]
    assert schema.field("maybe").type == pa.string()
    assert schema.field("num").type == pa.float64()
    assert is_json_field(schema.field("conflict"))
    assert is_json_field(schema.field("meta"))  # dicts with different keys per shard: merged structs would add nulls
    rows = list(read_shards(tmp_path))
    assert [r["conflict"] for r in rows] == [1, "one", None]
    assert [r["maybe"] for r in rows] == [None, "text", None]
    assert [r["num"] for r in rows] == [1.0, 2.5, 3.0]
    assert rows[0]["meta"] == {"k": 1}
    assert rows[1]["_lineage"] == [{"step": "s", "model": "m"}]
    assert rows[0]["turns"] is None
    assert stray_files(tmp_path) == []


def test_finalize_rewrites_only_shards_that_differ(tmp_path: Path) -> None:
    writer = ShardWriter(tmp_path)
    writer.write_shard(0, [{"id": "a", "x": "s"}])
    writer.write_shard(1, [{"id": "b", "x": None}])
    writer.write_shard(2, [{"id": "c", "x": "t"}])
    report = finalize(tmp_path)
    assert [p.name for p in report.rewritten] == ["part-00001.parquet"]
    assert finalize(tmp_path).rewritten == []
    assert finalize(tmp_path / "nowhere").schema is None


def test_finalized_folder_loads_with_datasets(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    data = tmp_path / "data"
    shards_with_drifting_schemas(data).finalize()
    loaded = datasets.load_dataset(
        "parquet", data_files=f"{data}/*.parquet", split="train", cache_dir=str(tmp_path / "cache")
    )
    assert loaded.num_rows == 3
    assert loaded["id"] == ["a", "b", "c"]
    assert orjson.loads(loaded["_lineage"][1]) == [{"step": "s", "model": "m"}]
    assert loaded["maybe"] == [None, "text", None]


def test_remove_shards_not_in_clears_unfinished_and_temp_files(tmp_path: Path) -> None:
    writer = ShardWriter(tmp_path)
    for index in range(4):
        writer.write_shard(index, [{"id": str(index)}])
    (tmp_path / ".tmp-part-00004.parquet.abc123").write_bytes(b"partial")
    (tmp_path / "notes.txt").write_text("not a shard")
    removed = remove_shards_not_in(tmp_path, {0, 2})
    assert sorted(p.name for p in removed) == [".tmp-part-00004.parquet.abc123", "part-00001.parquet",
                                               "part-00003.parquet"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "part-00000.parquet", "part-00002.parquet"]


def test_mixed_shard_formats_are_refused(tmp_path: Path) -> None:
    ShardWriter(tmp_path, format="parquet").write_shard(0, ROWS)
    ShardWriter(tmp_path, format="jsonl").write_shard(1, ROWS)
    with pytest.raises(ShardError, match=r"holds both \.parquet and \.jsonl shards"):
        list(read_shards(tmp_path))


def test_export_jsonl_writes_lineage_as_lists(tmp_path: Path) -> None:
    writer = ShardWriter(tmp_path / "data")
    writer.write_shard(0, ROWS[:1])
    writer.write_shard(1, ROWS[1:])
    count = export_jsonl(tmp_path / "data", tmp_path / "out" / "data.jsonl")
    assert count == 2
    lines = (tmp_path / "out" / "data.jsonl").read_bytes().splitlines()
    assert [orjson.loads(line) for line in lines] == ROWS
    assert stray_files(tmp_path / "out") == []


def test_spill_round_trip_and_append(tmp_path: Path) -> None:
    path = tmp_path / "spill" / "dedup.jsonl"
    with SpillWriter(path) as spill:
        spill.write_many({"id": str(i), "v": [i]} for i in range(1000))
        assert spill.records_written == 1000
    with SpillWriter(path, append=True) as spill:
        spill.write({"id": "extra"})
    records = list(iter_spill(path))
    assert len(records) == 1001
    assert records[0] == {"id": "0", "v": [0]}
    assert records[-1] == {"id": "extra"}


def test_spill_torn_tail_is_reported_then_dropped_on_append(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with SpillWriter(path) as spill:
        spill.write_many([{"id": "a"}, {"id": "b"}])
    with path.open("ab") as handle:
        handle.write(b'{"id": "c", "tex')
    with pytest.raises(ShardError, match=r"s\.jsonl:3: last record is cut off"):
        list(iter_spill(path))
    with SpillWriter(path, append=True) as spill:
        spill.write({"id": "d"})
    assert [r["id"] for r in iter_spill(path)] == ["a", "b", "d"]


def test_spill_missing_file_and_bad_record(tmp_path: Path) -> None:
    with pytest.raises(ShardError, match=r"no such spill file: .*gone\.jsonl"):
        list(iter_spill(tmp_path / "gone.jsonl"))
    with pytest.raises(RecordEncodeError, match="row 0, column 'x'"):
        SpillWriter(tmp_path / "s.jsonl").write({"x": object()})


def test_atomic_rewrite_fsyncs_and_replaces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    ShardWriter(tmp_path).write_shard(0, ROWS)
    assert len(synced) >= 2


def test_nested_dicts_come_back_exactly(tmp_path: Path) -> None:
    """Tool arguments, messages, ratings: dicts whose keys differ from row to row (or 3 next to 2.5) must not come
    back with null keys or floats, within a shard or across shards."""
    rows = [{"id": "a", "calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}], "same": {"x": 1}},
            {"id": "b", "calls": [{"name": "convert", "arguments": {"value": 2.5, "unit": "km"}}], "same": {"x": 2}}]
    writer = ShardWriter(tmp_path, format="parquet")
    writer.write_shard(0, rows)
    writer.write_shard(1, [{"id": "c", "calls": [{"name": "neg", "arguments": {"n": 3}}], "same": {"x": 3}},
                           {"id": "d", "calls": [{"name": "neg", "arguments": {"n": 4}}], "same": {"y": "q"}}])
    writer.finalize()
    back = list(read_shards(tmp_path))
    assert [r["calls"] for r in back] == [rows[0]["calls"], rows[1]["calls"], [{"name": "neg", "arguments": {"n": 3}}],
                                          [{"name": "neg", "arguments": {"n": 4}}]]
    assert type(back[2]["calls"][0]["arguments"]["n"]) is int
    assert [r["same"] for r in back] == [{"x": 1}, {"x": 2}, {"x": 3}, {"y": "q"}]
    uniform = tmp_path / "uniform"
    ShardWriter(uniform, format="parquet").write_shard(0, [{"m": {"k": 1, "j": "a"}}, {"m": {"k": 2, "j": "b"}}])
    assert pa.types.is_struct(pq.read_schema(next(uniform.glob("*.parquet"))).field("m").type)  # still queryable
