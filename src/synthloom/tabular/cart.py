"""CART sequential synthesis (synthpop; Nowok, Raab & Dibben 2016, synthpop: Bespoke Creation of
Synthetic Data in R, Journal of Statistical Software 74(11); Reiter 2005, Using CART to Generate
Partially Synthetic Public Use Microdata, Journal of Official Statistics 21(3)).

Columns are synthesised one after another in ``visit_sequence`` order (default: the schema's). The
first is a bootstrap sample of its real values. Each later column gets a decision tree fitted on the
real table, predicting it from the columns before it (a classifier for discrete columns, a
regressor otherwise; leaves hold at least ``min_leaf`` real rows, synthpop's ``minbucket``); a
synthetic row goes down that tree with its already synthesised values and takes the value of a
real row drawn at random from the leaf it lands in. Nulls are values like any other (trees route
missing predictors; a leaf's null is drawn like its numbers). Text columns are drawn, but are not
used as predictors.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from .encoding import DISCRETE, ordinal
from .errors import TableError, need
from .schema import TableSchema, is_missing

if TYPE_CHECKING:
    import pandas as pd


def cart_sample(train: pd.DataFrame, schema: TableSchema, n: int, seed: int, *, min_leaf: int = 5,
                visit_sequence: list[str] | None = None) -> pd.DataFrame:
    """``n`` rows synthesised column by column from ``train`` (see the module doc)."""
    pandas, tree = need("pandas"), need("sklearn.tree")
    order = list(visit_sequence or schema.names)
    if sorted(order) != sorted(schema.names):
        raise TableError(f"visit_sequence {order} must list every column once: {schema.names}")
    rng = np.random.default_rng(seed)
    real_x: dict[str, np.ndarray] = {}
    synth: dict[str, list[Any]] = {}
    synth_x: dict[str, np.ndarray] = {}
    for j, name in enumerate(order):
        col = schema.column(name)
        real_values = [None if is_missing(v) else (v.item() if hasattr(v, "item") else v) for v in train[name]]
        real_x[name] = ordinal(train[name], col)
        predictors = [p for p in order[:j] if schema.column(p).type != "text"]
        if not predictors or len(train) < 2 * min_leaf:
            picks = rng.integers(0, len(train), size=n)
        else:
            x_real = np.column_stack([real_x[p] for p in predictors])
            x_synth = np.column_stack([synth_x[p] for p in predictors])
            target = real_x[name]
            discrete = col.type in DISCRETE
            target = np.where(np.isnan(target), -1.0 if discrete else np.nanmedian(target) if (~np.isnan(target)).any()
                              else 0.0, target)
            kind = tree.DecisionTreeClassifier if discrete else tree.DecisionTreeRegressor
            model = kind(min_samples_leaf=min_leaf, random_state=seed)
            with warnings.catch_warnings():  # many classes for few rows (a text column) is expected here
                warnings.simplefilter("ignore")
                model.fit(x_real, target.astype(int) if discrete else target)
            picks = _draw_from_leaves(model.apply(x_real), model.apply(x_synth), rng)
        synth[name] = [real_values[i] for i in picks]
        synth_x[name] = real_x[name][picks]
    return pandas.DataFrame({name: synth[name] for name in schema.names})


def _draw_from_leaves(real_leaves: np.ndarray, synth_leaves: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each synthetic row, the index of a real row drawn at random from the same leaf."""
    members: dict[int, np.ndarray] = {}
    order = np.argsort(real_leaves, kind="stable")
    leaves, starts = np.unique(real_leaves[order], return_index=True)
    for leaf, rows in zip(leaves, np.split(order, starts[1:])):
        members[int(leaf)] = rows
    return np.array([rng.choice(members[int(leaf)]) for leaf in synth_leaves], dtype=int)
