"""Privacy: does the synthetic table give away the real rows it was made from?

Distances are Euclidean over :class:`~.columns.DistanceEncoder` points (numeric differences scaled by the
training range, 1 per differing category).

* **DCR** (distance to closest record): for each synthetic row, the distance to its nearest training row;
  the same for each holdout row (real rows the generator never saw), which is the yardstick — a generator
  that only learnt the distribution puts its rows as far from the training rows as fresh real rows are.
  ``ratio`` = median synthetic DCR / median holdout DCR (≥ 1 fine, near 0 = rows copied or barely changed).
* **Closer-to-train share**: the share of synthetic rows whose nearest real row (training ∪ holdout) is a
  training row (ties count half). Rows drawn from the distribution itself land there with probability
  ``expected_share`` = n_train / (n_train + n_holdout); far above it means the rows sit on the training rows.
* **Exact copies**: synthetic rows equal to a training row in every column (numbers to 9 significant digits),
  with the holdout's own share of exact training duplicates as the yardstick.
* **Membership inference**: an attacker who holds the synthetic table and a real record guesses "it was in the
  training set" when the record is close to some synthetic row. ``auc`` is the ROC AUC of that score
  (minus the distance to the nearest synthetic row) for training rows (members) against holdout rows
  (non-members): 0.5 = no better than chance, 1 = every member exposed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import need
from .columns import DistanceEncoder, row_keys

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def privacy(train: pd.DataFrame, synth: pd.DataFrame, kinds: Mapping[str, str], holdout: pd.DataFrame | None = None,
            ) -> dict[str, Any]:
    """DCR of the synthetic rows (and of the holdout's, with the ratio and the closer-to-train share), exact
    copies, and the membership-inference AUC (the last three need ``holdout`` where they compare)."""
    numpy = need("numpy")
    neighbors = need("sklearn.neighbors")
    encoder = DistanceEncoder(train, kinds, frames=[f for f in (holdout, synth) if f is not None])
    train_points, synth_points = encoder.encode(train), encoder.encode(synth)
    to_train = neighbors.NearestNeighbors(n_neighbors=1).fit(train_points)
    dcr_synth = to_train.kneighbors(synth_points)[0][:, 0]
    train_keys = set(row_keys(train, kinds))
    copies = sum(1 for k in row_keys(synth, kinds) if k in train_keys)
    result: dict[str, Any] = {
        "distance": "euclidean: numeric difference / training range, 1 per differing category",
        "dcr": {"synthetic_to_train": _summary(dcr_synth)},
        "exact_copies": {"count": copies, "share": copies / len(synth) if len(synth) else 0.0},
    }
    if holdout is None or not len(holdout):
        result["skipped"] = "no real holdout: the DCR ratio, closer-to-train share and membership inference need one"
        return result
    holdout_points = encoder.encode(holdout)
    dcr_holdout = to_train.kneighbors(holdout_points)[0][:, 0]
    result["dcr"]["holdout_to_train"] = _summary(dcr_holdout)
    median_holdout = float(numpy.median(dcr_holdout))
    result["dcr"]["ratio"] = float(numpy.median(dcr_synth)) / median_holdout if median_holdout > 0 else None
    dcr_synth_holdout = neighbors.NearestNeighbors(n_neighbors=1).fit(holdout_points).kneighbors(synth_points)[0][:, 0]
    closer = numpy.where(dcr_synth < dcr_synth_holdout, 1.0, numpy.where(dcr_synth == dcr_synth_holdout, 0.5, 0.0))
    result["closer_to_train"] = {"share": float(closer.mean()) if len(closer) else None,
                                 "expected_share": len(train) / (len(train) + len(holdout))}
    holdout_copies = sum(1 for k in row_keys(holdout, kinds) if k in train_keys)
    result["exact_copies"]["holdout_share"] = holdout_copies / len(holdout)
    result["membership_inference"] = membership_inference(train_points, holdout_points, synth_points)
    result["histogram"] = {"synthetic_to_train": dcr_synth.round(6).tolist(), "holdout_to_train": dcr_holdout.round(6).tolist()}
    return result


def membership_inference(members: np.ndarray, non_members: np.ndarray, synth: np.ndarray) -> dict[str, Any]:
    """AUC of telling ``members`` from ``non_members`` by closeness to the nearest ``synth`` point."""
    numpy, metrics, neighbors = need("numpy"), need("sklearn.metrics"), need("sklearn.neighbors")
    if not len(synth):
        return {"auc": None, "skipped": "no synthetic rows"}
    index = neighbors.NearestNeighbors(n_neighbors=1).fit(synth)
    scores = -numpy.concatenate([index.kneighbors(members)[0][:, 0], index.kneighbors(non_members)[0][:, 0]])
    labels = numpy.array([1] * len(members) + [0] * len(non_members))
    return {"auc": float(metrics.roc_auc_score(labels, scores)), "members": len(members), "non_members": len(non_members),
            "score": "minus the distance to the nearest synthetic row"}


def _summary(values: np.ndarray) -> dict[str, float | None]:
    numpy = need("numpy")
    if not len(values):
        return {"median": None, "p5": None, "mean": None, "min": None}
    return {"median": float(numpy.median(values)), "p5": float(numpy.percentile(values, 5)),
            "mean": float(values.mean()), "min": float(values.min())}
