"""`type: evaluate_table` at the end of a table recipe: the report lands in OUT/evaluation/ after the run."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pandas")
pytest.importorskip("copulas")

from synthloom.testing.recipe_runs import completed_outputs, run_recipe  # noqa: E402

RECIPE = """
name: cart-evaluated
description: CART synthesis of iris, evaluated
steps:
  - name: synthesize
    type: table_cart
    real: sklearn:iris
    rows: 60
  - name: evaluate
    type: evaluate_table
"""


def test_recipe_writes_the_evaluation_of_its_rows(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE)
    out = tmp_path / "run"
    data, _, _ = completed_outputs(run_recipe(str(recipe), out), out)
    doc = json.loads((out / "evaluation" / "report.json").read_text())
    assert doc["rows"] == {"real": 120, "synthetic": len(data), "holdout": 30}
    assert doc["target"] == "target" and doc["utility"]["task"] == "classification"
    assert 0.0 <= doc["summary"]["c2st_auc"] <= 1.0 and doc["summary"]["tstr"] is not None
    assert "data:image/png" in (out / "evaluation" / "report.html").read_text()
