"""Verifiable instructions in the style of IFEval (Zhou et al. 2023, "Instruction-Following
Evaluation for Large Language Models", arXiv:2311.07911): 30 constraint types, each with its
instruction text, a Python checker (strict, and IFEval's loose check), a JSON spec that travels
with each row (``{"id", "kwargs", "text"}``, ready for RLVR rewards) and conflict rules.

>>> from synthloom.verify.instructions import REGISTRY, check_spec
>>> spec = REGISTRY["punctuation:no_comma"].spec({})
>>> check_spec("No commas here.", spec)
True

The steps that use it: :mod:`synthloom.verify.instructions.steps` (``ifeval_constraints``,
``ifeval_check``); Nemotron's instruction-following prompts draw from the same registry.
"""

from . import catalogue_content, catalogue_format, conflicts  # noqa: F401 - they register the constraints
from .constraint import (
    CONFLICTS,
    REGISTRY,
    RELATIONS,
    Constraint,
    ConstraintSpecError,
    add_conflicts,
    check_spec,
    conflict_pairs,
    conflicting,
    constraint_for,
    register,
    sample_constraints,
    unknown_ids,
    verdicts,
)

IFEVAL = "Zhou et al. 2023, Instruction-Following Evaluation for Large Language Models (IFEval), arXiv:2311.07911"

__all__ = ["CONFLICTS", "IFEVAL", "REGISTRY", "RELATIONS", "Constraint", "ConstraintSpecError", "add_conflicts",
           "check_spec", "conflict_pairs", "conflicting", "constraint_for", "register", "sample_constraints",
           "unknown_ids", "verdicts"]
