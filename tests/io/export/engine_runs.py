"""Run directories written by the engine for the export tests: a load step over hand-made rows."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from synthloom import LoadStep, Pipeline, run_pipeline
from synthloom.engine.run import RunOptions


def engine_run(tmp_path: Path, rows: list[dict], data_format: str = "parquet", name: str = "run",
               pipeline: str = "tools") -> Path:
    """A run directory written by the engine: a load step over ``rows``, two rows per shard."""
    source = tmp_path / f"{name}.jsonl"
    source.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    out = tmp_path / name
    result = run_pipeline(Pipeline([LoadStep("src", path=str(source))], models={}, name=pipeline), out,
                          RunOptions(progress="quiet", log=lambda m: None, data_format=data_format, partition_size=2))
    assert result.ok, result.message
    return out


def lines(path: Path) -> list[dict]:
    """The records of a JSON Lines file."""
    return [json.loads(line) for line in path.read_text().splitlines()]
