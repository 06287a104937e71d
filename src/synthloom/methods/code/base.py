"""The model step the code methods build on: several model calls per record (samples, follow-ups,
repair rounds) through :meth:`ModelStep.call`, a sandbox the step owns, and the rows it emits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from ...pipeline.model_step import ModelStep
from ...pipeline.step import Rejected
from ...records import adopt_rows, user_columns
from .execution import SandboxClient

Rows = dict[str, Any] | list[dict[str, Any]]


class CodeMethodStep(ModelStep):
    """Base of the code methods. Subclasses implement :meth:`run` (the method for one record) and
    return rows (a dict keeps the record's id; list items get derived ids) or a :class:`Rejected`,
    with the lineage entries of the calls made. Sandbox options: ``timeout`` (seconds per test),
    ``memory_mb``, ``workers`` (speed only). Templates see the record's columns plus the names in
    ``view_names`` (filled by the step, not read from the row)."""

    runtime_options = ("workers",)
    view_names: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, name: str, *, reads: Iterable[str] = (), writes: Iterable[str] = (), model: str = "default",
                 timeout: float = 5.0, memory_mb: int = 512, workers: int | None = None, inputs: Iterable[str] = (),
                 citations: Iterable[str] = (), **sampling: Any) -> None:
        super().__init__(name, model=model, inputs=inputs, citations=citations, reads=reads, writes=writes,
                         **sampling)
        self.sandbox = SandboxClient(timeout=timeout, memory_mb=memory_mb, workers=workers)

    def template(self, given: str | None, packaged: str) -> str:
        """The template ``given`` in the recipe, else the ``packaged`` file beside the module; the
        columns it reads (other than ``view_names``) are declared."""
        source = given if given is not None else self.load_template(packaged)
        self.read_columns(source, not_columns=self.view_names)
        return source

    async def run(self, record: dict[str, Any]) -> tuple[Rows | Rejected, list[dict[str, Any]]]:
        """The method on one record: ``(rows or Rejected, lineage entries)``."""
        raise NotImplementedError

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        out, lineage = await self.run(record)
        return out if isinstance(out, Rejected) else adopt_rows(record, out, self.name, lineage)

    @staticmethod
    def base_columns(record: dict[str, Any]) -> dict[str, Any]:
        return dict(user_columns(record))

    async def aclose(self) -> None:
        self.sandbox.close()
