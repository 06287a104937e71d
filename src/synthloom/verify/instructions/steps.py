"""The pipeline steps of the IFEval-style constraint library (Zhou et al. 2023, arXiv:2311.07911):

* :class:`IfevalConstraints` (``type: ifeval_constraints``) composes 1–3 verifiable instructions,
  drawn without conflicts and reproducibly per row, onto each prompt and records their specs;
* :class:`IfevalCheck` (``type: ifeval_check``) runs every checker on the response, strict and
  loose, writes the per-constraint verdicts, and (``require``) rejects a row whose response misses
  one, naming it.
"""

from __future__ import annotations

import random
from typing import Any

import xxhash

from ...pipeline.step import MapStep, Rejected
from . import IFEVAL, REGISTRY, sample_constraints, unknown_ids, verdicts

JOINS = ("{prompt}\n\n{instructions}", "{prompt} {instructions}", "{instructions}\n\n{prompt}")
MODES = ("strict", "loose")


def row_rng(*key: Any) -> random.Random:
    """A random generator seeded by ``key`` (stable across runs and machines)."""
    return random.Random(xxhash.xxh3_64_intdigest("\x1f".join(map(str, key)).encode()))


class IfevalConstraints(MapStep):
    """Adds ``min_constraints``–``max_constraints`` verifiable instructions of ``kinds`` (every
    registered kind when empty) to the prompt in ``prompt_column``, never two that conflict, drawn
    reproducibly from the row id and ``seed``. Writes the joined prompt back to ``prompt_column``,
    the original to ``base_prompt`` and the specs (``[{"id", "kwargs", "text"}]``) to ``constraints``."""

    type_name = "ifeval_constraints"

    def __init__(self, name: str, *, min_constraints: int = 1, max_constraints: int = 3, kinds: list[str] | None = None,
                 prompt_column: str = "prompt", seed: int = 0, inputs: list[str] | None = None) -> None:
        self.kinds = list(kinds) if kinds else sorted(REGISTRY)
        unknown = unknown_ids(self.kinds)
        if unknown:
            raise ValueError(f"ifeval_constraints {name!r}: unknown kind(s) {unknown}; "
                             "the list is in docs/methods/ifeval-constraints.md")
        if not 1 <= int(min_constraints) <= int(max_constraints):
            raise ValueError(f"ifeval_constraints {name!r}: need 1 <= min_constraints <= max_constraints, "
                             f"not {min_constraints} and {max_constraints}")
        super().__init__(name, reads=[prompt_column], writes=[prompt_column, "base_prompt", "constraints"],
                         inputs=inputs or (), citations=[IFEVAL])
        self.low, self.high, self.prompt_column, self.seed = int(min_constraints), int(max_constraints), prompt_column, seed

    def map(self, record: dict[str, Any]) -> dict[str, Any]:
        prompt = str(record[self.prompt_column]).strip()
        rng = row_rng(record.get("id", ""), self.name, self.seed)
        specs = sample_constraints(prompt, rng, self.kinds, self.low, self.high)
        joined = rng.choice(JOINS).format(prompt=prompt, instructions=" ".join(s["text"] for s in specs))
        return {**record, self.prompt_column: joined, "base_prompt": prompt, "constraints": specs}


class IfevalCheck(MapStep):
    """Checks the response in ``response_column`` against the row's ``constraints`` specs, strict
    and loose (IFEval's loose check also tries the response without its first and/or last line and
    without markdown asterisks). Writes ``constraint_results`` (``[{"id", "strict", "loose"}]``),
    ``followed_strict`` and ``followed_loose``. With ``require`` (default) a row whose response does
    not follow every constraint under ``mode`` is rejected, the reason naming the constraints missed."""

    type_name = "ifeval_check"

    def __init__(self, name: str, *, response_column: str = "response", mode: str = "strict", require: bool = True,
                 inputs: list[str] | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"ifeval_check {name!r}: mode must be one of {', '.join(MODES)}, not {mode!r}")
        super().__init__(name, reads=["constraints", response_column],
                         writes=["constraint_results", "followed_strict", "followed_loose"], inputs=inputs or (),
                         citations=[IFEVAL])
        self.response_column, self.mode, self.require = response_column, mode, bool(require)

    def map(self, record: dict[str, Any]) -> dict[str, Any] | Rejected:
        specs = record.get("constraints") or []
        response = record.get(self.response_column)
        results = verdicts(response if isinstance(response, str) else "", specs)
        missed = [r["id"] for r in results if not r[self.mode]]
        if self.require and missed:
            return Rejected(f"the response does not follow {', '.join(missed)} ({self.mode})",
                            score=(len(results) - len(missed)) / len(results))
        return {**record, "constraint_results": results, "followed_strict": all(r["strict"] for r in results),
                "followed_loose": all(r["loose"] for r in results)}
