"""Statistics: descriptive statistics of a list of numbers (mean, median, mode, spread, percentiles, z-scores),
correlation and simple linear regression between two lists.

Every tool is a pure function of its arguments, written with ``math`` only (no ``statistics`` import, so the
module's own name never shadows it). Lists hold 1 to 2,000 finite numbers within ±1e150.
"""

import math
from typing import Literal

CATEGORY = "statistics"
#: calls share nothing (no files, no state kept): the executor may run several rows\' calls in one jail
STATELESS = True

_MAX_VALUES = 2_000  # z_scores and mode return up to this many numbers: within the executor's 64 KiB per value


def _values(values: list[float], what: str = "values", at_least: int = 1) -> list[float]:
    if not isinstance(values, (list, tuple)):
        raise ValueError(f"{what} must be a list of numbers, not {values!r}")
    if len(values) < at_least:
        raise ValueError(f"{what} must hold at least {at_least} number{'s' if at_least > 1 else ''}, not {len(values)}")
    if len(values) > _MAX_VALUES:
        raise ValueError(f"{what} has {len(values)} numbers; at most {_MAX_VALUES} are allowed")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"{what} must contain only numbers, not {v!r}")
        if not abs(v) <= 1e150:  # also refuses nan; keeps squares and sums of squares finite
            raise ValueError(f"{what} must contain finite numbers within ±1e150, not {v!r}")
        out.append(float(v))
    return out


def _pair(x: list[float], y: list[float]) -> tuple[list[float], list[float]]:
    xs, ys = _values(x, "x", 2), _values(y, "y", 2)
    if len(xs) != len(ys):
        raise ValueError(f"x and y must have the same length, not {len(xs)} and {len(ys)}")
    return xs, ys


def _mean(xs: list[float]) -> float:
    return math.fsum(xs) / len(xs)


def _sum_sq_dev(xs: list[float]) -> float:
    m = _mean(xs)
    return math.fsum((v - m) ** 2 for v in xs)


def _variance(xs: list[float], kind: str) -> float:
    if kind not in ("sample", "population"):
        raise ValueError(f"kind must be 'sample' or 'population', not {kind!r}")
    if kind == "sample":
        if len(xs) < 2:
            raise ValueError("the sample variance needs at least 2 values; use kind='population' for a single value")
        return _sum_sq_dev(xs) / (len(xs) - 1)
    return _sum_sq_dev(xs) / len(xs)


def _median(sorted_xs: list[float]) -> float:
    n = len(sorted_xs)
    mid = n // 2
    return sorted_xs[mid] if n % 2 else (sorted_xs[mid - 1] + sorted_xs[mid]) / 2


def _percentile(sorted_xs: list[float], q: float, method: str) -> float:
    pos = (len(sorted_xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    frac = pos - lo
    if method == "linear":
        return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * frac
    if method == "lower":
        return sorted_xs[lo]
    if method == "higher":
        return sorted_xs[hi]
    if method == "midpoint":
        return (sorted_xs[lo] + sorted_xs[hi]) / 2
    if method == "nearest":
        return sorted_xs[round(pos)]  # ties go to the even index, as numpy does
    raise ValueError(f"unknown method {method!r}; use linear, lower, higher, nearest or midpoint")


def _pearson(xs: list[float], ys: list[float]) -> float:
    mx, my = _mean(xs), _mean(ys)
    sxy = math.fsum((a - mx) * (b - my) for a, b in zip(xs, ys))
    sxx = math.fsum((a - mx) ** 2 for a in xs)
    syy = math.fsum((b - my) ** 2 for b in ys)
    if sxx == 0 or syy == 0:
        raise ValueError("correlation is undefined when x or y is constant (zero variance)")
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def _ranks(xs: list[float]) -> list[float]:
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    ranks = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1  # ties share their average rank
        i = j + 1
    return ranks


def mean(values: list[float]) -> float:
    """The arithmetic mean (average) of a list of numbers.

    Args:
        values: the numbers (1 to 2,000).

    Returns:
        The mean.
    """
    return _mean(_values(values))


def weighted_mean(values: list[float], weights: list[float]) -> float:
    """The weighted mean of a list of numbers.

    Args:
        values: the numbers (1 to 2,000).
        weights: one non-negative weight per number (not all zero).

    Returns:
        sum(value * weight) / sum(weight).
    """
    xs, ws = _values(values), _values(weights, "weights")
    if len(xs) != len(ws):
        raise ValueError(f"values and weights must have the same length, not {len(xs)} and {len(ws)}")
    if any(w < 0 for w in ws):
        raise ValueError("weights must not be negative")
    total = math.fsum(ws)
    if total == 0:
        raise ValueError("weights must not all be zero")
    return math.fsum(v * w for v, w in zip(xs, ws)) / total


def median(values: list[float]) -> float:
    """The median (middle value) of a list of numbers; the mean of the two middle values for an even count.

    Args:
        values: the numbers (1 to 2,000).

    Returns:
        The median.
    """
    return _median(sorted(_values(values)))


def mode(values: list[float]) -> list[float]:
    """The most frequent value(s) of a list of numbers.

    Args:
        values: the numbers (1 to 2,000).

    Returns:
        Every value that occurs most often, in ascending order (several when tied).
    """
    counts: dict[float, int] = {}
    for v in _values(values):
        counts[v] = counts.get(v, 0) + 1
    top = max(counts.values())
    return sorted(v for v, c in counts.items() if c == top)


def variance(values: list[float], kind: Literal["sample", "population"] = "sample") -> float:
    """The variance of a list of numbers.

    Args:
        values: the numbers (at least 2 for a sample variance).
        kind: sample (divides by n - 1, the default) or population (divides by n).

    Returns:
        The variance.
    """
    return _variance(_values(values), kind)


def standard_deviation(values: list[float], kind: Literal["sample", "population"] = "sample") -> float:
    """The standard deviation of a list of numbers.

    Args:
        values: the numbers (at least 2 for a sample standard deviation).
        kind: sample (divides by n - 1, the default) or population (divides by n).

    Returns:
        The standard deviation (square root of the variance).
    """
    return math.sqrt(_variance(_values(values), kind))


def percentile(values: list[float], percent: float,
               method: Literal["linear", "lower", "higher", "nearest", "midpoint"] = "linear") -> float:
    """The value below which a given percentage of the numbers falls (numpy's percentile methods).

    Args:
        values: the numbers (1 to 2,000).
        percent: the percentile to compute, 0 to 100 (50 is the median).
        method: how to pick between the two nearest values: linear interpolation (default), lower, higher, nearest or midpoint.

    Returns:
        The percentile.
    """
    xs = sorted(_values(values))
    if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not 0 <= percent <= 100:
        raise ValueError(f"percent must be a number from 0 to 100, not {percent!r}")
    return _percentile(xs, percent, method)


def correlation(x: list[float], y: list[float], method: Literal["pearson", "spearman"] = "pearson") -> float:
    """The correlation coefficient between two equally long lists of numbers.

    Args:
        x: the first list (at least 2 numbers).
        y: the second list (as long as x).
        method: pearson (linear correlation, the default) or spearman (rank correlation, ties get average ranks).

    Returns:
        The coefficient, from -1 to 1.
    """
    xs, ys = _pair(x, y)
    if method == "pearson":
        return _pearson(xs, ys)
    if method == "spearman":
        return _pearson(_ranks(xs), _ranks(ys))
    raise ValueError(f"unknown method {method!r}; use pearson or spearman")


def linear_regression(x: list[float], y: list[float], predict_at: float | None = None) -> dict:
    """Ordinary least-squares fit of the line y = slope * x + intercept.

    Args:
        x: the independent values (at least 2, not all equal).
        y: the dependent values (as many as x).
        predict_at: an x value at which to evaluate the fitted line (optional).

    Returns:
        An object {"slope", "intercept", "r_squared"} (plus "prediction" when predict_at is given).
    """
    xs, ys = _pair(x, y)
    mx, my = _mean(xs), _mean(ys)
    sxx = math.fsum((a - mx) ** 2 for a in xs)
    if sxx == 0:
        raise ValueError("x must not be constant: a vertical line has no slope")
    sxy = math.fsum((a - mx) * (b - my) for a, b in zip(xs, ys))
    slope = sxy / sxx
    intercept = my - slope * mx
    syy = math.fsum((b - my) ** 2 for b in ys)
    sse = math.fsum((b - (slope * a + intercept)) ** 2 for a, b in zip(xs, ys))
    r_squared = 1.0 if syy == 0 else max(0.0, 1 - sse / syy)
    out = {"slope": slope, "intercept": intercept, "r_squared": r_squared}
    if predict_at is not None:
        if isinstance(predict_at, bool) or not isinstance(predict_at, (int, float)) or not abs(predict_at) <= 1e150:
            raise ValueError(f"predict_at must be a finite number within ±1e150, not {predict_at!r}")
        out["prediction"] = slope * predict_at + intercept
    return out


def z_scores(values: list[float], kind: Literal["sample", "population"] = "sample") -> list[float]:
    """The z-score (standard score) of every number in a list: how many standard deviations it lies from the mean.

    Args:
        values: the numbers (at least 2, not all equal).
        kind: the standard deviation to divide by: sample (n - 1, the default) or population (n).

    Returns:
        One z-score per value, in the input order.
    """
    xs = _values(values, at_least=2)
    sd = math.sqrt(_variance(xs, kind))
    if sd == 0:
        raise ValueError("z-scores are undefined when all values are equal (zero standard deviation)")
    m = _mean(xs)
    return [(v - m) / sd for v in xs]


def describe(values: list[float]) -> dict:
    """A summary of a list of numbers: count, sum, mean, sample standard deviation, min, quartiles, max and range.

    Args:
        values: the numbers (1 to 2,000).

    Returns:
        An object {"count", "sum", "mean", "std", "min", "q1", "median", "q3", "max", "range"}; quartiles use
        linear interpolation and std is the sample standard deviation (null for a single value).
    """
    xs = sorted(_values(values))
    return {
        "count": len(xs),
        "sum": math.fsum(xs),
        "mean": _mean(xs),
        "std": math.sqrt(_variance(xs, "sample")) if len(xs) > 1 else None,
        "min": xs[0],
        "q1": _percentile(xs, 25, "linear"),
        "median": _median(xs),
        "q3": _percentile(xs, 75, "linear"),
        "max": xs[-1],
        "range": xs[-1] - xs[0],
    }
