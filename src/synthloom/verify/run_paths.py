"""A verify command must never overwrite (or, on a rerun, delete) the data it reads.

``synthloom verify code|math FILE -o OUT`` writes a run directory: ``OUT/data``, ``OUT/rejected``,
``OUT/errors``, ``OUT/.state``, ``OUT/run.json``, ... and clears them when it starts over. If
``FILE`` is one of those, or lies inside one, or ``OUT`` lies inside a ``FILE`` folder, the run
would write into (and a rerun delete) its own input. :func:`in_place_problem` says so before
anything is written.
"""

from __future__ import annotations

import os
from pathlib import Path

#: what a run writes or clears inside its output folder (see :mod:`synthloom.io.rundir`)
RUN_OUTPUTS = ("data", "rejected", "errors", ".state", "card.md", "recipe.lock.yaml", "run.json", "report")


def in_place_problem(source: str | os.PathLike[str], out: str | os.PathLike[str]) -> str | None:
    """Why writing the run directory ``out`` would touch the input ``source`` (None when it
    would not). Paths are compared after resolving symbolic links."""
    src, root = Path(source).resolve(), Path(out).resolve()
    if src == root:
        return f"the input {source} is the output folder -o {out}"
    if _inside(root, src):
        return f"the output folder -o {out} lies inside the input folder {source}"
    for name in RUN_OUTPUTS:
        written = (root / name).resolve()
        if src == written or _inside(src, written):
            return f"the input {source} lies in {name} of the output folder -o {out}, which the run rewrites"
    return None


def _inside(path: Path, folder: Path) -> bool:
    return folder in path.parents
