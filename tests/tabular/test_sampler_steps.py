"""table_samplers and table_llm_columns: spec files with file:line errors, the LLM columns on a scripted
model, the table-samplers recipe through the CLI (scripted) and on the embedded model."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("faker")

from synthloom.pipeline.model_step import RowError  # noqa: E402
from synthloom.tabular.errors import SchemaError  # noqa: E402
from synthloom.tabular.sampler_steps import TableLLMColumns, TableSamplers, load_spec_file  # noqa: E402
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe  # noqa: E402
from synthloom.testing.scripted import ScriptedModel, install_scripted_backend, run_step  # noqa: E402

SPEC = """\
columns:
  - name: role
    sampler: category
    values: [engineer, manager]
    weights: [3, 1]
  - name: age
    sampler: uniform
    low: 20
    high: 60
  - name: level
    sampler: llm
    prompt: "A {{ age }}-year-old {{ role }}. Level:"
    json_schema: {enum: [junior, senior]}
    max_tokens: 12
  - name: motto
    sampler: llm
    system: "You write mottos."
    prompt: "A motto for a {{ level }} {{ role }}:"
    max_tokens: 24
constraints:
  - age >= 30 if role == 'manager'
"""


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "columns.yaml"
    path.write_text(SPEC)
    return path


@pytest.mark.parametrize("old,new,line,words", [
    ("weights: [3, 1]", "weights: [3, 1, 1]", 5, "weights must be 2 numbers"),
    ("high: 60", "hi: 60", 9, "takes no option 'hi'"),
    ("  - age >= 30 if role == 'manager'", "  - age >= 30 if rank == 'boss'", 21, "reads ['rank']"),
    ("constraints:", "constraint:", 20, "unknown key 'constraint'"),
    ("    values: [engineer, manager]", "    values: [engineer, manager", 4, "not valid YAML"),
])
def test_spec_file_errors_are_file_line(tmp_path, old, new, line, words):
    path = tmp_path / "columns.yaml"
    path.write_text(SPEC.replace(old, new))
    with pytest.raises(SchemaError) as e:
        load_spec_file(path)
    assert str(e.value).startswith(f"{path}:") and words in str(e.value) and "\n" not in str(e.value)
    if words != "not valid YAML":  # YAML reports where it noticed the problem
        assert str(e.value).startswith(f"{path}:{line}:"), str(e.value)


def test_source_draws_sampled_columns(spec_file):
    step = TableSamplers("s", spec=str(spec_file), rows=50, seed=3)
    assert step.columns == ["role", "age"] and step.count(7) == 7
    rows = list(step.read())
    assert len(rows) == 50 and rows == list(TableSamplers("s", spec=str(spec_file), rows=50, seed=3).read())
    assert all(r["age"] >= 30 for r in rows if r["role"] == "manager")
    assert list(step.read(limit=5)) == rows[:5]
    stricter = TableSamplers("s", spec=str(spec_file), rows=50, seed=3, constraints=["age < 40"], max_redraws=500)
    assert all(r["age"] < 40 for r in stricter.read()) and stricter.sampler_spec.max_redraws == 500
    with pytest.raises(ValueError, match=r"constraints\.0: .*reads \['nope'\]"):
        TableSamplers("s", spec=str(spec_file), constraints=["nope > 1"])
    with pytest.raises(ValueError, match="exactly one of `spec`"):
        TableSamplers("s")
    with pytest.raises(ValueError, match=r"columns\.0\.weights: column 'c': weights"):
        TableSamplers("s", columns=[{"name": "c", "sampler": "category", "values": ["a"], "weights": [-1]}])


def test_llm_columns_on_a_scripted_model(spec_file):
    step = TableLLMColumns("fill", spec=str(spec_file))
    assert step.reads == {"role", "age"} and step.writes == {"level", "motto"}

    def reply(req):
        if req.json_schema:
            assert req.json_schema["properties"]["level"] == {"enum": ["junior", "senior"]}
            return json.dumps({"level": "senior"})
        return "  Build it right.  "

    model = ScriptedModel(reply)
    [[row]] = run_step(step, model, [{"id": "r1", "role": "manager", "age": 41}])
    assert row["level"] == "senior" and row["motto"] == "Build it right." and row["id"] == "r1"
    first, second = model.requests
    assert first.messages[-1]["content"] == "A 41-year-old manager. Level:" and first.max_tokens == 12
    assert second.messages[0] == {"role": "system", "content": "You write mottos."}
    assert second.messages[-1]["content"] == "A motto for a senior manager:" and second.max_tokens == 24
    assert [e["column"] for e in row["_lineage"]] == ["level", "motto"]
    with pytest.raises(RowError, match="column 'motto': the model's reply is empty"):
        run_step(TableLLMColumns("fill", spec=str(spec_file)),
                 ScriptedModel(lambda req: json.dumps({"level": "junior"}) if req.json_schema else " "),
                 [{"id": "r2", "role": "engineer", "age": 25}])


def test_recipe_on_a_scripted_model(tmp_path, spec_file, monkeypatch, fake_server):
    spec = install_scripted_backend(monkeypatch, lambda req: json.dumps({"level": "junior"}) if req.json_schema else "Ship it.",
                                    fake_server.url)
    out = tmp_path / "run"
    run = run_recipe("table-samplers", out, f"spec={spec_file}", "rows=6", extra_cli_args=["--model", spec])
    data, rejected, errors = completed_outputs(run, out)
    assert len(data) == 6 and not rejected and not errors
    assert {r["level"] for r in data} == {"junior"} and {r["motto"] for r in data} == {"Ship it."}


@needs_embedded
def test_recipe_on_the_embedded_model_is_grammar_constrained(tmp_path):
    path = tmp_path / "columns.yaml"
    path.write_text(SPEC.split("  - name: motto")[0] + SPEC.split("    max_tokens: 24\n")[1])  # the constrained column only
    out = tmp_path / "run"
    run = run_recipe("table-samplers", out, f"spec={path}", extra_cli_args=["-n", "2"])
    data, _, errors = completed_outputs(run, out)
    assert len(data) + len(errors) == 2 and data
    assert all(r["level"] in ("junior", "senior") for r in data)
