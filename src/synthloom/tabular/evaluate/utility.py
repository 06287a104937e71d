"""Utility: is the synthetic table as good as the real one for learning the target?

TSTR (train on synthetic, test on real) fits a random forest on the synthetic rows and scores it on a real
holdout the generator never saw; TRTR (train on real, test on real) fits the same model on the real training
rows and scores it on the same holdout. A categorical target is a classification (accuracy, macro F1, ROC
AUC: one-vs-rest macro for several classes), a numeric one a regression (R², MAE). ``ratio`` is TSTR over
TRTR for the task's main metric (macro F1, R²): 1 means the synthetic rows teach as much as the real ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import TableError, need
from .columns import CATEGORICAL, model_features, model_frame, split_kinds

if TYPE_CHECKING:
    import pandas as pd

MAIN_METRIC = {"classification": "f1_macro", "regression": "r2"}


def utility(train: pd.DataFrame, holdout: pd.DataFrame, synth: pd.DataFrame, kinds: Mapping[str, str], target: str,
            *, seed: int = 0) -> dict[str, Any]:
    """TSTR and TRTR scores on ``holdout`` for predicting ``target`` from the other columns."""
    if target not in kinds:
        raise TableError(f"target column {target!r} is not a column of the real table; fix: pick one of {', '.join(kinds)}")
    task = "classification" if kinds[target] == CATEGORICAL else "regression"
    test = holdout[holdout[target].notna()]
    if len(test) == 0:
        raise TableError(f"the holdout has no row with a value in the target column {target!r}; fix: give a holdout with targets")
    result: dict[str, Any] = {"target": target, "task": task, "holdout_rows": len(test),
                              "model": "RandomForest" + ("Classifier" if task == "classification" else "Regressor")
                                       + "(n_estimators=100)"}
    for name, fit_on in (("trtr", train), ("tstr", synth)):
        result[name] = _scores(fit_on[fit_on[target].notna()], test, kinds, target, task, seed)
    main = MAIN_METRIC[task]
    tstr, trtr = result["tstr"].get(main), result["trtr"].get(main)
    result["main_metric"] = main
    result["ratio"] = tstr / trtr if tstr is not None and trtr else None
    return result


def _scores(fit_on: pd.DataFrame, test: pd.DataFrame, kinds: Mapping[str, str], target: str, task: str,
            seed: int) -> dict[str, Any]:
    ensemble, metrics, pipeline = need("sklearn.ensemble"), need("sklearn.metrics"), need("sklearn.pipeline")
    numeric, categorical = split_kinds(kinds, exclude=[target])
    if len(fit_on) < 2:
        return {"skipped": f"only {len(fit_on)} training row(s) with a target"}
    if task == "classification" and fit_on[target].nunique() < 2:
        return {"skipped": f"the training rows hold one class only ({fit_on[target].iloc[0]!r})"}
    estimator = (ensemble.RandomForestClassifier if task == "classification" else ensemble.RandomForestRegressor)(
        n_estimators=100, random_state=seed, n_jobs=1)
    model = pipeline.make_pipeline(model_features(numeric, categorical), estimator)
    y_fit = fit_on[target].astype(object if task == "classification" else float)
    model.fit(model_frame(fit_on, numeric, categorical), y_fit)
    x_test = model_frame(test, numeric, categorical)
    y_test = test[target].astype(object if task == "classification" else float)
    if task == "regression":
        predicted = model.predict(x_test)
        return {"r2": float(metrics.r2_score(y_test, predicted)), "mae": float(metrics.mean_absolute_error(y_test, predicted)),
                "train_rows": len(fit_on)}
    predicted = model.predict(x_test)
    return {"accuracy": float(metrics.accuracy_score(y_test, predicted)),
            "f1_macro": float(metrics.f1_score(y_test, predicted, average="macro", zero_division=0)),
            "auc": _auc(model, x_test, y_test), "train_rows": len(fit_on)}


def _auc(model: Any, x_test: pd.DataFrame, y_test: pd.Series) -> float | None:
    """ROC AUC of the predicted class probabilities: binary, or one-vs-rest macro over the holdout's classes
    (a class the model never saw has probability 0). ``None`` when the holdout holds one class only."""
    numpy, metrics = need("numpy"), need("sklearn.metrics")
    classes = sorted(set(y_test))
    if len(classes) < 2:
        return None
    proba = model.predict_proba(x_test)
    known = {c: i for i, c in enumerate(model.classes_)}
    scores = numpy.column_stack([proba[:, known[c]] if c in known else numpy.zeros(len(x_test)) for c in classes])
    if len(classes) == 2:
        return float(metrics.roc_auc_score(numpy.asarray(y_test) == classes[1], scores[:, 1]))
    totals = scores.sum(axis=1, keepdims=True)
    scores = numpy.where(totals > 0, scores / numpy.where(totals > 0, totals, 1.0), 1.0 / len(classes))
    return float(metrics.roc_auc_score(numpy.asarray(y_test), scores, multi_class="ovr", average="macro", labels=classes))
