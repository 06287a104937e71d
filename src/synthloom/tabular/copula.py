"""Gaussian copula baseline: each column's marginal distribution fitted on its own, their
dependence as one multivariate normal over the columns' normal scores (``copulas``'
``GaussianMultivariate``; Patki et al. 2016, The Synthetic Data Vault, IEEE DSAA).

Numbers and datetimes (as seconds) go in as they are, with a 0/1 null indicator beside a nullable
one; categories, booleans and text go in by frequency intervals (:class:`FrequencyCode`). Samples
are decoded, clipped to the schema's range (``clip``) and rounded by the schema's types.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from .encoding import DISCRETE, FrequencyCode, from_seconds, ordinal, to_seconds
from .errors import need
from .schema import TableSchema

if TYPE_CHECKING:
    import pandas as pd

#: ``distribution:`` option → the ``copulas.univariate`` class fitted to every column's marginal
DISTRIBUTIONS = {"beta": "BetaUnivariate", "gaussian": "GaussianUnivariate", "kde": "GaussianKDE",
                 "truncated_gaussian": "TruncatedGaussian", "uniform": "UniformUnivariate", "auto": "Univariate"}


def copula_sample(train: pd.DataFrame, schema: TableSchema, n: int, seed: int, *, distribution: str = "beta",
                  clip: bool = True) -> pd.DataFrame:
    """``n`` rows from a Gaussian copula fitted on ``train``."""
    pandas = need("pandas")
    multivariate, univariate = need("copulas.multivariate"), need("copulas.univariate")
    rng = np.random.default_rng(seed)
    encoded: dict[str, np.ndarray] = {}
    codes: dict[str, FrequencyCode] = {}
    constants: dict[str, Any] = {}
    for col in schema.columns:
        series = train[col.name]
        if col.type in DISCRETE:
            codes[col.name] = FrequencyCode(series)
            encoded[col.name] = codes[col.name].encode(series, rng)
            continue
        values = ordinal(series, col)
        nulls = np.isnan(values)
        if nulls.all() or np.nanstd(values) == 0:
            constants[col.name] = None if nulls.all() else series[~nulls].iloc[0]
            if nulls.any():
                encoded[f"{col.name}\x1fnull"] = nulls.astype(float) + rng.uniform(-0.05, 0.05, len(values))
            continue
        encoded[col.name] = np.where(nulls, np.nanmedian(values), values)
        if nulls.any():
            encoded[f"{col.name}\x1fnull"] = nulls.astype(float) + rng.uniform(-0.05, 0.05, len(values))
    frame = pandas.DataFrame(encoded)
    model = multivariate.GaussianMultivariate(distribution=getattr(univariate, DISTRIBUTIONS[distribution]),
                                              random_state=seed)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        model.fit(frame)
        sampled = model.sample(n) if len(frame.columns) else pandas.DataFrame(index=range(n))
    return pandas.DataFrame({col.name: _decode(col, sampled, codes, constants, n, clip) for col in schema.columns})


def _decode(col: Any, sampled: pd.DataFrame, codes: dict[str, FrequencyCode], constants: dict[str, Any], n: int,
            clip: bool) -> list[Any]:
    flag = f"{col.name}\x1fnull"
    nulls = (sampled[flag].to_numpy() > 0.5) if flag in sampled else np.zeros(n, dtype=bool)
    if col.name in codes:
        return codes[col.name].decode(sampled[col.name].to_numpy())
    if col.name in constants:
        return [None if null else constants[col.name] for null in nulls]
    values = sampled[col.name].to_numpy(dtype=float)
    if clip:
        low = _bound(col, col.min)
        high = _bound(col, col.max)
        values = np.clip(values, low if low is not None else -np.inf, high if high is not None else np.inf)
    if col.type == "datetime":
        return [None if null else from_seconds(v, col.format) for v, null in zip(values, nulls)]
    return [None if null else float(v) for v, null in zip(values, nulls)]


def _bound(col: Any, value: Any) -> float | None:
    if value is None:
        return None
    return to_seconds(value) if col.type == "datetime" else float(value)
