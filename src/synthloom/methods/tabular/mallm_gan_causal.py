"""The causal structure MALLM-GAN puts in its generator prompt, learnt from the real training rows.

MALLM-GAN (Ling, Jiang & Kim 2024, arXiv:2406.10521) gives the generator the data-generation process as
context, including a causal graph over the columns found by a causal-discovery algorithm. Here the graph
comes from the PC algorithm of ``causal-learn`` (Spirtes, Glymour & Scheines 2000) with Fisher's z
conditional-independence test: numbers as they are, booleans as 0/1, dates as days since 1970, categories as
integer codes (a Gaussian approximation — a documented shortcut: PC with a test for mixed data, e.g. KCI,
costs far more on a 2-core machine); missing values take the column's median (a missing category is a code of
its own); constant and free-text columns are left out. PC returns a CPDAG: ``A -> B`` where the direction is
identified, ``A -- B`` where the data leave it open. When discovery fails (too few rows, a singular
correlation matrix) the structure is empty and ``note`` says why, so generation goes on without it.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...tabular.errors import need
from ...tabular.schema import parse_datetime

if TYPE_CHECKING:
    import pandas as pd

    from ...tabular.schema import TableSchema

#: fewest rows PC runs on; most rows it reads (a seeded sample above that)
MIN_ROWS, MAX_ROWS = 10, 2000


@dataclass
class CausalStructure:
    """Edges ``(a, b, kind)`` with kind ``"->"`` (a causes b) or ``"--"`` (related, direction open)."""

    edges: list[tuple[str, str, str]] = field(default_factory=list)
    method: str = "pc"
    note: str = ""

    def lines(self) -> list[str]:
        """One ``a -> b`` / ``a -- b`` line per edge."""
        return [f"{a} {kind} {b}" for a, b, kind in self.edges]

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "edges": self.lines(), "note": self.note}


def encode_for_discovery(train: pd.DataFrame, schema: TableSchema) -> tuple[list[str], Any]:
    """The columns PC reads and the numeric matrix of ``train`` over them (see the module doc)."""
    numpy, pandas = need("numpy"), need("pandas")
    names, blocks = [], []
    for col in schema.columns:
        values = train[col.name]
        if col.type in ("integer", "number"):
            x = pandas.to_numeric(values, errors="coerce").astype(float)
        elif col.type == "boolean":
            x = values.map(lambda v: None if v is None or v != v else float(bool(v))).astype(float)
        elif col.type == "datetime":
            x = values.map(lambda v: _days(parse_datetime(v))).astype(float)
        elif col.type == "categorical":
            x = pandas.Series(pandas.Categorical(values.astype(object).where(values.notna(), "\x00missing")).codes,
                              index=values.index).astype(float)
        else:
            continue  # free text: no place in a Gaussian test
        if x.notna().any():
            x = x.fillna(x.median())
        if x.nunique(dropna=True) < 2:
            continue
        names.append(col.name)
        blocks.append(x.to_numpy())
    return names, numpy.column_stack(blocks) if blocks else numpy.zeros((len(train), 0))


def learn_structure(train: pd.DataFrame, schema: TableSchema, *, alpha: float = 0.05, seed: int = 0) -> CausalStructure:
    """PC over ``train`` (a seeded sample of :data:`MAX_ROWS` rows at most); never raises for a table PC cannot
    handle — the structure is then empty, with the reason in ``note``."""
    numpy = need("numpy")
    names, data = encode_for_discovery(train, schema)
    if len(names) < 2:
        return CausalStructure(note=f"fewer than two columns PC can read ({', '.join(names) or 'none'})")
    if len(data) < MIN_ROWS:
        return CausalStructure(note=f"only {len(data)} training rows; PC needs {MIN_ROWS} at least")
    if len(data) > MAX_ROWS:
        data = data[numpy.sort(numpy.random.default_rng(seed).choice(len(data), MAX_ROWS, replace=False))]
    need("causallearn")
    from causallearn.search.ConstraintBased.PC import pc

    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            graph = pc(data, alpha, "fisherz", show_progress=False, node_names=names).G.graph
    except (ValueError, ArithmeticError, numpy.linalg.LinAlgError) as e:
        return CausalStructure(note=f"PC failed ({type(e).__name__}: {e}); the prompt has no causal structure")
    edges = []
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if graph[j, i] == 1 and graph[i, j] == -1:
                edges.append((a, b, "->"))
            elif i < j and graph[i, j] == -1 and graph[j, i] == -1:
                edges.append((a, b, "--"))
            elif i < j and graph[i, j] == 1 and graph[j, i] == 1:
                edges.append((a, b, "--"))  # PC's bidirected edge: a shared cause, no direction either way
    return CausalStructure(edges=edges, note="" if edges else "PC found every pair of columns independent")


def _days(when: Any) -> float | None:
    if when is None:
        return None
    return (when - when.__class__(1970, 1, 1)).total_seconds() / 86400.0
