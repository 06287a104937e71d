"""Fidelity metrics on constructed cases: identical tables, shuffled columns, hand-computed values."""

from __future__ import annotations

import pytest

pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")

from synthloom.tabular.evaluate.columns import aligned, column_kinds  # noqa: E402
from synthloom.tabular.evaluate.fidelity import (  # noqa: E402
    association_matrix,
    c2st,
    correlation_ratio,
    cramers_v,
    fidelity,
    marginals,
    total_variation,
)


def prepared(frame):
    kinds = column_kinds(frame)
    return aligned(frame, kinds, "real"), kinds


def test_identical_tables_score_zero_distance_and_chance_c2st(iris):
    real, kinds = prepared(iris[0])
    result = fidelity(real, real.copy(), kinds)
    assert all(e["value"] == 0.0 for e in result["columns"].values())
    assert result["ks_mean"] == 0.0 and result["tv_mean"] == 0.0
    assert result["associations"]["mean_abs_diff"] == 0.0
    # a record in both tables is one group: it cannot teach the classifier anything
    assert result["c2st"]["auc"] == pytest.approx(0.5, abs=1e-9)


def test_shuffled_columns_keep_marginals_but_break_associations(iris, shuffle):
    real, kinds = prepared(iris[0])
    result = fidelity(real, shuffle(real), kinds)
    assert result["ks_mean"] == 0.0 and result["tv_mean"] == 0.0
    assert result["associations"]["mean_abs_diff"] > 0.4
    assert result["c2st"]["auc"] > 0.9


def test_mixed_associations_use_the_documented_measures():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "y": [2.0, 4.0, 6.0, 8.0, 10.0, 12.0],
                          "c": ["a", "a", "a", "b", "b", "b"], "d": ["u", "u", "u", "v", "v", "v"]})
    kinds = {"x": "numeric", "y": "numeric", "c": "categorical", "d": "categorical"}
    m = association_matrix(frame, kinds)
    assert m[0, 1] == pytest.approx(1.0)  # Pearson of a line
    assert m[2, 3] == pytest.approx(1.0)  # Cramér's V: d is c renamed
    assert 0.8 < m[0, 2] < 1.0  # correlation ratio: the categories split x into two groups
    assert cramers_v(frame["c"], pd.Series(["u", "v"] * 3)) == pytest.approx(1 / 3)
    assert correlation_ratio(pd.Series(["a", "b"] * 3), pd.Series([1.0] * 6)) is None  # constant: undefined


def test_marginal_statistics_have_their_textbook_values():
    a = pd.DataFrame({"n": [0.0, 1.0, 2.0, 3.0], "c": ["x", "x", "y", "y"]})
    b = pd.DataFrame({"n": [10.0, 11.0, 12.0, 13.0], "c": ["x", "x", "x", "y"]})
    stats = marginals(a, b, {"n": "numeric", "c": "categorical"})
    assert stats["n"] == {"kind": "numeric", "metric": "ks", "value": 1.0, "missing_real": 0.0, "missing_synthetic": 0.0}
    assert stats["c"]["value"] == pytest.approx(0.25)
    # missing values are a category of their own
    assert total_variation(pd.Series(["x", None]), pd.Series(["x", "x"])) == pytest.approx(0.5)


def test_c2st_says_why_it_skipped_tiny_tables():
    frame = pd.DataFrame({"n": [1.0, 2.0, 3.0]})
    result = c2st(frame, frame, {"n": "numeric"})
    assert result["auc"] is None and "at least 10 rows" in result["skipped"]


def test_column_kinds_treat_few_integer_levels_as_categories():
    frame = pd.DataFrame({"flag": [0, 1] * 10, "count": list(range(20)), "x": [0.5] * 20, "s": ["a"] * 20})
    assert column_kinds(frame) == {"flag": "categorical", "count": "numeric", "x": "numeric", "s": "categorical"}
    assert column_kinds(frame, {"count": "categorical"})["count"] == "categorical"
