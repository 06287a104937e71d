"""Exporting runs the engine wrote: Parquet or JSONL shards, several per run, read back exactly as the methods wrote them."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import orjson
import pytest
from tool_row_samples import FAILED, MULTI_TURN, MULTIPLE, PARALLEL, PARALLEL_MULTIPLE, SIMPLE, SIMULATED

from synthloom import LoadStep, Pipeline, run_pipeline
from synthloom.engine.run import RunOptions
from synthloom.io.shards import list_shards
from synthloom.io.tool_export import ExportError, export_run, iter_rows
from synthloom.io.tool_formats import to_bfcl, to_hermes, to_openai, to_sharegpt

ROWS = [SIMPLE, MULTIPLE, PARALLEL, PARALLEL_MULTIPLE, MULTI_TURN]


def engine_run(tmp_path: Path, rows: list[dict], data_format: str = "parquet", name: str = "run") -> Path:
    """A run directory written by the engine: a load step over ``rows``, two rows per shard."""
    source = tmp_path / f"{name}.jsonl"
    source.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    out = tmp_path / name
    result = run_pipeline(Pipeline([LoadStep("src", path=str(source))], models={}, name="tools"), out,
                          RunOptions(progress="quiet", log=lambda m: None, data_format=data_format, partition_size=2))
    assert result.ok, result.message
    return out


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def without_engine_columns(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("id", "_lineage")}


@pytest.mark.parametrize("data_format", ["parquet", "jsonl"])
def test_rows_read_back_as_the_method_wrote_them(tmp_path, data_format):
    run = engine_run(tmp_path, ROWS, data_format)
    assert len(list_shards(run / "data")) == 3
    got = [without_engine_columns(r) for r in iter_rows(run / "data")]
    for row, want in zip(got, ROWS, strict=True):
        assert to_openai(row) == to_openai(want)
        # as text too: add's b=2 shares a field with b=3.5 in another shard and must not come back as 2.0
        assert to_sharegpt(row) == to_sharegpt(want) and to_hermes(row) == to_hermes(want)
        assert to_bfcl(row, 0) == to_bfcl(want, 0)


@pytest.mark.parametrize("data_format", ["parquet", "jsonl"])
def test_runs_keep_explicit_nulls(tmp_path, data_format):
    row = copy.deepcopy(PARALLEL)
    row["calls"][0]["arguments"]["precision"] = None
    run = engine_run(tmp_path, [row, *ROWS], data_format)
    assert next(iter_rows(run / "data"))["calls"][0]["arguments"]["precision"] is None


def test_export_writes_each_format_and_counts_skips(tmp_path):
    run = engine_run(tmp_path, [*ROWS, SIMULATED, FAILED])
    report = export_run(run, "hermes")
    assert report.outputs == [run / "export" / "hermes.jsonl"] and report.written == 5
    assert dict(report.skipped) == {"simulated": 1, "failed": 1}
    records = lines(run / "export" / "hermes.jsonl")
    assert [r["conversations"] for r in records] == [to_hermes(r)["conversations"] for r in ROWS]
    assert all(isinstance(r["id"], str) for r in records)  # the engine's row ids
    report = export_run(run, "openai", tmp_path / "all.jsonl", include_simulated=True, include_failed=True)
    assert report.written == 7 and not report.skipped


def test_bfcl_export_numbers_each_category_and_writes_answers_beside(tmp_path):
    run = engine_run(tmp_path, [SIMPLE, PARALLEL, SIMPLE, MULTI_TURN])
    report = export_run(run, "bfcl", tmp_path / "bfcl" / "BFCL_mine.json")
    assert report.outputs == [tmp_path / "bfcl" / "BFCL_mine.json", tmp_path / "bfcl" / "possible_answer" / "BFCL_mine.json"]
    questions, answers = (lines(p) for p in report.outputs)
    assert [q["id"] for q in questions] == [a["id"] for a in answers] == ["simple_0", "parallel_0", "simple_1", "multi_turn_0"]
    assert dict(report.categories) == {"simple": 2, "parallel": 1, "multi_turn": 1}


def test_malformed_rows_are_skipped_and_the_first_one_named(tmp_path):
    broken = copy.deepcopy(SIMPLE)
    broken["calls"][0]["name"] = "subtract"
    run = engine_run(tmp_path, [SIMPLE, broken, {**SIMPLE, "calls": None}])
    report = export_run(run, "openai")
    assert report.written == 1 and report.skipped == {"malformed": 2}
    assert report.first_problem.startswith("row 1 (id ") and "'subtract'" in report.first_problem


def test_non_tool_runs_and_bad_paths_are_refused(tmp_path):
    run = engine_run(tmp_path, [{"prompt": "p", "response": "r"}])
    with pytest.raises(ExportError, match=r"its rows are not tool-use rows \(no query, tools, calls, results column\)"):
        export_run(run, "openai")
    with pytest.raises(ExportError, match="no such run directory"):
        export_run(tmp_path / "missing", "openai")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match="not a run directory"):
        export_run(tmp_path / "empty", "openai")
    with pytest.raises(ExportError, match="unknown format"):
        export_run(run, "alpaca")
    with pytest.raises(ExportError, match="inside the run's data/ folder"):
        export_run(run, "openai", run / "data" / "x.jsonl")
    assert not (run / "export").exists()


def test_a_corrupt_shard_stops_the_export_and_leaves_no_file(tmp_path):
    run = engine_run(tmp_path, ROWS, "jsonl")
    last = list_shards(run / "data")[-1][1]
    last.write_bytes(last.read_bytes() + b'{"query": "cut off\n')
    with pytest.raises(ExportError, match=r"cannot read its shards \(.*not valid JSON.*\); nothing was written"):
        export_run(run, "openai")
    assert not (run / "export").exists() or not any((run / "export").iterdir())  # no half file, no temp file
