"""HelpSteer / SteerLM: rate responses on five attributes, then make attribute-conditioned SFT rows.

Wang, Z., Dong, Y., Zeng, J., Adams, V., Sreedhar, M. N., Egert, D., Delalleau, O., Scowcroft, J. P.,
Kant, N., Swope, A., Kuchaiev, O. (2023). *HelpSteer: Multi-attribute Helpfulness Dataset for SteerLM*,
arXiv:2311.09528. Each response to a prompt is annotated on five attributes, each 0–4: helpfulness,
correctness, coherence, complexity and verbosity. SteerLM (Dong et al. 2023, arXiv:2310.05344) then
trains on attribute-conditioned SFT: the attribute values, written as a string such as
``helpfulness:4,correctness:3,coherence:4,complexity:2,verbosity:1``, are given as the condition
before the response, so at inference the user sets the values they want.

The annotation is the ``judge`` step with ``rubric: helpsteer`` (:mod:`synthloom.curate.judges.rubrics`:
the five attributes on 0–4 in one JSON-schema-constrained reply, column ``scores``).
:class:`SteerLMRows` (``steerlm_rows``) turns each rated response into the SFT row.
"""

from __future__ import annotations

import math
from typing import Any

from ...curate.judges.rubrics import HELPSTEER, PRESETS
from ...pipeline.step import MapStep

STEERLM = "Dong et al. 2023, SteerLM: Attribute Conditioned SFT as an (User-Steerable) Alternative to RLHF, arXiv:2310.05344"
ATTRIBUTES = list(PRESETS["helpsteer"].aspects)  # helpfulness, correctness, coherence, complexity, verbosity
PLACEMENTS = ("system", "prompt")


def attribute_string(values: dict[str, int], order: list[str]) -> str:
    """SteerLM's condition: ``name:value`` pairs joined by commas, in ``order``."""
    return ",".join(f"{name}:{values[name]}" for name in order)


def attribute_values(scores: Any, order: list[str], lo: int, hi: int) -> dict[str, int]:
    """Each attribute's rating from a judge's ``scores`` mapping, rounded to a whole number on ``lo``–``hi``;
    a ``ValueError`` naming the attribute when one is missing or off the scale."""
    if not isinstance(scores, dict):
        raise ValueError(f"the scores column must map attribute -> rating (the helpsteer judge writes it), not {scores!r}")
    out = {}
    for name in order:
        value = scores.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise ValueError(f"no rating for attribute {name!r} in scores {scores}")
        rounded = int(math.floor(float(value) + 0.5))
        if not lo <= rounded <= hi:
            raise ValueError(f"attribute {name!r} rated {value}, off the scale {lo}-{hi}")
        out[name] = rounded
    return out


class SteerLMRows(MapStep):
    """Attribute-conditioned SFT rows (SteerLM, on HelpSteer's attributes): the ratings in ``scores``
    (a ``helpsteer`` judge's column) become ``attributes`` ({name: 0-4}) and ``attribute_string``
    (``helpfulness:4,correctness:3,...`` in ``attributes`` order), and ``messages`` carries it as the
    condition — a system message (``placement: system``) or a first line before the prompt
    (``placement: prompt``) — then the prompt and the response."""

    type_name = "steerlm_rows"

    def __init__(self, name: str, *, scores_column: str = "scores", instruction_column: str = "prompt",
                 response_column: str = "response", attributes: list[str] | None = None, placement: str = "system",
                 scale: list[int] | None = None, inputs: list[str] | None = None) -> None:
        where = f"steerlm_rows {name!r}"
        order = list(ATTRIBUTES) if attributes is None else attributes
        if not isinstance(order, list) or not order or not all(isinstance(a, str) and a for a in order) \
                or len(set(order)) != len(order):
            raise ValueError(f"{where}: attributes must list distinct attribute names, e.g. {ATTRIBUTES}; got {attributes!r}")
        if placement not in PLACEMENTS:
            raise ValueError(f"{where}: placement must be 'system' (a system message) or 'prompt' (a first line of the "
                             f"prompt), not {placement!r}")
        lo, hi = (0, 4) if scale is None else (scale[0], scale[1]) if isinstance(scale, list) and len(scale) == 2 else (None, None)
        if not (isinstance(lo, int) and isinstance(hi, int)) or lo >= hi:
            raise ValueError(f"{where}: scale must be [low, high] whole numbers with low < high, e.g. [0, 4]; got {scale!r}")
        super().__init__(name, inputs=inputs or (), reads=[scores_column, instruction_column, response_column],
                         writes=["attributes", "attribute_string", "messages"], citations=[HELPSTEER, STEERLM])
        self.scores_column, self.instruction_column, self.response_column = scores_column, instruction_column, response_column
        self.order, self.placement, self.lo, self.hi = order, placement, lo, hi

    def map(self, record: dict[str, Any]) -> dict[str, Any]:
        try:
            values = attribute_values(record.get(self.scores_column), self.order, self.lo, self.hi)
        except ValueError as e:
            raise ValueError(f"steerlm_rows {self.name!r}: {e}") from None
        condition = attribute_string(values, self.order)
        prompt, response = str(record.get(self.instruction_column) or ""), str(record.get(self.response_column) or "")
        if not prompt.strip() or not response.strip():
            raise ValueError(f"steerlm_rows {self.name!r}: column {self.instruction_column!r} or {self.response_column!r} "
                             "is empty; every row needs its prompt and response")
        if self.placement == "system":
            messages = [{"role": "system", "content": condition}, {"role": "user", "content": prompt}]
        else:
            messages = [{"role": "user", "content": f"{condition}\n{prompt}"}]
        messages.append({"role": "assistant", "content": response})
        return {**record, "attributes": values, "attribute_string": condition, "messages": messages}
