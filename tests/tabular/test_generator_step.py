"""The table generator recipe interface: table-copula and table-cart end to end, OUT/tables/, table_validate."""

from __future__ import annotations

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("copulas")

from synthloom.pipeline.step import Rejected  # noqa: E402
from synthloom.tabular.baselines import TableCart, TableCopula  # noqa: E402
from synthloom.tabular.generator_step import TableValidate  # noqa: E402
from synthloom.tabular.schema import TableSchema  # noqa: E402
from synthloom.testing.recipe_runs import completed_outputs, run_recipe  # noqa: E402


@pytest.mark.parametrize("recipe", ["table-copula", "table-cart"])
@pytest.mark.parametrize("dataset", ["iris", "wine"])
def test_recipe_end_to_end(tmp_path, recipe, dataset):
    out = tmp_path / "run"
    run = run_recipe(recipe, out, f"real=sklearn:{dataset}", "rows=60", "seed=1")
    data, rejected, errors = completed_outputs(run, out)
    assert len(data) + len(rejected) == 60 and not errors
    schema = TableSchema.from_yaml(out / "tables" / "schema.yaml")
    train = pd.read_parquet(out / "tables" / "train.parquet")
    holdout = pd.read_parquet(out / "tables" / "holdout.parquet")
    assert len(holdout) == round(0.2 * (len(train) + len(holdout)))
    assert len(train) + len(holdout) == {"iris": 150, "wine": 178}[dataset]
    for row in data:
        assert schema.validate_row(row) == []
    again = tmp_path / "again"
    run_recipe(recipe, again, f"real=sklearn:{dataset}", "rows=60", "seed=1")
    strip = lambda rows: [{k: v for k, v in r.items() if k != "_lineage"} for r in rows]  # noqa: E731
    assert strip(completed_outputs(run, again)[0]) == strip(data)


def test_limit_caps_rows_and_file_input(tmp_path):
    src = tmp_path / "people.csv"
    pd.DataFrame({"id": range(50), "age": [25 + i % 40 for i in range(50)],
                  "team": ["a" if i % 3 else "b" for i in range(50)]}).to_csv(src, index=False)
    out = tmp_path / "run"
    with pytest.raises(AssertionError, match=r"column 'id' is reserved .*--set drop=\[id\]"):
        run_recipe("table-cart", out, f"real={src}", extra_cli_args=["-n", "7"])
    run = run_recipe("table-cart", out, f"real={src}", "drop=[id]", extra_cli_args=["-n", "7", "--fresh"])
    data, _, _ = completed_outputs(run, out)
    assert len(data) == 7 and {"age", "team"} <= set(data[0]) and data[0]["id"] not in range(50)


def test_step_options_are_checked():
    with pytest.raises(ValueError, match="distribution must be one of"):
        TableCopula("s", real="sklearn:iris", distribution="cauchy")
    with pytest.raises(ValueError, match="holdout must be a fraction"):
        TableCart("s", real="sklearn:iris", holdout=1.5)
    with pytest.raises(ValueError, match="needs `schema`"):
        TableValidate("v")


def test_generator_outside_a_run_yields_coerced_rows():
    step = TableCart("s", real="sklearn:iris", rows=5, seed=2)
    rows = list(step.read())
    assert len(rows) == 5 and list(rows[0]) == step.columns
    assert all(isinstance(r["sepal_length_cm"], float) and isinstance(r["target"], str) for r in rows)
    assert step.tables_dir() is None


def test_validate_rejects_with_reasons_and_coerces():
    step = TableValidate("v", real="sklearn:iris")
    good = {"id": "r1", "sepal_length_cm": "5.1", "sepal_width_cm": 3.5, "petal_length_cm": 1.4,
            "petal_width_cm": 0.2, "target": "Setosa"}
    assert step.check(good) is True
    assert good["sepal_length_cm"] == 5.1 and good["target"] == "setosa"
    verdict = step.check({**good, "sepal_length_cm": 42.0, "target": "rose"})
    assert isinstance(verdict, Rejected)
    assert "sepal_length_cm: 42.0 is above the maximum 7.9" in verdict.reason and "'rose' is not one of" in verdict.reason
