"""A pipeline: named steps wired into a DAG, checked before any model is called.

Steps with no ``inputs`` read from the step listed before them, so a plain list is a chain.
Branches are several steps naming the same input; merges are :class:`JoinStep` s naming several.
A pipeline has exactly one final step: its rows are the dataset.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..llm.spec import ModelConfig, ModelSpecError, parse_model_spec
from ..records import RESERVED
from .step import JoinStep, SourceStep, Step


class PipelineError(ValueError):
    """The pipeline cannot run as written. ``step`` names the offending step (recipes map it to a
    file and line); ``hint`` says how to fix it."""

    def __init__(self, message: str, *, step: str | None = None, field: str | None = None, hint: str = ""):
        super().__init__(message)
        self.step = step
        self.field = field
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base}. {self.hint}" if self.hint else base


@dataclass
class Pipeline:
    """Steps plus the named models they use (``{"default": "embedded", "judge": "openai:..."}``
    or ModelConfig objects), plus free-form ``params`` passed to templates and steps."""

    steps: list[Step]
    models: dict[str, ModelConfig | str] = field(default_factory=lambda: {"default": "embedded"})
    name: str = "pipeline"
    description: str = ""
    citations: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        configs: dict[str, ModelConfig] = {}
        for key, value in self.models.items():
            if isinstance(value, ModelConfig):
                configs[key] = value
            else:
                try:
                    configs[key] = parse_model_spec(value, name=key)
                except ModelSpecError as e:
                    raise PipelineError(str(e), field=f"models.{key}") from None
        self.model_configs = configs
        self._wire()

    # -- structure ---------------------------------------------------------------------------
    def _wire(self) -> None:
        seen: dict[str, Step] = {}
        for i, step in enumerate(self.steps):
            if step.name in seen:
                raise PipelineError(f"two steps are named {step.name!r}", step=step.name, hint="give every step a unique name")
            if not step.inputs and step.kind != "source":
                if i == 0:
                    raise PipelineError(
                        f"step {step.name!r} has nothing to read from", step=step.name,
                        hint="start the pipeline with a source step (e.g. type: load) or name its inputs",
                    )
                step.inputs = [self.steps[i - 1].name]
            seen[step.name] = step
        self.by_name = seen

    def consumers(self, name: str) -> list[Step]:
        return [s for s in self.steps if name in s.inputs]

    def final_step(self) -> Step:
        finals = [s for s in self.steps if not self.consumers(s.name)]
        if len(finals) != 1:
            names = ", ".join(s.name for s in finals)
            raise PipelineError(
                f"the pipeline has {len(finals)} final steps ({names})", step=finals[-1].name if finals else None,
                hint="a pipeline produces one dataset: join the branches (type: join) or drop the unused step",
            )
        return finals[0]

    def topological(self) -> list[Step]:
        order: list[Step] = []
        state: dict[str, int] = {}

        def visit(step: Step) -> None:
            if state.get(step.name) == 2:
                return
            if state.get(step.name) == 1:
                raise PipelineError(f"step {step.name!r} is part of a cycle", step=step.name, hint="inputs must point upstream")
            state[step.name] = 1
            for name in step.inputs:
                visit(self.by_name[name])
            state[step.name] = 2
            order.append(step)

        for step in self.steps:
            visit(step)
        return order

    # -- validation ----------------------------------------------------------------------------
    def validate(self) -> None:
        """Check everything that can be checked without calling a model; raise PipelineError."""
        for step in self.steps:
            for name in step.inputs:
                if name not in self.by_name:
                    raise PipelineError(
                        f"step {step.name!r} reads from {name!r}, which is not a step", step=step.name, field="inputs",
                        hint=_suggest(name, self.by_name),
                    )
            if step.kind == "source" and step.inputs:
                raise PipelineError(f"source step {step.name!r} cannot have inputs", step=step.name, field="inputs")
            if isinstance(step, JoinStep) and len(step.inputs) < 2:
                raise PipelineError(f"join step {step.name!r} needs at least two inputs", step=step.name, field="inputs")
            if not isinstance(step, JoinStep) and len(step.inputs) > 1:
                raise PipelineError(
                    f"step {step.name!r} has {len(step.inputs)} inputs", step=step.name, field="inputs",
                    hint="only a join step merges branches",
                )
            for model in step.models:
                if model not in self.model_configs:
                    raise PipelineError(
                        f"step {step.name!r} uses model {model!r}, which the recipe does not define", step=step.name,
                        field="model", hint=_suggest(model, self.model_configs) or f"add it under models: ({model}: SPEC)",
                    )
        order = self.topological()
        self.final_step()
        columns: dict[str, set[str]] = {}
        for step in order:
            if isinstance(step, SourceStep):
                try:
                    available = set(step.columns or ())
                except (OSError, ValueError) as e:
                    raise PipelineError(str(e), step=step.name, field="path",
                                        hint="check the path and the file's format") from None
            else:
                available = set().union(*(columns[n] for n in step.inputs))
            missing = sorted(step.reads - available - set(RESERVED))
            if missing:
                col = missing[0]
                where = ", ".join(sorted(available)) or "no columns"
                close = difflib.get_close_matches(col, sorted(available), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise PipelineError(
                    f"step {step.name!r} reads column {col!r}, which nothing upstream produces (upstream has: {where})",
                    step=step.name, field="reads",
                    hint=hint + "produce it in an earlier step or fix the name",
                )
            columns[step.name] = step.output_columns(available)
        self.columns = columns

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "models": {k: v.public_dict() for k, v in self.model_configs.items()},
            "steps": [s.describe() for s in self.steps],
            "params": self.params,
        }

    def all_citations(self) -> list[str]:
        out: list[str] = []
        for c in [*self.citations, *(c for s in self.steps for c in s.citations)]:
            if c not in out:
                out.append(c)
        return out


def _suggest(name: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(options), n=1)
    return f"did you mean {close[0]!r}?" if close else ""
