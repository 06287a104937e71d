"""The real table a generator learns from: read, checked, split into a training part and a held-out
part (seeded; stratified by a categorical target), with its schema.

The holdout is what an evaluation compares against (utility: train on synthetic, test on the
holdout; privacy: distance to the closest training row against the holdout's), so a generator
only ever sees the training part. :func:`split_table` is a pure function of the table, the
fraction and the seed: any later step recomputes exactly the same split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import TableError, need
from .schema import TableSchema, infer_schema
from .table_io import read_table, write_table

if TYPE_CHECKING:
    import pandas as pd

#: names the record layer keeps for itself (a record's id and lineage)
RESERVED_COLUMNS = ("id", "_lineage")


@dataclass
class RealTable:
    """The training part, the held-out part and the schema of one real table."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    schema: TableSchema

    def write(self, folder: str | Path) -> dict[str, Path]:
        """Write ``train.parquet``, ``holdout.parquet`` and ``schema.yaml`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        out = {"train": write_table(self.train, folder / "train.parquet"),
               "holdout": write_table(self.holdout, folder / "holdout.parquet"),
               "schema": folder / "schema.yaml"}
        tmp = folder / ".schema.yaml.tmp"
        self.schema.to_yaml(tmp)
        tmp.replace(out["schema"])
        return out


def split_table(df: pd.DataFrame, holdout: float, seed: int, *, stratify: str | None = None
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``df`` into (train, holdout) with ``holdout`` of the rows held out (0 holds out none).
    ``stratify`` names a column whose value shares the split keeps, when every value has 2+ rows."""
    if not 0.0 <= holdout < 1.0:
        raise TableError(f"holdout must be a fraction in [0, 1), not {holdout!r}; fix: e.g. holdout: 0.2")
    if holdout == 0.0:
        return df.reset_index(drop=True), df.iloc[0:0].reset_index(drop=True)
    model_selection = need("sklearn.model_selection")
    labels = None
    if stratify is not None and stratify in df.columns:
        counts = df[stratify].value_counts(dropna=False)
        n_test = int(round(holdout * len(df)))
        if len(counts) > 1 and counts.min() >= 2 and len(counts) <= n_test and len(counts) <= len(df) - n_test:
            labels = df[stratify].astype(str)
    train, test = model_selection.train_test_split(df, test_size=holdout, random_state=seed, stratify=labels)
    if len(train) < 2:
        raise TableError(f"holdout {holdout} leaves {len(train)} training row(s) of {len(df)}; fix: a smaller holdout")
    train, test = train.sort_index(), test.sort_index()
    train.attrs, test.attrs = dict(df.attrs), dict(df.attrs)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def load_real_table(real: str, *, holdout: float = 0.2, seed: int = 0, schema: str | None = None,
                    max_categories: int = 20, drop: list[str] | None = None, target: str | None = None) -> RealTable:
    """Read ``real`` (see :func:`read_table`), drop ``drop`` columns, split it, and take the schema from the
    ``schema`` YAML file or infer it from the whole table (so every real value is in range)."""
    df = read_table(real)
    missing = [c for c in drop or [] if c not in df.columns]
    if missing:
        raise TableError(f"{real}: cannot drop {missing}: no such column(s); fix: drop some of {list(df.columns)}")
    df = df.drop(columns=list(drop or []))
    clash = [c for c in df.columns if c in RESERVED_COLUMNS]
    if clash:
        raise TableError(f"{real}: column {clash[0]!r} is reserved for record ids and lineage; fix: add `drop: [{clash[0]}]` "
                         f"to the step (in the table recipes: --set drop=[{clash[0]}])")
    if target is not None:
        df.attrs["target"] = target
    table_schema = TableSchema.from_yaml(schema) if schema else infer_schema(df, max_categories=max_categories, source=real)
    if table_schema.names != list(df.columns):
        raise TableError(f"{schema}: its columns {table_schema.names} are not the table's {list(df.columns)}; fix: "
                         f"list the same columns in the same order (or leave `schema` out to infer it)")
    train, test = split_table(df, holdout, seed, stratify=table_schema.target)
    return RealTable(train, test, table_schema)
