"""What an evaluation reads: the real (training) table, the synthetic table and the real holdout, each a
table spec (a CSV/Parquet/JSONL file, ``sklearn:NAME``) or a run directory.

A run directory of a table generator (see :mod:`synthloom.tabular.generator_step`) stands for its parts:
as the *real* table its ``tables/train.parquet`` (the rows the generator learnt from), as the *synthetic*
table its ``data/`` (the rows it kept); when the real table is a run directory and no holdout is named,
its ``tables/holdout.parquet`` is the holdout and ``tables/schema.yaml`` names the target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import TableError, need

if TYPE_CHECKING:
    import pandas as pd

TABLES = "tables"
BOOKKEEPING = ("id", "_lineage")


@dataclass
class EvaluationInputs:
    """The three tables of an evaluation, the target column, and a line per table saying where it came from."""

    real: pd.DataFrame
    synth: pd.DataFrame
    holdout: pd.DataFrame | None
    target: str | None
    sources: list[str] = field(default_factory=list)


def is_run_dir(path: str | Path) -> bool:
    """Whether ``path`` is a run directory (a ``data/`` folder beside ``run.json`` or ``tables/``)."""
    p = Path(path)
    return p.is_dir() and (p / "data").is_dir() and ((p / "run.json").is_file() or (p / TABLES).is_dir())


def read_rows_folder(folder: Path) -> pd.DataFrame:
    """The records of a folder of shards (a run's ``data/``) as a table, without ids and lineage."""
    from ...io.sources import SourceError, read_records

    pandas = need("pandas")
    try:
        rows = [r for batch in read_records(folder) for r in batch]
    except (SourceError, OSError) as e:
        raise TableError(f"{folder}: cannot read the rows ({e}); fix: point at a run directory or a table file") from None
    frame = pandas.DataFrame(rows)
    return frame.drop(columns=[c for c in BOOKKEEPING if c in frame.columns])


def read_real(spec: str) -> tuple[pd.DataFrame, str]:
    """The real (training) table named by ``spec``, and where it came from."""
    from ..table_io import read_table

    if is_run_dir(spec):
        train = Path(spec) / TABLES / "train.parquet"
        if not train.is_file():
            raise TableError(f"{spec}: a run directory without {TABLES}/train.parquet; fix: give the real table itself "
                             f"(a file or sklearn:NAME), or a run of a table generator")
        return read_table(train), str(train)
    return read_table(spec), spec


def read_synthetic(spec: str) -> tuple[pd.DataFrame, str]:
    """The synthetic table named by ``spec`` (a run directory's ``data/``, a folder of shards, or a file)."""
    from ..table_io import read_table

    path = Path(spec)
    if is_run_dir(path):
        return read_rows_folder(path / "data"), str(path / "data")
    if path.is_dir():
        return read_rows_folder(path), spec
    frame = read_table(spec)
    return frame.drop(columns=[c for c in BOOKKEEPING if c in frame.columns]), spec


def resolve_inputs(real: str, synth: str, holdout: str | None = None, target: str | None = None) -> EvaluationInputs:
    """Read the tables of an evaluation (see the module doc); raises :class:`TableError` with the fix."""
    from ..table_io import read_table

    real_frame, real_from = read_real(real)
    synth_frame, synth_from = read_synthetic(synth)
    sources = [f"real: {real_from}", f"synthetic: {synth_from}"]
    holdout_frame = None
    if holdout:
        holdout_frame = read_real(holdout)[0] if is_run_dir(holdout) else read_table(holdout)
        sources.append(f"holdout: {holdout}")
    elif is_run_dir(real) and (Path(real) / TABLES / "holdout.parquet").is_file():
        held = Path(real) / TABLES / "holdout.parquet"
        holdout_frame = read_table(held)
        sources.append(f"holdout: {held}")
    if target is None:
        target = real_frame.attrs.get("target") or _schema_target(real)
    if target is not None and target not in real_frame.columns:
        raise TableError(f"--target {target}: the real table has no such column; fix: use one of {', '.join(map(str, real_frame.columns))}")
    return EvaluationInputs(real_frame, synth_frame, holdout_frame, target, sources)


def _schema_target(real: str) -> str | None:
    if not is_run_dir(real):
        return None
    schema = Path(real) / TABLES / "schema.yaml"
    if not schema.is_file():
        return None
    from ..schema import TableSchema

    return TableSchema.from_yaml(schema).target
