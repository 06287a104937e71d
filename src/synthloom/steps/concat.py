"""``concat``: stack the rows of several branches into one dataset (a union, no key)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..pipeline.step import JoinStep, RejectedRow
from ..records import ID, derive_id


class Concat(JoinStep):
    """Yields every row of its first input, then every row of the second, and so on: branches that
    make different kinds of rows from the same sources (Orca-Math's Ask-Me-Anything problems beside
    its Suggester-&-Editor ones) end in one dataset. Rows keep their columns (the dataset's schema
    is their union); ids are derived from each row's id and the index of its input, so two branches
    that kept their source's ids do not collide. ``branch_column`` (when set) records the name of
    the input a row came from. Reads input by input from disk: memory stays bounded. A recipe names
two or more ``inputs`` (the pipeline checks it before the run)."""

    type_name = "concat"

    def __init__(self, name: str, *, inputs: Iterable[str] = (), branch_column: str | None = None) -> None:
        super().__init__(name, inputs=inputs, writes=[branch_column] if branch_column else [])
        self.branch_column = branch_column

    def run_join(self, inputs: list[Iterator[dict[str, Any]]]) -> Iterator[dict[str, Any] | RejectedRow]:
        for index, rows in enumerate(inputs):
            branch = self.inputs[index]
            for row in rows:
                out = {**row, ID: derive_id(str(row.get(ID, "")), self.name, index)}
                if self.branch_column:
                    out[self.branch_column] = branch
                yield out
