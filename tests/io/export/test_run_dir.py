"""The run an export reads: its rows back exactly as the methods wrote them, default output names, and what the
run says about itself (run.json, card.md) for the export's card."""

from __future__ import annotations

import copy
from pathlib import Path

import orjson
import pytest
from engine_runs import engine_run
from tool_row_samples import MULTI_TURN, MULTIPLE, PARALLEL, PARALLEL_MULTIPLE, SIMPLE

from synthloom import LoadStep, Pipeline, run_pipeline
from synthloom.engine.run import RunOptions
from synthloom.io.export.run_dir import default_output, iter_rows, read_run_info
from synthloom.io.export.tool_formats import to_bfcl, to_hermes, to_openai, to_sharegpt
from synthloom.io.shards import list_shards

ROWS = [SIMPLE, MULTIPLE, PARALLEL, PARALLEL_MULTIPLE, MULTI_TURN]


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


def test_default_outputs_name_the_format_and_the_standard_form():
    root = Path("runs/x")
    assert default_output(root, "trl-dpo", "conversational") == root / "export" / "trl-dpo.jsonl"
    assert default_output(root, "trl-dpo", "standard") == root / "export" / "trl-dpo-standard.jsonl"
    assert default_output(root, "alpaca") == root / "export" / "alpaca.jsonl"
    assert default_output(root, "bfcl") == root / "export" / "bfcl.json"


def test_the_run_s_description_citations_and_models_come_from_its_card_and_run_json(tmp_path):
    source = tmp_path / "rows.jsonl"
    source.write_bytes(orjson.dumps({"prompt": "p", "response": "r"}) + b"\n")
    pipeline = Pipeline([LoadStep("src", path=str(source))], models={}, name="my-recipe",
                        description="Pairs for a test.\nOn two lines.", citations=["Doe et al. 2024, A Paper, arXiv:0000.00000"])
    out = tmp_path / "run"
    assert run_pipeline(pipeline, out, RunOptions(progress="quiet", log=lambda m: None, recipe_source="recipes/mine.yaml")).ok
    info = read_run_info(out)
    assert (info.name, info.status, info.recipe) == ("my-recipe", "completed", "recipes/mine.yaml")
    assert info.description == "Pairs for a test.\nOn two lines."
    assert info.citations == ["Doe et al. 2024, A Paper, arXiv:0000.00000"]
    run_json = orjson.loads((out / "run.json").read_bytes())
    run_json["models"] = {"default": {"spec": "embedded", "backend": "llamacpp"}}
    (out / "run.json").write_bytes(orjson.dumps(run_json))
    assert read_run_info(out).models == {"default": "embedded"}


def test_a_run_without_card_or_run_json_is_named_after_its_folder(tmp_path):
    info = read_run_info(tmp_path)
    assert (info.name, info.description, info.citations, info.models, info.status) == (tmp_path.name, "", [], {}, None)
