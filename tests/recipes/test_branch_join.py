"""A YAML recipe with a branch and a join: `inputs:` works for every step type (here `filter`,
`set` and `select`, which used to refuse it), the run completes, and a rerun resumes to the same rows."""

from __future__ import annotations

import json
from pathlib import Path

from synthloom.testing import recipe_runs

RECIPE = """
name: branch-join
models:
  default: {model}
steps:
  - name: seeds
    type: load
    path: {seeds}
  - name: answer
    type: llm
    prompt: "Answer: {{{{ q }}}}"
    output: answer
    temperature: 0
  - name: long_only
    type: filter
    inputs: seeds
    keep: "q | length > 2"
    reason: too short
  - name: critique
    type: llm
    prompt: "Critique: {{{{ q }}}}"
    output: critique
    temperature: 0
  - name: tidy
    type: set
    inputs: [critique]
    values: {{key_copy: key}}
  - name: both
    type: join
    inputs: [answer, tidy]
    on: key
    how: left
  - name: final
    type: select
    inputs: both
    columns: [key, q, answer, critique]
"""


def write(tmp_path: Path, model: str) -> Path:
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"key": i, "q": "q" * (1 + i % 4)}) + "\n" for i in range(10)))
    recipe = tmp_path / "branch.yaml"
    recipe.write_text(RECIPE.format(model=model, seeds=seeds))
    return recipe


def test_branch_and_join_recipe_runs_and_resumes(tmp_path, fake_model):
    recipe = write(tmp_path, fake_model)
    out = tmp_path / "out"
    run = recipe_runs.run_recipe(str(recipe), out, extra_cli_args=("--partition-size", "3"))
    data, rejected, errors = recipe_runs.completed_outputs(run, out)
    assert not errors and len(data) == 10
    by_key = {r["key"]: r for r in data}
    long_keys = {i for i in range(10) if 1 + i % 4 > 2}
    assert all(by_key[k]["critique"] == f"Reply to: Critique: {by_key[k]['q']}" for k in long_keys)
    assert all(by_key[k]["critique"] is None for k in set(by_key) - long_keys)  # how: left keeps them
    assert {r["_reason"] for r in rejected} == {"too short"}
    again = recipe_runs.run_recipe(str(recipe), out, extra_cli_args=("--partition-size", "3"))
    assert again["resumed_partitions"] > 0 and again["usage"]["total"]["requests"] == 0
    assert sorted(map(json.dumps, recipe_runs.data_rows(out))) == sorted(map(json.dumps, data))
