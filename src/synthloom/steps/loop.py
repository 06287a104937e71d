"""``loop`` in a recipe: a body of steps applied round after round until an expression holds."""

from __future__ import annotations

from ..pipeline.step import LoopStep, StreamStep
from ..pipeline.templates import evaluate, template_columns


class RecipeLoop(LoopStep):
    """A :class:`LoopStep` whose stop condition ``until`` is a Jinja2 expression over the record
    (``steps`` are built by the recipe loader from nested step definitions)."""

    type_name = "loop"

    def __init__(self, name: str, *, steps: list[StreamStep], until: str | None = None, max_rounds: int = 3,
                 round_column: str = "rounds") -> None:
        cond = (lambda r: bool(evaluate(until, r))) if until else None
        super().__init__(name, steps, until=cond, max_rounds=max_rounds, round_column=round_column)
        if until:
            self.reads |= template_columns(until, expression=True) - self.writes
