"""``concat``: the rows of several branches stacked into one dataset, ids kept apart."""

from __future__ import annotations

import json
from pathlib import Path

from synthloom.steps.concat import Concat
from synthloom.testing import recipe_runs

RECIPE = """
name: two-branches
models:
  default: {model}
steps:
  - name: seeds
    type: load
    path: {seeds}
  - name: upper
    type: set
    inputs: [seeds]
    values: {{shout: "q | upper"}}
  - name: answered
    type: llm
    inputs: [seeds]
    prompt: "Answer: {{{{ q }}}}"
    output: answer
    temperature: 0
  - name: both
    type: concat
    inputs: [upper, answered]
    branch_column: branch
"""


def test_rows_of_every_input_in_order_with_derived_ids():
    step = Concat("both", inputs=["a", "b"], branch_column="from")
    out = list(step.run_join([iter([{"id": "1", "x": 1}, {"id": "2", "x": 2}]), iter([{"id": "1", "y": 3}])]))
    assert [(r.get("x"), r.get("y"), r["from"]) for r in out] == [(1, None, "a"), (2, None, "a"), (None, 3, "b")]
    assert len({r["id"] for r in out}) == 3  # the two rows with id "1" no longer collide
    assert "from" not in Concat("both", inputs=["a", "b"]).writes


def test_a_recipe_with_two_branches_ends_in_one_dataset_and_resumes(tmp_path: Path, fake_model):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"q": f"q{i}"}) + "\n" for i in range(4)))
    recipe = tmp_path / "two.yaml"
    recipe.write_text(RECIPE.format(model=fake_model, seeds=seeds))
    out = tmp_path / "out"
    run = recipe_runs.run_recipe(str(recipe), out)
    data, rejected, errors = recipe_runs.completed_outputs(run, out)
    assert not errors and not rejected and len(data) == 8 and run["counts"]["both"]["out"] == 8
    assert [r["branch"] for r in data] == ["upper"] * 4 + ["answered"] * 4
    assert {r["shout"] for r in data if r["branch"] == "upper"} == {"Q0", "Q1", "Q2", "Q3"}
    assert all(r["answer"] == f"Reply to: Answer: {r['q']}" for r in data if r["branch"] == "answered")
    again = recipe_runs.run_recipe(str(recipe), out)
    assert again["usage"]["total"]["requests"] == 0
    assert sorted(map(json.dumps, recipe_runs.data_rows(out))) == sorted(map(json.dumps, data))
