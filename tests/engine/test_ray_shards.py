"""Upstream shards as one numbered sequence: ranges cover every row once, and reading them back gives
exactly the rows ``read_shards`` gives."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ray")

from synthloom.engine import ray_shards  # noqa: E402
from synthloom.engine.ray_shards import ShardTable, gather, iter_rows, read_range  # noqa: E402
from synthloom.io.shards import ShardWriter  # noqa: E402


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_ranges_read_back_the_rows_in_order(ray_local, tmp_path, monkeypatch, fmt):
    writer = ShardWriter(tmp_path / "up", format=fmt)
    rows = [{"id": f"r{i}", "x": i, "nested": {"k": [i, None]}} for i in range(1000)]
    for k, (a, b) in enumerate([(0, 3), (3, 400), (400, 401), (401, 1000)]):
        writer.write_shard(k, rows[a:b])
    table = ShardTable.of([tmp_path / "up"], workers=2)
    assert table.rows == 1000 and table.offsets.tolist() == [0, 3, 400, 401, 1000]
    monkeypatch.setattr(ray_shards, "MAX_RANGE_ROWS", 150)
    expected = list(iter_rows([tmp_path / "up"]))
    for align in (0, 1, 64, 5000):
        ranges = table.ranges(workers=2, align=align)
        assert ranges[0][0] == 0 and ranges[-1][1] == 1000
        assert all(a < b for a, b in ranges) and all(p[1] == q[0] for p, q in zip(ranges, ranges[1:]))
        if align:
            assert all(b % align == 0 for _, b in ranges[:-1])
        else:
            assert {b for _, b in ranges} <= {3, 400, 401, 1000}
        got = [r for a, b in ranges for r in read_range(table.paths, table.offsets, a, b)]
        assert got == expected


def test_no_shards_no_ranges(ray_local, tmp_path):
    table = ShardTable.of([tmp_path / "missing"], workers=2)
    assert table.rows == 0 and table.ranges(2) == [] and table.ranges(2, align=8) == []


def test_gather_across_parts():
    full = np.arange(40).reshape(20, 2)
    parts, offsets = [full[:7], full[7:8], full[8:]], np.array([0, 7, 8, 20])
    index = np.array([19, 0, 7, 7, 8, 3])
    assert (gather(parts, offsets, index) == full[index]).all()
