"""CodeT: rank sampled solutions by dual execution agreement with model-written tests.

Chen et al. 2022, "CodeT: Code Generation with Generated Tests", ICLR 2023, arXiv:2207.10397
(microsoft/CodeT). Per problem the model samples n solutions and m test generations (the paper:
100 each, T=0.8, top_p=0.95); the test generations are split into ``assert`` statements, the first
5 of each sample are kept and compile-checked; every solution runs against every test (0.1 s
limit in the paper); solutions are grouped by the set of tests they pass (a consensus set), and a
group scores |S_x|·|S_y| — its number of solutions times its number of passed tests (the
repository's variant uses √|S_x|·|S_y|). The top group's solution is the answer.

Step ``codet`` emits the top solution per problem (``emit: best``), every candidate with its rank
(``ranked``), or preference pairs (``pairs``: chosen = the top solution or, with gold tests, one
that passes them; rejected = a low-agreement or gold-failing one).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ...pipeline.step import Rejected
from ..fanout import bounded, check_max_fanout
from .base import CodeMethodStep
from .execution import failure_reason
from .extract import extract_asserts, extract_code

CITATION = "Chen et al. 2022, CodeT: Code Generation with Generated Tests, ICLR 2023, arXiv:2207.10397"
EMITS = ("best", "ranked", "pairs")
SCORES = ("paper", "sqrt")


@dataclass
class AgreementGroup:
    """Solutions that pass exactly the same generated tests (CodeT's consensus set)."""

    solutions: list[int]
    tests: tuple[int, ...]
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"solutions": list(self.solutions), "tests": list(self.tests), "score": self.score}


def dual_agreement(matrix: list[list[bool]], *, score: str = "paper") -> list[AgreementGroup]:
    """Group solutions (rows of ``matrix[solution][test]`` = passed) by the set of tests they pass
    and score each group: ``paper`` = |S_x|·|S_y|, ``sqrt`` = √|S_x|·|S_y| (microsoft/CodeT's
    code). Groups come best first (ties: more solutions, then the earliest solution)."""
    if score not in SCORES:
        raise ValueError(f"score must be one of {', '.join(SCORES)}, not {score!r}")
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, row in enumerate(matrix):
        groups.setdefault(tuple(j for j, ok in enumerate(row) if ok), []).append(i)
    out = []
    for tests, sols in groups.items():
        size = math.sqrt(len(sols)) if score == "sqrt" else len(sols)
        out.append(AgreementGroup(sols, tests, float(size * len(tests))))
    out.sort(key=lambda g: (-g.score, -len(g.solutions), g.solutions[0]))
    return out


def solution_scores(groups: list[AgreementGroup], n: int) -> list[float]:
    """Each solution's score: the score of its group."""
    scores = [0.0] * n
    for g in groups:
        for i in g.solutions:
            scores[i] = g.score
    return scores


class CodeT(CodeMethodStep):
    """CodeT per problem: ``n_solutions`` sampled solutions and ``n_test_samples`` sampled test
    generations (first ``tests_per_sample`` asserts of each, compile-checked, deduplicated), the
    full solutions × tests execution in the sandbox, dual-agreement ranking (``score``: ``paper`` or
    ``sqrt``). Reads ``question_column`` (the problem) and, optionally, ``entry_point_column`` and
    ``gold_tests_column`` (held-out assert tests: each candidate's ``gold_passed`` is recorded, which
    measures the rerank gain, and ``pairs`` use it to pick chosen/rejected).

    ``max_fanout`` bounds ``n_solutions`` and ``n_test_samples`` (the recipe passes ``-n``).

    Rejected, with the reason: no sample with code, no usable test, or an agreement score of 0
    (no solution passes any generated test)."""

    type_name = "codet"
    view_names = frozenset({"problem", "entry_point"})

    def __init__(self, name: str, *, question_column: str = "question", entry_point_column: str | None = "entry_point",
                 gold_tests_column: str | None = None, n_solutions: int = 8, n_test_samples: int = 4,
                 tests_per_sample: int = 5, score: str = "paper", emit: str = "best", max_pairs: int = 2,
                 solution_template: str | None = None, tests_template: str | None = None,
                 temperature: float = 0.8, top_p: float | None = 0.95, max_tokens: int = 512, timeout: float = 1.0,
                 max_fanout: int | None = None, citations: Iterable[str] = (), **kwargs: Any) -> None:
        for opt, v in (("n_solutions", n_solutions), ("n_test_samples", n_test_samples),
                       ("tests_per_sample", tests_per_sample), ("max_pairs", max_pairs)):
            if int(v) < 1:
                raise ValueError(f"codet {name!r}: {opt} must be >= 1, not {v}")
        if score not in SCORES:
            raise ValueError(f"codet {name!r}: score must be 'paper' (|S_x|·|S_y|) or 'sqrt' (√|S_x|·|S_y|), not {score!r}")
        if emit not in EMITS:
            raise ValueError(f"codet {name!r}: emit must be one of {', '.join(EMITS)}, not {emit!r}")
        writes = {"best": ["solution", "codet_score", "agreement_groups", "generated_tests", "passed_tests",
                           "candidates", "n_solutions", "n_tests", "gold_passed"],
                  "ranked": ["solution", "rank", "codet_score", "passed_tests", "generated_tests", "gold_passed"],
                  "pairs": ["chosen", "rejected", "chosen_score", "rejected_score", "pair_basis"]}[emit]
        reads = [question_column] + [c for c in (entry_point_column, gold_tests_column) if c]
        super().__init__(name, reads=reads, writes=writes, temperature=temperature, top_p=top_p, max_tokens=max_tokens,
                         timeout=timeout, citations=[CITATION, *citations], **kwargs)
        self.solution_template = self.template(solution_template or None, "codet_solution.jinja")
        self.tests_template = self.template(tests_template or None, "codet_tests.jinja")
        self.question_column, self.entry_point_column = question_column, entry_point_column
        self.gold_tests_column = gold_tests_column
        max_fanout = check_max_fanout(max_fanout)
        self.n_solutions, self.n_test_samples = bounded(n_solutions, max_fanout), bounded(n_test_samples, max_fanout)
        self.tests_per_sample, self.score, self.emit, self.max_pairs = int(tests_per_sample), score, emit, int(max_pairs)

    async def run(self, record: dict[str, Any]):
        problem = record.get(self.question_column)
        if not isinstance(problem, str) or not problem.strip():
            raise ValueError(f"codet {self.name!r}: column {self.question_column!r} is empty or not text")
        entry = record.get(self.entry_point_column) if self.entry_point_column else None
        view = {**self.base_columns(record), "problem": problem, "entry_point": entry}
        (sol_texts, l1), (test_texts, l2) = await asyncio.gather(
            self.texts(record, self.render(self.solution_template, view), n=self.n_solutions, salt="solutions"),
            self.texts(record, self.render(self.tests_template, view), n=self.n_test_samples, salt="tests"))
        lineage = [l1, l2]
        codes = [c for c in (extract_code(t, entry_point=entry) for t in sol_texts) if c]
        tests = collect_tests(test_texts, self.tests_per_sample)
        if not codes:
            return Rejected(f"none of the {len(sol_texts)} solution samples contained Python code", 0.0), lineage
        if not tests:
            return Rejected(f"no usable assert in the {len(test_texts)} test samples", 0.0), lineage
        verdicts = await asyncio.gather(*(self.sandbox.averify(c, tests) for c in codes))
        matrix = [[r["passed"] for r in v.results] if v.results else [False] * len(tests) for v in verdicts]
        groups = dual_agreement(matrix, score=self.score)
        gold = None
        if self.gold_tests_column and record.get(self.gold_tests_column):
            gold_verdicts = await asyncio.gather(*(self.sandbox.averify(c, record[self.gold_tests_column])
                                                   for c in codes))
            gold = [v.passed for v in gold_verdicts]
        if groups[0].score <= 0:
            return Rejected(f"no solution passes any generated test (agreement score 0; "
                            f"first solution: {failure_reason(verdicts[0])})", 0.0), lineage
        return self.emit_rows(record, codes, tests, matrix, groups, gold), lineage

    def emit_rows(self, record, codes, tests, matrix, groups, gold):
        base = self.base_columns(record)
        scores = solution_scores(groups, len(codes))
        order = [i for g in groups for i in g.solutions]
        passed = [[tests[j] for j, ok in enumerate(row) if ok] for row in matrix]
        top = groups[0].solutions[0]
        gold_of = (lambda i: gold[i]) if gold is not None else (lambda i: None)
        if self.emit == "best":
            return {**base, "solution": codes[top], "codet_score": scores[top],
                    "agreement_groups": [g.to_dict() for g in groups], "generated_tests": tests,
                    "passed_tests": passed[top], "n_solutions": len(codes), "n_tests": len(tests),
                    "gold_passed": gold_of(top),
                    "candidates": [{"code": codes[i], "score": scores[i], "n_passed": len(passed[i]),
                                    "gold_passed": gold_of(i)} for i in order]}
        if self.emit == "ranked":
            return [{**base, "solution": codes[i], "rank": rank, "codet_score": scores[i], "passed_tests": passed[i],
                     "generated_tests": tests, "gold_passed": gold_of(i)} for rank, i in enumerate(order)]
        return self.pairs(base, codes, order, scores, gold)

    def pairs(self, base, codes, order, scores, gold):
        if gold is not None:
            good = [i for i in order if gold[i]]
            bad = [i for i in reversed(order) if not gold[i]]
            basis = "gold tests"
        else:
            best = scores[order[0]]
            good = [i for i in order if scores[i] == best]
            bad = [i for i in reversed(order) if scores[i] < best]
            basis = "agreement score"
        pairs = [(g, b) for g, b in zip(good, bad) if codes[g] != codes[b]][: self.max_pairs]
        if not pairs:
            return Rejected(f"no preference pair: {len(good)} preferred and {len(bad)} dispreferred candidates "
                            f"by {basis}", 0.0)
        return [{**base, "chosen": codes[g], "rejected": codes[b], "chosen_score": scores[g],
                 "rejected_score": scores[b], "pair_basis": basis} for g, b in pairs]


def collect_tests(test_texts: list[str], per_sample: int) -> list[str]:
    """CodeT's test set: the first ``per_sample`` compiling asserts of each sample, deduplicated."""
    tests: list[str] = []
    seen: set[str] = set()
    for text in test_texts:
        for t in extract_asserts(text, limit=per_sample):
            key = " ".join(t.split())
            if key not in seen:
                seen.add(key)
                tests.append(t)
    return tests
