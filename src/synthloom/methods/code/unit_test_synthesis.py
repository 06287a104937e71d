"""Unit-test synthesis: assert tests written by a model, validated by execution.

The model writes assert tests for a problem (optionally shown the reference solution). Each test
is run against the reference in the sandbox and kept only if it passes there — the validation
step of test-generation work such as CodeT (Chen et al. 2022, arXiv:2207.10397, which generates
the tests) and AceCoder (Zeng et al. 2025, "AceCoder: Acing Coder RL via Automated Test-Case
Synthesis", arXiv:2502.01718, which keeps the generated tests that the solutions of a strong
model pass). Optionally the kept tests are mutation-checked (mutation testing: DeMillo, Lipton &
Sayward 1978): simple mutants of the reference (:mod:`.mutants`) must fail at least one test, so a
test suite that cannot tell a wrong program from the right one is rejected.

Step ``unit_test_synthesis``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from ...pipeline.step import Rejected
from .base import CodeMethodStep
from .execution import failure_reason
from .extract import extract_asserts, extract_code
from .mutants import mutants

CITATIONS = ("Chen et al. 2022, CodeT: Code Generation with Generated Tests, ICLR 2023, arXiv:2207.10397",
             "Zeng et al. 2025, AceCoder: Acing Coder RL via Automated Test-Case Synthesis, arXiv:2502.01718",
             ("DeMillo, Lipton & Sayward 1978, Hints on Test Data Selection: Help for the Practicing Programmer, "
              "IEEE Computer 11(4)"))


class UnitTestSynthesis(CodeMethodStep):
    """Model-written assert tests for the problem in ``question_column``, validated on the reference
    solution in ``reference_column``: a test is kept only if the reference passes it (without a
    reference the tests are only compile-checked and ``validated`` is False). With
    ``mutation_check`` (needs a reference) up to ``max_mutants`` simple mutants of the reference run
    against the kept tests; the row is rejected when none is killed.

    Writes ``tests`` (kept), ``rejected_tests`` (``{test, reason}``), ``n_generated``, ``n_valid``,
    ``validated``, ``mutants_total``, ``mutants_killed``, ``mutation_score``,
    ``surviving_mutants``. Rows with fewer than ``min_tests`` kept tests are rejected."""

    type_name = "unit_test_synthesis"
    view_names = frozenset({"problem", "reference", "entry_point", "n_tests"})

    def __init__(self, name: str, *, question_column: str = "question", reference_column: str | None = "reference",
                 entry_point_column: str | None = "entry_point", n_tests: int = 8, min_tests: int = 1,
                 show_reference: bool = False, mutation_check: bool = True, max_mutants: int = 10,
                 template: str | None = None, temperature: float = 0.2, max_tokens: int = 512,
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        for opt, v in (("n_tests", n_tests), ("min_tests", min_tests), ("max_mutants", max_mutants)):
            if int(v) < 1:
                raise ValueError(f"unit_test_synthesis {name!r}: {opt} must be >= 1, not {v}")
        if mutation_check and not reference_column:
            raise ValueError(f"unit_test_synthesis {name!r}: mutation_check needs reference_column (mutants are "
                             "made from the reference solution); set mutation_check: false or name the column")
        reads = [question_column] + [c for c in (reference_column, entry_point_column) if c]
        super().__init__(name, reads=reads, writes=["tests", "rejected_tests", "n_generated", "n_valid", "validated",
                                              "mutants_total", "mutants_killed", "mutation_score",
                                              "surviving_mutants"],
                         temperature=temperature, max_tokens=max_tokens, citations=[*CITATIONS, *citations], **kwargs)
        self.tests_template = self.template(template or None, "unit_test_synthesis.jinja")
        self.question_column, self.reference_column, self.entry_point_column = (question_column, reference_column,
                                                                                 entry_point_column)
        self.n_tests, self.min_tests, self.show_reference = int(n_tests), int(min_tests), bool(show_reference)
        self.mutation_check, self.max_mutants = bool(mutation_check), int(max_mutants)

    async def run(self, record: dict[str, Any]):
        problem = record.get(self.question_column)
        if not isinstance(problem, str) or not problem.strip():
            raise ValueError(f"unit_test_synthesis {self.name!r}: column {self.question_column!r} is empty or not text")
        reference = record.get(self.reference_column) if self.reference_column else None
        if self.reference_column and not (isinstance(reference, str) and reference.strip()):
            raise ValueError(f"unit_test_synthesis {self.name!r}: column {self.reference_column!r} has no reference "
                             "solution (leave reference_column out to only compile-check the tests)")
        reference = extract_code(reference) or reference if reference else None
        entry = record.get(self.entry_point_column) if self.entry_point_column else None
        view = {**self.base_columns(record), "problem": problem, "entry_point": entry, "n_tests": self.n_tests,
                "reference": reference if self.show_reference else None}
        [reply], call_entry = await self.texts(record, self.render(self.tests_template, view))
        lineage = [call_entry]
        generated = extract_asserts(reply, limit=self.n_tests * 2, entry_point=entry)
        if not generated:
            return Rejected("no assert test in the reply" + (f" that calls `{entry}`" if entry else "")), lineage
        base = self.base_columns(record)
        if reference is None:
            return {**base, "tests": generated, "rejected_tests": [], "n_generated": len(generated),
                    "n_valid": len(generated), "validated": False, "mutants_total": 0, "mutants_killed": 0,
                    "mutation_score": None, "surviving_mutants": []}, lineage
        verdict = await self.sandbox.averify(reference, generated)
        kept = [t for t, r in zip(generated, verdict.results) if r["passed"]]
        dropped = [{"test": t, "reason": failure_reason({"status": r["status"], "results": [{**r, "index": i}]})}
                   for i, (t, r) in enumerate(zip(generated, verdict.results)) if not r["passed"]]
        if len(kept) < self.min_tests:
            first = dropped[0]["reason"] if dropped else "none"
            return Rejected(f"{len(kept)} of {len(generated)} generated tests pass on the reference "
                            f"(min_tests={self.min_tests}); first failure: {first}",
                            len(kept) / len(generated)), lineage
        row = {**base, "tests": kept, "rejected_tests": dropped, "n_generated": len(generated), "n_valid": len(kept),
               "validated": True, "mutants_total": 0, "mutants_killed": 0, "mutation_score": None,
               "surviving_mutants": []}
        if self.mutation_check:
            found = mutants(reference, limit=self.max_mutants)
            verdicts = await asyncio.gather(*(self.sandbox.averify(m.code, kept) for m in found))
            killed = sum(not v.passed for v in verdicts)
            row.update(mutants_total=len(found), mutants_killed=killed,
                       mutation_score=killed / len(found) if found else None,
                       surviving_mutants=[m.description for m, v in zip(found, verdicts) if v.passed])
            if found and not killed:
                return Rejected(f"the {len(kept)} valid tests kill none of {len(found)} mutants of the reference",
                                0.0), lineage
        return row, lineage
