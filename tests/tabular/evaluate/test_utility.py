"""TSTR against TRTR on constructed cases: synthetic = the training rows, labels scrambled, one class."""

from __future__ import annotations

import pytest

pd = pytest.importorskip("pandas")

from synthloom.tabular.errors import TableError  # noqa: E402
from synthloom.tabular.evaluate.columns import aligned, column_kinds  # noqa: E402
from synthloom.tabular.evaluate.utility import utility  # noqa: E402


def tables(train, holdout, synth):
    kinds = column_kinds(train)
    return aligned(train, kinds, "real"), aligned(holdout, kinds, "holdout"), aligned(synth, kinds, "synthetic"), kinds


def test_classification_tstr_equals_trtr_on_the_training_rows(iris):
    train, holdout, synth, kinds = tables(iris[0], iris[1], iris[0].copy())
    result = utility(train, holdout, synth, kinds, "target")
    assert result["task"] == "classification" and result["main_metric"] == "f1_macro"
    assert result["tstr"] == result["trtr"]
    assert result["ratio"] == 1.0 and result["trtr"]["accuracy"] > 0.85 and result["trtr"]["auc"] > 0.9


def test_regression_tstr_equals_trtr_on_the_training_rows(diabetes):
    train, holdout, synth, kinds = tables(diabetes[0], diabetes[1], diabetes[0].copy())
    result = utility(train, holdout, synth, kinds, "target")
    assert result["task"] == "regression" and set(result["tstr"]) == {"r2", "mae", "train_rows"}
    assert result["tstr"] == result["trtr"] and result["ratio"] == 1.0


def test_scrambled_labels_teach_nothing(iris, shuffle):
    scrambled = iris[0].copy()
    scrambled["target"] = shuffle(scrambled[["target"]], seed=3)["target"]
    train, holdout, synth, kinds = tables(iris[0], iris[1], scrambled)
    result = utility(train, holdout, synth, kinds, "target")
    assert result["tstr"]["f1_macro"] < 0.6 < result["trtr"]["f1_macro"]
    assert result["ratio"] < 0.7


def test_a_synthetic_table_with_one_class_is_skipped_with_the_reason(iris):
    one_class = iris[0][iris[0]["target"] == "setosa"]
    train, holdout, synth, kinds = tables(iris[0], iris[1], one_class)
    result = utility(train, holdout, synth, kinds, "target")
    assert "one class only" in result["tstr"]["skipped"] and result["ratio"] is None


def test_an_unknown_target_names_the_columns(iris):
    train, holdout, synth, kinds = tables(*iris, iris[0])
    with pytest.raises(TableError, match="target column 'species' is not a column"):
        utility(train, holdout, synth, kinds, "species")
