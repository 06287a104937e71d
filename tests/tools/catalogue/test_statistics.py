"""The statistics catalogue module: every tool on hand-checked values and on bad input."""

from __future__ import annotations

import json
import math
import statistics as stdlib_statistics

import pytest

from synthloom.tools.catalogue import statistics as st

DATA = [2, 4, 4, 4, 5, 5, 7, 9]  # mean 5, population sd 2, sample variance 32/7


def test_module_follows_the_catalogue_convention(catalogue_convention) -> None:
    tools = catalogue_convention(st, 6)
    kind = next(t for t in tools if t.name == "variance").parameters["properties"]["kind"]
    assert kind["enum"] == ["sample", "population"] and kind["default"] == "sample"


def test_mean_weighted_mean_median_mode() -> None:
    assert st.mean(DATA) == 5
    assert st.weighted_mean([80, 90], [1, 3]) == 87.5
    assert st.median([3, 1, 2]) == 2 and st.median(DATA) == 4.5
    assert st.mode(DATA) == [4.0] and st.mode([1, 1, 2, 2, 3]) == [1.0, 2.0]
    with pytest.raises(ValueError, match="at least 1 number"):
        st.mean([])
    with pytest.raises(ValueError, match="finite numbers"):
        st.median([1, float("nan")])
    with pytest.raises(ValueError, match="only numbers"):
        st.mode([1, "a"])
    with pytest.raises(ValueError, match="same length"):
        st.weighted_mean([1, 2], [1])
    with pytest.raises(ValueError, match="not all be zero"):
        st.weighted_mean([1, 2], [0, 0])
    with pytest.raises(ValueError, match="must not be negative"):
        st.weighted_mean([1, 2], [1, -1])


def test_variance_and_standard_deviation_sample_vs_population() -> None:
    assert st.variance(DATA, "population") == 4 and st.standard_deviation(DATA, "population") == 2
    assert st.variance(DATA) == pytest.approx(32 / 7)
    assert st.standard_deviation(DATA) == pytest.approx(stdlib_statistics.stdev(DATA))
    assert st.variance([5], "population") == 0
    with pytest.raises(ValueError, match="at least 2 values"):
        st.variance([5])
    with pytest.raises(ValueError, match="'sample' or 'population'"):
        st.standard_deviation(DATA, "both")


def test_percentile_methods_match_numpy() -> None:
    values = [1, 2, 3, 4]
    assert st.percentile(values, 40) == pytest.approx(2.2)  # numpy.percentile([1,2,3,4], 40) == 2.2
    assert st.percentile(values, 40, "lower") == 2 and st.percentile(values, 40, "higher") == 3
    assert st.percentile(values, 40, "midpoint") == 2.5 and st.percentile(values, 40, "nearest") == 2
    assert st.percentile(values, 50, "nearest") == 3  # position 1.5 rounds to the even index 2, as numpy
    assert st.percentile(values, 0) == 1 and st.percentile(values, 100) == 4
    with pytest.raises(ValueError, match="0 to 100"):
        st.percentile(values, 101)
    with pytest.raises(ValueError, match="unknown method"):
        st.percentile(values, 50, "cubic")


def test_correlation() -> None:
    assert st.correlation([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert st.correlation([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert st.correlation([1, 2, 3, 4, 5], [2, 4, 5, 4, 5]) == pytest.approx(0.7745966692)
    assert st.correlation([1, 2, 3, 4], [1, 4, 9, 100], "spearman") == pytest.approx(1.0)
    assert st.correlation([1, 2, 2, 3], [1, 2, 3, 4], "spearman") == pytest.approx(0.9486832981)  # tied ranks 2.5
    with pytest.raises(ValueError, match="constant"):
        st.correlation([1, 1, 1], [1, 2, 3])
    with pytest.raises(ValueError, match="same length"):
        st.correlation([1, 2, 3], [1, 2])


def test_linear_regression() -> None:
    fit = st.linear_regression([1, 2, 3, 4, 5], [2, 4, 5, 4, 5], predict_at=6)
    assert fit["slope"] == pytest.approx(0.6) and fit["intercept"] == pytest.approx(2.2)
    assert fit["r_squared"] == pytest.approx(0.6) and fit["prediction"] == pytest.approx(5.8)
    exact = st.linear_regression([0, 1, 2], [1, 3, 5])
    assert exact["slope"] == 2 and exact["intercept"] == 1 and exact["r_squared"] == 1 and "prediction" not in exact
    with pytest.raises(ValueError, match="must not be constant"):
        st.linear_regression([2, 2], [1, 3])


def test_z_scores() -> None:
    assert st.z_scores(DATA, "population") == [-1.5, -0.5, -0.5, -0.5, 0, 0, 1, 2]
    sample = st.z_scores([1, 2, 3])
    assert sample == pytest.approx([-1, 0, 1])
    with pytest.raises(ValueError, match="all values are equal"):
        st.z_scores([3, 3, 3])


def test_describe() -> None:
    d = st.describe([5, 1, 4, 2, 3])
    assert d == {"count": 5, "sum": 15, "mean": 3, "std": pytest.approx(math.sqrt(2.5)), "min": 1, "q1": 2, "median": 3,
                 "q3": 4, "max": 5, "range": 4}
    assert st.describe([7])["std"] is None
    with pytest.raises(ValueError, match="±1e150"):
        st.describe([1e200])


def test_list_results_stay_within_the_executors_value_limit() -> None:
    values = [i / 7 for i in range(2000)]
    assert len(json.dumps(st.z_scores(values))) < 64 * 1024 and len(json.dumps(st.mode(values))) < 64 * 1024
    with pytest.raises(ValueError, match="2001 numbers; at most 2000"):
        st.mean(list(range(2001)))
