"""Nemotron-4's synthetic instruction-following prompts (NVIDIA 2024, "Nemotron-4 340B Technical
Report", arXiv:2406.11704, §3.2.1): a synthetic prompt is joined with one or more *verifiable*
instructions in the style of IFEval (Zhou et al. 2023, "Instruction-Following Evaluation for Large
Language Models", arXiv:2311.07911) — "Your response should contain 3 paragraphs", "Answer in all
lowercase letters" — with one of a few hand-written joining templates.

Every instruction here has a checker, so the constraint is checkable: :class:`NemotronConstraints`
(``type: nemotron_if_constraints``) attaches instructions to prompts and records their spec per
row (``constraints``: ``[{"id", "kwargs", "text"}]``); :class:`NemotronCheckConstraints`
(``type: nemotron_check_constraints``) checks a reply against the row's spec. The instructions,
their checkers and their conflict rules are those of synthloom's IFEval-style library
(:mod:`synthloom.verify.instructions`); ``kinds`` defaults to the 15 Nemotron's recipe uses and
may name any id of that library.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from ...pipeline.step import MapStep, Rejected
from ...verify.instructions import IFEVAL, REGISTRY, check_spec, conflict_pairs, sample_constraints, unknown_ids
from ...verify.instructions.catalogue_content import prompt_keywords
from .nemotron import CITATION
from .samplers import stable_int

__all__ = ["CATALOGUE", "CONFLICTS", "IFEVAL", "KINDS", "NemotronCheckConstraints", "NemotronConstraints",
           "check_constraints", "draw_constraints", "prompt_keywords"]

JOINS = ("{prompt}\n\n{instructions}", "{instructions}\n\n{prompt}", "{prompt} {instructions}")
#: the instructions the recipe draws by default
KINDS = ("length_constraints:number_words", "length_constraints:number_sentences", "length_constraints:number_paragraphs",
         "detectable_format:number_bullet_lists", "detectable_format:title", "detectable_format:number_highlighted_sections",
         "detectable_format:json_format", "startend:quotation", "startend:end_checker", "detectable_content:postscript",
         "change_case:english_lowercase", "change_case:english_capital", "punctuation:no_comma", "keywords:existence",
         "keywords:forbidden_words")
CATALOGUE = {k: REGISTRY[k] for k in KINDS}
#: pairs of the default kinds that are never drawn together
CONFLICTS = {p for p in conflict_pairs() if p <= set(KINDS)}


def draw_constraints(prompt: str, key: Any, kinds: Sequence[str], low: int, high: int) -> list[dict[str, Any]]:
    """Between ``low`` and ``high`` instructions of ``kinds`` that do not conflict, drawn
    reproducibly by ``key``: ``[{"id", "kwargs", "text"}]``."""
    return sample_constraints(prompt, random.Random(stable_int(key, "constraints")), kinds, low, high)


def check_constraints(response: str, constraints: Sequence[dict[str, Any]]) -> list[bool]:
    """Whether ``response`` follows each constraint of a row's spec, strictly (an unknown id raises)."""
    return [check_spec(response, c) for c in constraints]


class NemotronConstraints(MapStep):
    """Turns a share (``fraction``, chosen by row id) of the prompts of ``prompt_types`` (all when
    empty) into instruction-following prompts: ``min_constraints``–``max_constraints`` verifiable
    instructions from ``kinds`` joined to the prompt with one of Nemotron-style templates. Writes
    ``prompt`` (joined), ``base_prompt`` (before) and ``constraints`` (the spec; ``[]`` for rows
    left as they were)."""

    type_name = "nemotron_if_constraints"

    def __init__(self, name: str, *, fraction: float = 0.5, min_constraints: int = 1, max_constraints: int = 2,
                 kinds: list[str] | None = None, prompt_types: list[str] | None = None, prompt_column: str = "prompt",
                 type_column: str = "prompt_type") -> None:
        self.kinds = list(kinds) if kinds else list(KINDS)
        unknown = unknown_ids(self.kinds)
        if unknown:
            raise ValueError(f"nemotron_if_constraints {name!r}: unknown kind(s) {unknown}; known: {', '.join(sorted(REGISTRY))}")
        if not 0 <= float(fraction) <= 1 or not 1 <= int(min_constraints) <= int(max_constraints):
            raise ValueError(f"nemotron_if_constraints {name!r}: need 0 <= fraction <= 1 and 1 <= min_constraints <= max_constraints")
        reads = [prompt_column] + ([type_column] if prompt_types else [])
        super().__init__(name, reads=reads, writes=[prompt_column, "base_prompt", "constraints"], citations=[CITATION, IFEVAL])
        self.fraction, self.low, self.high = float(fraction), int(min_constraints), int(max_constraints)
        self.prompt_types, self.prompt_column, self.type_column = list(prompt_types or []), prompt_column, type_column

    def map(self, record: dict[str, Any]) -> dict[str, Any]:
        prompt = str(record[self.prompt_column])
        key = (record.get("id", ""), self.name)
        eligible = not self.prompt_types or record.get(self.type_column) in self.prompt_types
        if not eligible or stable_int(*key, "pick") % 10_000 >= self.fraction * 10_000:
            return {**record, "base_prompt": prompt, "constraints": []}
        constraints = draw_constraints(prompt, key, self.kinds, self.low, self.high)
        join = JOINS[stable_int(*key, "join") % len(JOINS)]
        joined = join.format(prompt=prompt.strip(), instructions=" ".join(c["text"] for c in constraints))
        return {**record, self.prompt_column: joined, "base_prompt": prompt, "constraints": constraints}


class NemotronCheckConstraints(MapStep):
    """Checks a reply against the row's ``constraints``: the first assistant turn of ``messages``, or
    ``response_column`` when set. Writes ``constraint_results`` (one bool per constraint) and
    ``constraints_followed`` (``None`` for a row without constraints); with ``require`` a row that
    does not follow them all is rejected, naming the instructions missed."""

    type_name = "nemotron_check_constraints"

    def __init__(self, name: str, *, response_column: str | None = None, require: bool = False) -> None:
        super().__init__(name, reads=["constraints", response_column or "messages"],
                         writes=["constraint_results", "constraints_followed"], citations=[CITATION, IFEVAL])
        self.response_column, self.require = response_column, bool(require)

    def reply(self, record: dict[str, Any]) -> str:
        if self.response_column:
            return str(record.get(self.response_column) or "")
        return next((str(m.get("content") or "") for m in record.get("messages") or [] if m.get("role") == "assistant"), "")

    def map(self, record: dict[str, Any]) -> dict[str, Any] | Rejected:
        constraints = record.get("constraints") or []
        if not constraints:
            return {**record, "constraint_results": [], "constraints_followed": None}
        results = check_constraints(self.reply(record), constraints)
        if self.require and not all(results):
            missed = [c["id"] for c, ok in zip(constraints, results) if not ok]
            return Rejected(f"the reply does not follow {', '.join(missed)}", score=sum(results) / len(results))
        return {**record, "constraint_results": results, "constraints_followed": all(results)}
