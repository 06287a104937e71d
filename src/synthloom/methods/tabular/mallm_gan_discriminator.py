"""MALLM-GAN's discriminator: a scikit-learn classifier that tells real rows from a round's synthetic rows.

In MALLM-GAN (Ling, Jiang & Kim 2024, arXiv:2406.10521) the discriminator is a conventional classifier, not
an LLM: it is trained on real rows (label 0) against the generator's rows (label 1), and its accuracy is the
score the optimizer LLM tries to push down (0.5: it cannot tell them apart). Here a random forest is scored
by stratified k-fold cross-validation on a balanced sample (as many real rows as valid synthetic ones; a
synthetic row equal to a real one shares its fold, :func:`~synthloom.tabular.evaluate.columns.twin_groups`,
so copying real rows cannot score below chance), so every
row gets an out-of-fold probability of being synthetic: the synthetic rows it took for real
(``passed_as_real``, its mistakes) and those it caught most surely (``caught``) go to the optimizer as
examples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...tabular.errors import need
from ...tabular.evaluate.columns import (
    CATEGORICAL,
    NUMERIC,
    category_text,
    model_features,
    model_frame,
    row_keys,
    split_kinds,
    twin_groups,
)
from ...tabular.schema import parse_datetime

if TYPE_CHECKING:
    import pandas as pd

    from ...tabular.schema import TableSchema

#: fewest valid synthetic rows a round needs to be scored
MIN_ROWS = 2


@dataclass
class Verdict:
    """The discriminator's judgement of one round: out-of-fold ``accuracy`` and ``auc`` (``None`` with a
    ``note`` when the round had too few valid rows), and example synthetic rows it got wrong and right."""

    accuracy: float | None
    auc: float | None = None
    rows: int = 0
    passed_as_real: list[dict[str, Any]] = field(default_factory=list)
    caught: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "auc": self.auc, "rows": self.rows, "passed_as_real": self.passed_as_real,
                "caught": self.caught, "note": self.note}


def schema_kinds(schema: TableSchema) -> dict[str, str]:
    """Numbers and dates are numeric features; categories, booleans and text categorical ones."""
    return {c.name: NUMERIC if c.type in ("integer", "number", "datetime") else CATEGORICAL for c in schema.columns}


def feature_frame(rows: list[dict[str, Any]], schema: TableSchema) -> pd.DataFrame:
    """``rows`` as the classifier's table (dates as days since 1970, categories as text)."""
    pandas = need("pandas")
    out: dict[str, list[Any]] = {}
    for col in schema.columns:
        values = [r.get(col.name) for r in rows]
        if col.type == "datetime":
            values = [_days(v) for v in values]
        if col.type in ("integer", "number", "datetime"):
            out[col.name] = [float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else float("nan") for v in values]
        else:
            out[col.name] = [category_text(v) for v in values]
    return pandas.DataFrame(out, columns=schema.names)


def discriminate(real_rows: list[dict[str, Any]], synthetic_rows: list[dict[str, Any]], schema: TableSchema, *,
                 seed: int = 0, examples: int = 3, folds: int = 5) -> Verdict:
    """Train and score the discriminator on ``real_rows`` against ``synthetic_rows`` (the round's valid rows;
    ``real_rows`` at least as many, only the first ``len(synthetic_rows)`` used)."""
    numpy, pandas = need("numpy"), need("pandas")
    ensemble, metrics, selection, pipeline = (need("sklearn.ensemble"), need("sklearn.metrics"),
                                              need("sklearn.model_selection"), need("sklearn.pipeline"))
    n = min(len(synthetic_rows), len(real_rows))
    if n < MIN_ROWS:
        return Verdict(None, rows=len(synthetic_rows),
                       note=f"{len(synthetic_rows)} valid synthetic row(s); the discriminator needs {MIN_ROWS} at least")
    kinds = schema_kinds(schema)
    numeric, categorical = split_kinds(kinds)
    frame = pandas.concat([feature_frame(real_rows[:n], schema), feature_frame(synthetic_rows[:n], schema)], ignore_index=True)
    labels = numpy.array([0] * n + [1] * n)
    keys = row_keys(frame, kinds)
    groups = numpy.array(twin_groups(keys[:n], keys[n:]))
    model = pipeline.make_pipeline(model_features(numeric, categorical), ensemble.RandomForestClassifier(
        n_estimators=50, random_state=seed, n_jobs=1))
    cv = selection.StratifiedGroupKFold(n_splits=max(2, min(folds, n, len(set(groups.tolist())))), shuffle=True, random_state=seed)
    proba = selection.cross_val_predict(model, model_frame(frame, numeric, categorical), labels, groups=groups, cv=cv,
                                        method="predict_proba")[:, 1]
    accuracy = float(((proba >= 0.5) == labels).mean())
    synth_proba = proba[n:]
    order = numpy.argsort(synth_proba, kind="stable")
    passed = [{"row": synthetic_rows[i], "p_synthetic": round(float(synth_proba[i]), 3)} for i in order if synth_proba[i] < 0.5]
    caught = [{"row": synthetic_rows[i], "p_synthetic": round(float(synth_proba[i]), 3)} for i in order[::-1] if synth_proba[i] >= 0.5]
    return Verdict(accuracy, float(metrics.roc_auc_score(labels, proba)), rows=n, passed_as_real=passed[:examples],
                   caught=caught[:examples])


def copies(real_rows: list[dict[str, Any]], rows: list[dict[str, Any]], schema: TableSchema) -> int:
    """How many of ``rows`` equal a row of ``real_rows`` in every column."""
    kinds = schema_kinds(schema)
    seen = set(row_keys(feature_frame(real_rows, schema), kinds))
    return sum(1 for key in row_keys(feature_frame(rows, schema), kinds) if key in seen) if rows else 0


def _days(value: Any) -> float | None:
    when = parse_datetime(value)
    return None if when is None else (when - when.__class__(1970, 1, 1)).total_seconds() / 86400.0
