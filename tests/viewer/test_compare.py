"""Two runs side by side: counts, and the rows both made for the same input."""

from __future__ import annotations

import pytest

from synthloom.io.shards import read_shards
from synthloom.viewer.compare import compare_rows, compare_summary
from synthloom.viewer.query import Query, QueryError
from synthloom.viewer.run_source import RunSource


def test_summary_puts_the_counts_of_both_runs_side_by_side(small_run, other_run):
    s = compare_summary(RunSource(small_run), RunSource(other_run))
    assert [r["path"] for r in s["runs"]] == [str(small_run), str(other_run)]
    assert {st["step"] for st in s["steps"]} == {"prompts", "unique_prompts", "answer", "judge", "long_enough"}
    assert all(st["a"] == st["b"] for st in s["steps"])  # same inputs, same decisions
    assert "id" in s["keys"] and "prompt" in s["keys"] and "_lineage" not in s["keys"]


def test_rows_are_matched_on_a_key(small_run, other_run):
    a, b = RunSource(small_run), RunSource(other_run)
    by_id = compare_rows(a, b, "id", Query("Oslo"), 0, 10)
    assert by_id["pairs"]
    for pair in by_id["pairs"]:
        assert pair["b"]["id"] == pair["a"]["id"] == pair["key"]
        assert "(v2)" in pair["b"]["answer"] and "(v2)" not in pair["a"]["answer"]
    first = list(read_shards(small_run / "data"))[0]
    by_prompt = compare_rows(a, b, "prompt", Query(), 0, 1)
    assert by_prompt["pairs"][0]["key"] == first["prompt"] == by_prompt["pairs"][0]["b"]["prompt"]
    with pytest.raises(QueryError, match="both runs' data need that column"):
        compare_rows(a, b, "nope", Query(), 0, 1)
