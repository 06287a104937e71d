"""Reading and writing whole tables: CSV, TSV, Parquet, JSONL (and JSON arrays of rows), and the
datasets that ship inside scikit-learn, by name: ``sklearn:iris``, ``sklearn:wine``,
``sklearn:breast_cancer``, ``sklearn:diabetes`` (nothing is downloaded).

A bundled dataset comes with its target column (``target``): class labels as their names
(``setosa``...) for the classification sets, the numeric target for ``diabetes``; its feature names
are made identifiers (``sepal length (cm)`` → ``sepal_length_cm``) so they read well in templates,
expressions and JSON. ``df.attrs["target"]`` names the target column, which
:func:`synthloom.tabular.schema.infer_schema` marks.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import TableError, need

if TYPE_CHECKING:
    import pandas as pd

#: name -> (scikit-learn loader, whether the target is a class label)
BUNDLED = {
    "iris": ("load_iris", True),
    "wine": ("load_wine", True),
    "breast_cancer": ("load_breast_cancer", True),
    "diabetes": ("load_diabetes", False),
}
FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl",
           ".ndjson": "jsonl", ".json": "json"}


def identifier(name: str) -> str:
    """``sepal length (cm)`` → ``sepal_length_cm``: a column name usable in expressions and templates."""
    out = re.sub(r"[^0-9A-Za-z]+", "_", str(name)).strip("_").lower()
    return out if out and not out[0].isdigit() else f"c_{out}"


def read_table(spec: str | Path) -> pd.DataFrame:
    """The table at ``spec``: a file path (by its suffix) or ``sklearn:NAME`` for a bundled dataset."""
    pandas = need("pandas")
    text = str(spec)
    if text.startswith("sklearn:"):
        return _bundled(text.removeprefix("sklearn:"))
    path = Path(text)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise TableError(f"{text}: cannot tell the table format from the suffix {path.suffix!r}; fix: use a .csv, .tsv, "
                         f".parquet, .jsonl or .json file, or sklearn:{'|'.join(BUNDLED)}")
    if not path.is_file():
        raise TableError(f"{text}: no such file; fix: check the path, or use a bundled table such as sklearn:iris")
    try:
        if kind in ("csv", "tsv"):
            df = pandas.read_csv(path, sep="\t" if kind == "tsv" else ",")
        elif kind == "parquet":
            df = pandas.read_parquet(path)
        elif kind == "jsonl":
            df = pandas.read_json(path, lines=True, orient="records", convert_dates=False)
        else:
            df = pandas.read_json(path, orient="records", convert_dates=False)
    except (ValueError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise TableError(f"{text}: cannot be read as {kind}: {first}; fix: check the file's format") from None
    if df.columns.empty:
        raise TableError(f"{text}: the table has no columns; fix: give a file with a header row and data")
    df.columns = [str(c) for c in df.columns]
    return df


def _bundled(name: str) -> pd.DataFrame:
    if name not in BUNDLED:
        raise TableError(f"sklearn:{name}: not a dataset bundled with scikit-learn; fix: use one of "
                         f"{', '.join('sklearn:' + n for n in BUNDLED)} (others would need a download)")
    datasets = need("sklearn.datasets")
    loader, is_class = BUNDLED[name]
    bunch = getattr(datasets, loader)(as_frame=True)
    df = bunch.frame.copy()
    df.columns = [identifier(c) for c in df.columns]
    if is_class:
        labels = [str(n) for n in bunch.target_names]
        df["target"] = [labels[int(i)] for i in df["target"]]
    df.attrs["target"] = "target"
    return df


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` to ``path`` in the format its suffix names (atomically: a temporary file, then a rename)."""
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise TableError(f"{path}: cannot tell the table format from the suffix {path.suffix!r}; fix: name the file "
                         f".csv, .tsv, .parquet, .jsonl or .json")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    if kind in ("csv", "tsv"):
        df.to_csv(tmp, index=False, sep="\t" if kind == "tsv" else ",")
    elif kind == "parquet":
        df.to_parquet(tmp, index=False)
    elif kind == "jsonl":
        df.to_json(tmp, orient="records", lines=True, date_format="iso", force_ascii=False)
    else:
        df.to_json(tmp, orient="records", date_format="iso", force_ascii=False, indent=1)
    os.replace(tmp, path)
    return path
