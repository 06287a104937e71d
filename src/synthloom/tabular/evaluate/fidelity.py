"""Fidelity: how alike the synthetic table is to the real one, column by column, pair by pair, and as a
whole (can a classifier tell them apart?).

* **Marginals.** Numeric column: the two-sample Kolmogorov–Smirnov statistic (the largest gap between the
  empirical CDFs; 0 = same distribution of values, 1 = disjoint). Categorical column: the total variation
  distance ½·Σ|p − q| between the category frequencies (missing counted as a category; 0 = same, 1 = disjoint).
* **Associations.** A matrix over all columns: Pearson's r between two numeric columns, Cramér's V between
  two categorical ones, the correlation ratio η between a numeric and a categorical one (each on the rows
  where both are present; an undefined value — a constant column — counts as 0). The difference is the mean
  (and max) absolute difference of the real and synthetic matrices over the column pairs.
* **C2ST** (classifier two-sample test): a random forest learns to tell real rows (label 0) from synthetic
  ones (label 1) on equal-sized samples; the ROC AUC of its out-of-fold predictions (stratified k-fold) is
  reported. 0.5 = indistinguishable, 1 = always told apart. A record found in both tables keeps all its
  copies in one fold (:func:`~.columns.twin_groups`): it carries no signal, and letting its twin sit in the
  training fold would reward the classifier for memorising rather than for telling the tables apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import need
from .columns import MISSING, NUMERIC, model_features, model_frame, row_keys, split_kinds, twin_groups

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: fewest rows per table for a C2ST (fewer: skipped with the reason)
MIN_C2ST_ROWS = 10


def marginals(real: pd.DataFrame, synth: pd.DataFrame, kinds: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Per column: its kind, the statistic (``ks`` or ``tv``) and the share of missing values in each table."""
    stats = need("scipy.stats")
    out: dict[str, dict[str, Any]] = {}
    for col, kind in kinds.items():
        entry: dict[str, Any] = {"kind": kind, "missing_real": _share(real[col].isna().sum(), len(real)),
                                 "missing_synthetic": _share(synth[col].isna().sum(), len(synth))}
        if kind == NUMERIC:
            a, b = real[col].dropna().to_numpy(), synth[col].dropna().to_numpy()
            entry["metric"] = "ks"
            entry["value"] = float(stats.ks_2samp(a, b).statistic) if len(a) and len(b) else None
        else:
            entry["metric"] = "tv"
            entry["value"] = total_variation(real[col], synth[col])
        out[col] = entry
    return out


def total_variation(a: pd.Series, b: pd.Series) -> float | None:
    """½·Σ|p − q| over the categories of ``a`` and ``b`` (missing values are a category)."""
    if not len(a) or not len(b):
        return None
    p = a.fillna(MISSING).value_counts(normalize=True)
    q = b.fillna(MISSING).value_counts(normalize=True)
    support = p.index.union(q.index)
    return float(0.5 * (p.reindex(support, fill_value=0.0) - q.reindex(support, fill_value=0.0)).abs().sum())


def association_matrix(frame: pd.DataFrame, kinds: Mapping[str, str]) -> np.ndarray:
    """The symmetric matrix of pairwise associations (Pearson r, Cramér's V, correlation ratio η; 1 on the
    diagonal, 0 where undefined)."""
    numpy = need("numpy")
    cols = list(kinds)
    m = numpy.eye(len(cols))
    for i, a in enumerate(cols):
        for j in range(i + 1, len(cols)):
            b = cols[j]
            both = frame[[a, b]].dropna()
            value = _association(both[a], both[b], kinds[a], kinds[b]) if len(both) > 1 else None
            m[i, j] = m[j, i] = 0.0 if value is None or numpy.isnan(value) else value
    return m


def _association(x: pd.Series, y: pd.Series, kx: str, ky: str) -> float | None:
    numpy = need("numpy")
    if kx == NUMERIC and ky == NUMERIC:
        if x.nunique() < 2 or y.nunique() < 2:
            return None
        return float(numpy.corrcoef(x.to_numpy(dtype=float), y.to_numpy(dtype=float))[0, 1])
    if kx == NUMERIC:
        return correlation_ratio(y, x)
    if ky == NUMERIC:
        return correlation_ratio(x, y)
    return cramers_v(x, y)


def cramers_v(x: pd.Series, y: pd.Series) -> float | None:
    """Cramér's V of two categorical series (0 = independent, 1 = one determines the other)."""
    pandas, numpy = need("pandas"), need("numpy")
    table = pandas.crosstab(x, y).to_numpy(dtype=float)
    k = min(table.shape) - 1
    if k < 1:
        return None
    n = table.sum()
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(numpy.sqrt(chi2 / (n * k)))


def correlation_ratio(categories: pd.Series, values: pd.Series) -> float | None:
    """The correlation ratio η: the share of the numeric column's spread explained by the categories, square-rooted."""
    numpy = need("numpy")
    v = values.to_numpy(dtype=float)
    total = float(((v - v.mean()) ** 2).sum())
    if total == 0.0:
        return None
    between = sum(len(g) * (float(g.mean()) - v.mean()) ** 2 for _, g in values.groupby(categories.to_numpy()))
    return float(numpy.sqrt(between / total))


def association_difference(real: pd.DataFrame, synth: pd.DataFrame, kinds: Mapping[str, str]) -> dict[str, Any]:
    """The real and synthetic association matrices and the mean / max absolute difference over column pairs."""
    numpy = need("numpy")
    a, b = association_matrix(real, kinds), association_matrix(synth, kinds)
    upper = numpy.triu_indices(len(kinds), k=1)
    diffs = numpy.abs(a - b)[upper]
    measure = "pearson" if all(k == NUMERIC for k in kinds.values()) else "pearson / cramers_v / correlation_ratio"
    return {"measure": measure, "columns": list(kinds), "real": a.round(6).tolist(), "synthetic": b.round(6).tolist(),
            "mean_abs_diff": float(diffs.mean()) if len(diffs) else 0.0,
            "max_abs_diff": float(diffs.max()) if len(diffs) else 0.0}


def c2st(real: pd.DataFrame, synth: pd.DataFrame, kinds: Mapping[str, str], *, seed: int = 0, folds: int = 5,
         max_rows: int = 5000) -> dict[str, Any]:
    """Discriminator AUC of real against synthetic rows (see the module doc); ``auc`` is ``None`` with a
    ``skipped`` reason when either table has fewer than :data:`MIN_C2ST_ROWS` rows."""
    numpy, pandas = need("numpy"), need("pandas")
    ensemble, metrics, selection, pipeline = (need("sklearn.ensemble"), need("sklearn.metrics"),
                                              need("sklearn.model_selection"), need("sklearn.pipeline"))
    n = min(len(real), len(synth), max_rows)
    if n < MIN_C2ST_ROWS:
        return {"auc": None, "skipped": f"needs at least {MIN_C2ST_ROWS} rows in each table (smaller has {n})"}
    rng = numpy.random.default_rng(seed)
    r = real.iloc[numpy.sort(rng.choice(len(real), n, replace=False))]
    s = synth.iloc[numpy.sort(rng.choice(len(synth), n, replace=False))]
    both = pandas.concat([r, s], ignore_index=True)
    labels = numpy.array([0] * n + [1] * n)
    keys = row_keys(both, kinds)
    groups = numpy.array(twin_groups(keys[:n], keys[n:]))
    splits = min(folds, len(set(groups.tolist())), n)
    numeric, categorical = split_kinds(kinds)
    model = pipeline.make_pipeline(model_features(numeric, categorical), ensemble.RandomForestClassifier(
        n_estimators=100, min_samples_leaf=2, random_state=seed, n_jobs=1))
    cv = selection.StratifiedGroupKFold(n_splits=splits, shuffle=True, random_state=seed)
    proba = selection.cross_val_predict(model, model_frame(both, numeric, categorical), labels, groups=groups, cv=cv,
                                        method="predict_proba")[:, 1]
    auc = float(metrics.roc_auc_score(labels, proba))
    return {"auc": auc, "accuracy": float(((proba >= 0.5) == labels).mean()), "rows_per_table": n, "folds": splits,
            "classifier": "RandomForestClassifier(n_estimators=100, min_samples_leaf=2)"}


def fidelity(real: pd.DataFrame, synth: pd.DataFrame, kinds: Mapping[str, str], *, seed: int = 0) -> dict[str, Any]:
    """Marginals, associations and C2ST, with the means over columns."""
    per_column = marginals(real, synth, kinds)
    ks = [e["value"] for e in per_column.values() if e["metric"] == "ks" and e["value"] is not None]
    tv = [e["value"] for e in per_column.values() if e["metric"] == "tv" and e["value"] is not None]
    return {"columns": per_column,
            "ks_mean": sum(ks) / len(ks) if ks else None,
            "tv_mean": sum(tv) / len(tv) if tv else None,
            "associations": association_difference(real, synth, kinds),
            "c2st": c2st(real, synth, kinds, seed=seed)}


def _share(count: Any, total: int) -> float:
    return float(count) / total if total else 0.0
