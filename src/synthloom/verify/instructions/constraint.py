"""The constraint contract and registry: what a verifiable instruction is, its JSON spec, strict
and loose checking, conflict rules and seeded sampling without conflicts.

A *spec* is the JSON-serialisable form a row carries (so the verifier travels with the data, ready
for RLVR training): ``{"id": "length_constraints:number_words", "kwargs": {"num_words": 120,
"relation": "at least"}, "text": "Answer with at least 120 words."}``. :func:`check_spec` re-runs
the checker from the spec alone; ``text`` is informative (it is rebuilt from ``id`` + ``kwargs``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .text import loose_variants

RELATIONS = ("at least", "less than")


class ConstraintSpecError(ValueError):
    """A constraint spec that cannot be checked: unknown id, missing or unexpected arguments."""


@dataclass(frozen=True)
class Constraint:
    """One kind of verifiable instruction (IFEval, Zhou et al. 2023): its ``id``, the names of its
    arguments (``params``), the instruction ``template`` (``{name}`` placeholders; a list argument is
    written as quoted words), the ``checker(response, kwargs) -> bool``, how to ``draw`` arguments
    for a prompt. Which ids cannot be combined is kept apart, in :data:`CONFLICTS`."""

    id: str
    params: tuple[str, ...]
    template: str
    checker: Callable[[str, dict[str, Any]], bool]
    draw: Callable[[random.Random, str], dict[str, Any]]

    def text(self, kwargs: dict[str, Any]) -> str:
        """The instruction as the model reads it."""
        shown = {k: (", ".join(f"'{w}'" for w in v) if isinstance(v, (list, tuple)) else v) for k, v in kwargs.items()}
        return self.template.format(**shown)

    def spec(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {"id": self.id, "kwargs": dict(kwargs), "text": self.text(kwargs)}

    def check(self, response: str, kwargs: dict[str, Any], *, loose: bool = False) -> bool:
        """Strict: the checker on the response. Loose (IFEval): true when any loose variant passes."""
        if not isinstance(response, str):
            return False
        if not loose:
            return bool(self.checker(response, kwargs))
        return any(self.checker(v, kwargs) for v in loose_variants(response))


REGISTRY: dict[str, Constraint] = {}
#: id -> the ids it cannot be asked together with (symmetric; see :func:`add_conflicts`)
CONFLICTS: dict[str, set[str]] = {}


def register(*constraints: Constraint) -> None:
    """Add constraints to the registry (a plugin may add its own ids)."""
    for c in constraints:
        if c.id in REGISTRY:
            raise ValueError(f"constraint {c.id!r} is registered twice")
        REGISTRY[c.id] = c


def add_conflicts(a: str, *others: str) -> None:
    """Declare that ``a`` cannot be combined with any of ``others`` (both ways)."""
    for b in others:
        CONFLICTS.setdefault(a, set()).add(b)
        CONFLICTS.setdefault(b, set()).add(a)


def conflicting(a: str, b: str) -> bool:
    """Whether constraints ``a`` and ``b`` cannot be asked together (an id conflicts with itself)."""
    return a == b or b in CONFLICTS.get(a, ())


def conflict_pairs() -> set[frozenset[str]]:
    """Every unordered pair of ids that conflict."""
    return {frozenset((a, b)) for a, bs in CONFLICTS.items() for b in bs}


def constraint_for(spec: Any) -> tuple[Constraint, dict[str, Any]]:
    """The constraint and arguments of a spec, validated (raises :class:`ConstraintSpecError`)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("id"), str):
        raise ConstraintSpecError(f"a constraint spec is an object with an 'id' and 'kwargs', not {str(spec)[:80]!r}")
    c = REGISTRY.get(spec["id"])
    if c is None:
        raise ConstraintSpecError(f"unknown constraint {spec['id']!r}; known ids: `synthloom.verify.instructions.REGISTRY` "
                                  "(docs/methods/ifeval-constraints.md)")
    kwargs = {k: v for k, v in (spec.get("kwargs") or {}).items() if v is not None}
    missing, extra = set(c.params) - set(kwargs), set(kwargs) - set(c.params)
    if missing or extra:
        raise ConstraintSpecError(f"constraint {c.id!r} takes arguments {list(c.params)}; missing {sorted(missing)}, "
                                  f"unexpected {sorted(extra)}")
    return c, kwargs


def check_spec(response: str, spec: dict[str, Any], *, loose: bool = False) -> bool:
    """Whether ``response`` follows the constraint ``spec`` (strict, or IFEval's loose check)."""
    c, kwargs = constraint_for(spec)
    return c.check(response, kwargs, loose=loose)


def verdicts(response: str, specs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One ``{"id", "strict", "loose"}`` per spec (loose is true whenever strict is)."""
    out = []
    for spec in specs:
        c, kwargs = constraint_for(spec)
        strict = c.check(response, kwargs)
        out.append({"id": c.id, "strict": strict, "loose": strict or c.check(response, kwargs, loose=True)})
    return out


def sample_constraints(prompt: str, rng: random.Random, kinds: Iterable[str], low: int, high: int) -> list[dict[str, Any]]:
    """Between ``low`` and ``high`` specs of ``kinds`` for ``prompt``, no two in conflict, drawn
    with ``rng`` (the same ``rng`` state gives the same specs). Fewer when ``kinds`` has too few
    compatible ids."""
    kinds = list(kinds)
    wanted = rng.randint(low, high)
    picked: list[Constraint] = []
    for kind in rng.sample(kinds, len(kinds)):
        if len(picked) >= wanted:
            break
        if all(not conflicting(p.id, kind) for p in picked):
            picked.append(REGISTRY[kind])
    return [c.spec(c.draw(rng, prompt)) for c in picked]


def unknown_ids(kinds: Iterable[str]) -> list[str]:
    return [k for k in kinds if k not in REGISTRY]


def relation_holds(value: int, relation: str, target: int) -> bool:
    """``value`` is ``at least`` / ``less than`` ``target``."""
    if relation == "at least":
        return value >= target
    if relation == "less than":
        return value < target
    raise ConstraintSpecError(f"relation must be one of {RELATIONS}, not {relation!r}")
