"""The step contract: the six shapes a unit of work can take.

A step declares the columns it ``reads`` and ``writes`` so the pipeline can check, before any
model is called, that every column is produced upstream. Shapes:

* :class:`SourceStep`  makes records (a file, a sampler, a generator).
* :class:`MapStep`     one record in, one out (columns added or changed).
* :class:`ExpandStep`  one record in, N out (children get ids derived from the parent).
* :class:`FilterStep`  one record in, kept or rejected with a reason (and optionally a score).
* :class:`GlobalStep`  needs all rows (dedup, selection); reads them as a stream from disk.
* :class:`LoopStep`    runs a body of 1→1 steps on each record until a condition or N rounds.

Streaming steps (map, expand, filter, loop and LLM steps) all expose one coroutine,
:meth:`StreamStep.process`, which returns the output records or a :class:`Rejected`; an exception
makes an error row. The engine never looks further inside a step: it calls the hooks declared on
:class:`Step` (``setup``, ``aclose``, ``output_columns``, ``substeps``, ``after_run``) and, for a
source, ``read`` or ``aread``.

A step's options are its constructor's keyword arguments, captured at construction into
``step.config`` (see :mod:`synthloom.pipeline.config`): nothing about them is kept by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..records import ID, adopt_rows
from .config import bind_config, canonical

if TYPE_CHECKING:
    from .context import StepContext


@dataclass(slots=True)
class Rejected:
    """A filter's verdict against a record: which rule, why, and an optional score.
    ``duplicate_of`` names the surviving row's id when the reason is duplication."""

    reason: str
    score: float | None = None
    duplicate_of: str | None = None


@dataclass(slots=True)
class RejectedRow:
    """A row a global step removes, with its verdict (global steps yield these among kept rows)."""

    record: dict[str, Any]
    verdict: Rejected


class Step:
    """Base of every step. A shape's base class sets ``kind``; subclasses implement its method.

    ``name`` is unique within a pipeline; ``inputs`` names upstream steps (empty = the step
    before it). ``citations`` flow into the dataset card. ``models`` lists the model names
    (keys of the recipe's ``models:``) the step calls. ``config`` holds every option the step
    was built with, defaults included (captured from the constructor's arguments).
    """

    kind: ClassVar[str] = "step"
    type_name: ClassVar[str] = ""  # the `type:` of this step in a recipe, when registered
    #: options a recipe cannot give (Python callables); left out of the recipe schema and docs
    python_only_options: ClassVar[tuple[str, ...]] = ()
    #: options a parent class takes that this type refuses (e.g. a jury names ``models``, not ``model``)
    dropped_options: ClassVar[tuple[str, ...]] = ()
    #: options that change only how fast a step runs, never its rows (workers, buckets): in the lock
    #: file but not in the fingerprint, so changing them resumes
    runtime_options: ClassVar[tuple[str, ...]] = ()
    #: whether the step takes the sampling options (``temperature``, ``max_tokens``...) as ``**sampling``
    takes_sampling: ClassVar[bool] = False
    config: dict[str, Any]

    def __new__(cls, *args: Any, **kwargs: Any) -> Step:
        self = super().__new__(cls)
        self.config = bind_config(cls, args, kwargs)[1]
        return self

    def __init__(
        self,
        name: str,
        *,
        inputs: Iterable[str] = (),
        reads: Iterable[str] = (),
        writes: Iterable[str] = (),
        citations: Iterable[str] = (),
        models: Iterable[str] = (),
    ) -> None:
        if not name or not isinstance(name, str):
            raise ValueError("every step needs a non-empty name")
        self.name = name
        self.inputs: list[str] = list(inputs)
        self.reads: set[str] = set(reads)
        self.writes: set[str] = set(writes)
        self.citations: list[str] = list(citations)
        self.models: list[str] = list(models)
        self.ctx: StepContext | None = None

    def setup(self, ctx: StepContext) -> None:
        """Called once before the run with the run's context (models, params, state folder)."""
        self.ctx = ctx

    async def aclose(self) -> None:
        """Release what ``setup`` acquired."""

    def output_columns(self, available: set[str]) -> set[str]:
        """The columns downstream steps see, given the ``available`` upstream ones."""
        return available | self.writes

    def substeps(self) -> list[Step]:
        """Steps this one runs inside itself (a loop's body)."""
        return []

    def after_run(self, out: Path, log: Callable[[str], None]) -> None:
        """Runs once after a completed run (in a thread), with the run folder; e.g. a report."""

    def options(self) -> dict[str, Any]:
        """Every option, defaults included, in a JSON-able form (for the lock file)."""
        return {k: canonical(v) for k, v in self.config.items() if k != "inputs"}

    def describe(self) -> dict[str, Any]:
        """What identifies this step's behaviour (part of the run fingerprint): its class, all its
        options, and the code of the methods a user's subclass defines."""
        from .fingerprint import class_code_fingerprint

        options = {k: v for k, v in self.options().items() if k not in self.runtime_options}
        return {"name": self.name, "type": self.type_name or None, "class": type(self).__qualname__,
                "kind": self.kind, "inputs": self.inputs, "code": class_code_fingerprint(type(self)),
                "options": options}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class SourceStep(Step):
    """Makes records. ``columns`` must list the columns its records have (checked downstream).
    Implement :meth:`read` (an iterator, run in an I/O thread) or, for a source that awaits
    (calls a model), :meth:`aread` (an async iterator, run on the event loop)."""

    kind = "source"
    columns: Iterable[str] = ()

    def read(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Yield records (without ids: the engine assigns them). Stop after ``limit`` when given."""
        raise NotImplementedError(f"source {self.name!r} implements neither read() nor aread()")

    async def aread(self, limit: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """The async form of :meth:`read`; by default the records :meth:`read` yields."""
        for record in self.read(limit):
            yield record

    @property
    def is_async(self) -> bool:
        """Whether this source overrides :meth:`aread` (the engine then iterates it on the loop)."""
        return type(self).aread is not SourceStep.aread

    def count(self, limit: int | None = None) -> int | None:
        """How many records ``read`` will yield, when cheap to know (for progress ETA)."""
        return None

    def fingerprint(self) -> str:
        """Identity of the data read (e.g. file path, size and mtime): a change recomputes."""
        return ""


class DrawnSource(SourceStep):
    """A source of ``n`` records where record ``i`` is :meth:`draw` ``(i)``: deterministic in the index (and
    the step's seed), so a resumed or extended run draws the same records. Set ``self.n`` in ``__init__``."""

    n: int = 0

    def draw(self, index: int) -> dict[str, Any]:
        """Record number ``index`` (without an id)."""
        raise NotImplementedError(f"source {self.name!r} does not implement draw()")

    def read(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        for i in range(self.count(limit) or 0):
            yield self.draw(i)

    def count(self, limit: int | None = None) -> int | None:
        return self.n if limit is None else min(self.n, limit)


class StreamStep(Step):
    """A step applied to each record as it streams past. ``cpu_bound`` steps run in a thread so
    the event loop keeps serving model requests."""

    cpu_bound: bool = False

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        raise NotImplementedError


class MapStep(StreamStep):
    """One record in, one record out. Override :meth:`map` (sync) or :meth:`amap` (async)."""

    kind = "map"

    def map(self, record: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    async def amap(self, record: dict[str, Any]) -> dict[str, Any]:
        if self.cpu_bound:
            return await asyncio.get_running_loop().run_in_executor(None, self.map, record)
        return self.map(record)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        out = await self.amap(record)
        if isinstance(out, Rejected):
            return out
        if out.get(ID) != record.get(ID):
            out[ID] = record.get(ID)
        return [out]


class ExpandStep(StreamStep):
    """One record in, any number out; child ``j`` gets ``derive_id(parent id, step, j)`` and a
    lineage entry ``{"step", "parent"}``."""

    kind = "expand"

    def expand(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def aexpand(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        if self.cpu_bound:
            return await asyncio.get_running_loop().run_in_executor(None, self.expand, record)
        return self.expand(record)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        children = await self.aexpand(record)
        return adopt_rows(record, list(children), self.name, [{"step": self.name}])


class FilterStep(StreamStep):
    """Keeps or rejects each record. :meth:`check` returns ``True``/``False``, a
    :class:`Rejected`, or ``(keep, reason)`` / ``(keep, reason, score)``."""

    kind = "filter"

    def check(self, record: dict[str, Any]) -> bool | Rejected | tuple:
        raise NotImplementedError

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        if self.cpu_bound:
            verdict = await asyncio.get_running_loop().run_in_executor(None, self.check, record)
        else:
            verdict = self.check(record)
        return [record] if (v := as_verdict(verdict, self.name)) is None else v


def as_verdict(verdict: bool | Rejected | tuple, step: str) -> Rejected | None:
    """Normalise a filter's return value: ``None`` means keep."""
    if isinstance(verdict, Rejected):
        return verdict
    if isinstance(verdict, tuple):
        keep, reason, *rest = verdict
        return None if keep else Rejected(str(reason), rest[0] if rest else None)
    return None if verdict else Rejected(f"rejected by {step}")


class GlobalStep(Step):
    """Needs all rows before it can emit any (dedup, selection). :meth:`run` receives an
    iterator over the upstream rows read back from disk and yields kept records and
    :class:`RejectedRow` items; use ``self.ctx.spill_dir`` for anything too large for memory.
    Output order must be deterministic for the same input (resume relies on it)."""

    kind = "global"

    def run(self, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any] | RejectedRow]:
        raise NotImplementedError


class JoinStep(GlobalStep):
    """Merges two or more upstream branches by key columns (the first input is the left side).
    Its :meth:`run_join` gets one row iterator per input."""

    kind = "join"

    def run_join(
        self, inputs: list[Iterator[dict[str, Any]]]
    ) -> Iterator[dict[str, Any] | RejectedRow]:
        raise NotImplementedError


class LoopBody:
    """Marks a streaming step that may run in a loop body besides maps and filters (model steps):
    the loop checks at run time that it made exactly one row."""


class LoopStep(StreamStep):
    """Runs ``body`` (1→1 steps: maps, LLM maps, filters) on each record, round after round,
    until ``until(record)`` is true or ``max_rounds`` rounds ran. A filter rejecting inside the
    body rejects the record. ``round_column`` records how many rounds ran."""

    kind = "loop"

    def __init__(
        self,
        name: str,
        body: list[StreamStep],
        *,
        until: Callable[[dict[str, Any]], bool] | None = None,
        max_rounds: int = 3,
        round_column: str = "rounds",
        inputs: Iterable[str] = (),
    ) -> None:
        for s in body:
            if not isinstance(s, (MapStep, FilterStep, LoopBody)):
                raise ValueError(
                    f"loop {name!r}: step {s.name!r} is a {s.kind} step; a loop body takes map, model and filter steps"
                )
        reads: set[str] = set()
        produced: set[str] = set()
        for s in body:
            reads |= s.reads - produced
            produced |= s.writes
        super().__init__(
            name,
            inputs=inputs,
            reads=reads,
            writes=produced | {round_column},
            citations=[c for s in body for c in s.citations],
            models=sorted({m for s in body for m in s.models}),
        )
        if max_rounds < 1:
            raise ValueError(f"loop {name!r}: max_rounds must be >= 1")
        self.body = body
        self.until = until
        self.max_rounds = max_rounds
        self.round_column = round_column

    def setup(self, ctx: StepContext) -> None:
        super().setup(ctx)
        for s in self.body:
            s.setup(ctx.for_step(s.name))

    async def aclose(self) -> None:
        for s in self.body:
            await s.aclose()

    def substeps(self) -> list[Step]:
        return list(self.body)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        current = record
        for round_no in range(1, self.max_rounds + 1):
            for s in self.body:
                out = await s.process(current)
                if isinstance(out, Rejected):
                    return Rejected(f"{s.name}: {out.reason} (round {round_no})", out.score, out.duplicate_of)
                if len(out) != 1:
                    raise RuntimeError(f"loop {self.name!r}: step {s.name!r} returned {len(out)} records; a loop body must be 1→1")
                current = out[0]
            current[self.round_column] = round_no
            if self.until is not None and self.until(current):
                break
        return [current]
