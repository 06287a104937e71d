"""Privacy metrics on constructed cases: copies of the training rows, the holdout as synthetic rows."""

from __future__ import annotations

import math

import pytest

pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")

from synthloom.tabular.evaluate.columns import DistanceEncoder, aligned, column_kinds  # noqa: E402
from synthloom.tabular.evaluate.privacy import privacy  # noqa: E402


def run(train, synth, holdout=None):
    kinds = column_kinds(train)
    return privacy(aligned(train, kinds, "real"), aligned(synth, kinds, "synthetic"), kinds,
                   aligned(holdout, kinds, "holdout") if holdout is not None else None)


@pytest.mark.parametrize("dataset", ["iris", "diabetes"])
def test_copies_of_the_training_rows_are_exposed(dataset, request):
    train, holdout = request.getfixturevalue(dataset)
    result = run(train, train.copy(), holdout)
    assert result["exact_copies"] == {"count": len(train), "share": 1.0,
                                      "holdout_share": result["exact_copies"]["holdout_share"]}
    assert result["dcr"]["synthetic_to_train"]["median"] == 0.0 and result["dcr"]["ratio"] == 0.0
    assert result["membership_inference"]["auc"] > 0.95
    assert result["closer_to_train"]["share"] > 0.95 > result["closer_to_train"]["expected_share"]


def test_fresh_real_rows_look_like_fresh_real_rows(diabetes):
    train, holdout = diabetes
    result = run(train, holdout.copy(), holdout)
    assert result["exact_copies"]["share"] == 0.0
    assert result["dcr"]["ratio"] == pytest.approx(1.0)
    # every synthetic row is itself in the holdout: it is nearer the holdout than any training row
    assert result["closer_to_train"]["share"] == 0.0
    assert result["membership_inference"]["auc"] < 0.1  # non-members sit on synthetic rows: anti-correlated


def test_without_a_holdout_the_yardsticks_are_skipped(iris):
    result = run(iris[0], iris[0].copy())
    assert result["exact_copies"]["share"] == 1.0
    assert "no real holdout" in result["skipped"] and "membership_inference" not in result


def test_distance_is_range_scaled_numbers_plus_one_per_differing_category():
    train = pd.DataFrame({"x": [0.0, 10.0], "c": ["a", "b"]})
    kinds = {"x": "numeric", "c": "categorical"}
    enc = DistanceEncoder(train, kinds, frames=[pd.DataFrame({"x": [5.0], "c": ["z"]})])
    p = enc.encode(pd.DataFrame({"x": [0.0, 5.0, 5.0], "c": ["a", "a", "z"]}))
    assert np.linalg.norm(p[0] - p[1]) == pytest.approx(0.5)  # half the range
    assert np.linalg.norm(p[1] - p[2]) == pytest.approx(1.0)  # one category differs
    assert np.linalg.norm(p[0] - p[2]) == pytest.approx(math.sqrt(1.25))
