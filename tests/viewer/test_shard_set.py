"""Chunks of a table: Parquet row groups and JSON Lines shards, files appearing and being rewritten."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq

from synthloom.io.shards import ShardWriter
from synthloom.viewer.shard_set import ShardSet, read_chunk


def test_row_groups_are_chunks_and_rewrites_are_new_chunks(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    pq.write_table(pa.table({"id": [str(i) for i in range(10)], "x": list(range(10))}), folder / "part-00000.parquet",
                   row_group_size=4)
    (folder / ".tmp-part-00001.parquet.abc").write_bytes(b"half a shard")
    shards = ShardSet(folders=[folder])
    chunks = shards.chunks()
    assert [(c.group, c.rows) for c in chunks] == [(0, 4), (1, 4), (2, 2)]
    assert read_chunk(chunks[1], ["x"]).column("x").to_pylist() == [4, 5, 6, 7]
    assert read_chunk(chunks[2], []).num_rows == 2
    pq.write_table(pa.table({"id": ["a"], "x": [1], "y": ["new"]}), folder / "part-00000.parquet")
    os.utime(folder / "part-00000.parquet", ns=(1, 1))
    again = shards.chunks()
    assert [(c.group, c.rows) for c in again] == [(0, 1)] and again[0].key != chunks[0].key
    assert list(shards.columns()) == ["id", "x", "y"]


def test_json_lines_shards_read_like_parquet_ones(tmp_path):
    writer = ShardWriter(tmp_path / "data", format="jsonl")
    writer.write_shard(0, [{"id": "a", "messages": [{"role": "user", "content": "hi"}], "n": 1}])
    writer.write_shard(1, [{"id": "b", "n": 2.5}])
    shards = ShardSet(folders=[tmp_path / "data"])
    chunks = shards.chunks()
    assert [c.rows for c in chunks] == [1, 1] and all(c.group == -1 for c in chunks)
    assert list(shards.columns()) == ["id", "messages", "n"]
    table = read_chunk(chunks[0], ["messages"])
    assert table.column("messages").to_pylist() == [[{"role": "user", "content": "hi"}]]


def test_text_columns_with_few_values_are_read_as_dictionaries(tmp_path):
    rows = [{"id": f"row-{i}", "category": ["math", "code"][i % 2], "text": f"free text number {i} " * 20} for i in range(500)]
    ShardWriter(tmp_path / "data").write_shard(0, rows)
    shards = ShardSet(folders=[tmp_path / "data"])
    (chunk,) = shards.chunks()
    table = read_chunk(chunk, None)
    assert pa.types.is_dictionary(table.schema.field("category").type)
    assert not pa.types.is_dictionary(table.schema.field("text").type)
    assert table.column("category").to_pylist() == [r["category"] for r in rows]
