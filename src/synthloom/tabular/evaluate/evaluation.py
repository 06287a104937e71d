"""``evaluate_table``: fidelity, utility and privacy of a synthetic table, as one JSON-able dict.

The *real* table is the one the generator learnt from (its training rows); the optional *holdout* holds
real rows it never saw, which utility (TSTR against TRTR) and the privacy yardsticks need. Without a
holdout those parts say they were skipped and why — splitting the real table here would not help, since
the generator has seen all of it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import TableError
from .columns import aligned, column_kinds
from .fidelity import fidelity
from .privacy import privacy
from .utility import utility

if TYPE_CHECKING:
    import pandas as pd

#: the headline numbers, in the order reports show them: (key, label, what is good)
SUMMARY = [
    ("ks_mean", "KS statistic, mean over numeric columns", "0 = same marginals"),
    ("tv_mean", "total variation, mean over categorical columns", "0 = same frequencies"),
    ("association_diff", "association matrix, mean |real − synthetic|", "0 = same pairwise structure"),
    ("c2st_auc", "C2ST discriminator AUC", "0.5 = indistinguishable"),
    ("tstr", "TSTR (train synthetic, test real holdout)", "close to TRTR"),
    ("trtr", "TRTR (train real, test real holdout)", "the reference"),
    ("tstr_over_trtr", "TSTR / TRTR", "1 = as useful as the real rows"),
    ("dcr_ratio", "DCR ratio (median synthetic / holdout)", "≥ 1 = no closer than fresh real rows"),
    ("closer_to_train_share", "share of synthetic rows closer to training than holdout", "≈ the expected share"),
    ("exact_copies_share", "exact copies of training rows", "0"),
    ("membership_auc", "membership inference AUC", "0.5 = chance"),
]


def evaluate_table(real: pd.DataFrame, synth: pd.DataFrame, *, holdout: pd.DataFrame | None = None,
                   target: str | None = None, kinds: Mapping[str, str] | None = None, seed: int = 0) -> dict[str, Any]:
    """Every metric of ``synth`` against ``real`` (and ``holdout``); ``target`` defaults to ``real.attrs["target"]``
    (set by :func:`synthloom.tabular.table_io.read_table` for bundled datasets). ``kinds`` overrides column kinds."""
    started = time.perf_counter()
    if not len(real):
        raise TableError("the real table has no rows; fix: give the table the synthetic rows were made from")
    if not len(synth):
        raise TableError("the synthetic table has no rows; fix: give a table of generated rows")
    target = target or real.attrs.get("target")
    all_kinds = column_kinds(real, kinds)
    real_a = aligned(real, all_kinds, "real")
    synth_a = aligned(synth, all_kinds, "synthetic")
    holdout_a = aligned(holdout, all_kinds, "holdout") if holdout is not None and len(holdout) else None
    result: dict[str, Any] = {
        "rows": {"real": len(real_a), "synthetic": len(synth_a), "holdout": len(holdout_a) if holdout_a is not None else 0},
        "columns": all_kinds,
        "target": target,
        "seed": seed,
        "fidelity": fidelity(real_a, synth_a, all_kinds, seed=seed),
    }
    if target is None:
        result["utility"] = {"skipped": "no target column; fix: name one (--target COL)"}
    elif holdout_a is None:
        result["utility"] = {"skipped": "no real holdout to test on; fix: give one (--holdout FILE)"}
    else:
        result["utility"] = utility(real_a, holdout_a, synth_a, all_kinds, target, seed=seed)
    result["privacy"] = privacy(real_a, synth_a, all_kinds, holdout_a)
    result["summary"] = summary(result)
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


def summary(result: Mapping[str, Any]) -> dict[str, Any]:
    """The headline numbers of an :func:`evaluate_table` result (``None`` where not computed)."""
    fid, util, priv = result["fidelity"], result["utility"], result["privacy"]
    main = util.get("main_metric")
    return {
        "ks_mean": fid["ks_mean"],
        "tv_mean": fid["tv_mean"],
        "association_diff": fid["associations"]["mean_abs_diff"],
        "c2st_auc": fid["c2st"]["auc"],
        "utility_metric": main,
        "tstr": util.get("tstr", {}).get(main) if main else None,
        "trtr": util.get("trtr", {}).get(main) if main else None,
        "tstr_over_trtr": util.get("ratio"),
        "dcr_ratio": priv["dcr"].get("ratio"),
        "dcr_synthetic_median": priv["dcr"]["synthetic_to_train"]["median"],
        "closer_to_train_share": (priv.get("closer_to_train") or {}).get("share"),
        "exact_copies_share": priv["exact_copies"]["share"],
        "membership_auc": (priv.get("membership_inference") or {}).get("auc"),
    }
