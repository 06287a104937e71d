"""Backward synthesis as in MathGenie: solutions augmented, back-translated into questions, verified.

Lu et al. 2024, "MathGenie: Generating Synthetic Data with Question Back-translation for Enhancing
Mathematical Reasoning of LLMs", ACL 2024, arXiv:2402.16352. Three stages:

1. **Iterative solution augmentation** — a seed's worked solution is rewritten by the model
   (MathGenie's four prompts: replace the objects and verbs, add a step, change the numbers,
   replace numbers and variables), and each augmented solution is augmented again in the next
   round (``augment_rounds``), so the solutions drift further from the seed. The **new gold
   answer is the one the augmented solution states** (its final answer, read by
   :func:`~synthloom.verify.math.extract_answer`): the seed's answer no longer applies.
2. **Question back-translation** — the model writes the question that an augmented solution
   answers (``question_template``).
3. **Verification** — the new question is solved ``k`` times independently, without the
   solution, and the candidate is verified when at least ``min_correct`` of those solutions reach
   the augmented solution's answer. MathGenie verifies with code-integrated verification
   rationales; agreement of independent solutions is the check used here (as in MetaMath's
   rephrasing filter).

One row per candidate (``augment_round`` 1…``augment_rounds``, plus round 0, the seed's own
solution back-translated, with ``include_seed``): the seed's columns with ``question_column``,
``gold_column`` and ``solution_column`` replaced by the new question, gold and solution (the
seed's kept as ``original_question`` / ``original_answer`` / ``original_solution``), plus
``query``, ``response`` (the solution the question was written from), ``augmentation`` (the
rewrites applied, in order), ``solver_solution``, ``n_correct``, ``n_solves``, ``gold_answer``,
``correct``, ``verify_status``, ``verify_reason``. Follow with ``keep_verified``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from typing import Any

import xxhash

from ...pipeline.step import Rejected
from ...records import ID, adopt_rows
from ...verify.math import extract_answer
from .metamath import first_paragraph
from .verified_sampling import VerifiedSampler, reason_for

CITATION = ("Lu et al. 2024, MathGenie: Generating Synthetic Data with Question Back-translation for Enhancing "
            "Mathematical Reasoning of LLMs, ACL 2024, arXiv:2402.16352")
#: MathGenie's solution-augmentation prompts
AUGMENTATIONS = ("objects", "add_step", "numbers", "numbers_and_variables")
COLUMNS = ("query", "response", "augmentation", "augment_round", "solver_solution", "n_correct", "n_solves",
           "gold_answer", "correct", "verify_status", "verify_reason", "original_question", "original_answer",
           "original_solution")
_LEAK = re.compile(r"\\boxed|####|\bthe answer is\b", re.IGNORECASE)
_ANSWER_SENTENCE = re.compile(r"\s*\bthe (?:final )?answer is\b[^\n]*$", re.IGNORECASE)


def augmentation_kinds(augmentations: Iterable[str] | str) -> list[str]:
    """The augmentation prompts to cycle through, checked against :data:`AUGMENTATIONS`."""
    if isinstance(augmentations, str):
        augmentations = [a.strip() for a in augmentations.split(",") if a.strip()]
    kinds = list(dict.fromkeys(str(a) for a in augmentations))
    unknown = [k for k in kinds if k not in AUGMENTATIONS]
    if unknown or not kinds:
        raise ValueError(f"augmentations must be some of {list(AUGMENTATIONS)}, not {unknown or kinds}")
    return kinds


def augmented_solution(text: str) -> str:
    """The model's rewrite without a leading label or trailing chatter after its answer line."""
    text = re.sub(r"^\s*(?:new solution|solution)\s*:\s*", "", (text or "").strip(), flags=re.IGNORECASE)
    match = re.search(r"\bthe (?:final )?answer is\b[^\n]*", text, re.IGNORECASE)
    return text[: match.end()].strip() if match else text.strip()


class BackwardSynthesis(VerifiedSampler):
    """MathGenie's pipeline per seed: ``augment_rounds`` chained solution rewrites (prompts from
    ``augmentations``, cycled from an offset fixed by the seed's id), each with the answer it states
    as its new gold; every augmented solution (and the seed's own with ``include_seed``)
    back-translated into a question with ``question_template``; the question solved ``k`` times with
    ``template`` (default ``solve.jinja``) and verified when ``min_correct`` solves reach the gold.
    ``question_max_tokens`` caps the back-translation (a question is short)."""

    type_name = "backward_synthesis"

    def __init__(self, name: str, *, solution_column: str = "solution", augment_rounds: int = 2,
                 augmentations: Iterable[str] | str = AUGMENTATIONS, include_seed: bool = False, k: int = 2,
                 min_correct: int = 1, augment_template: str | None = None, question_template: str | None = None,
                 question_temperature: float | None = None, question_max_tokens: int = 192,
                 temperature: float = 0.7, citations: Iterable[str] = (), **kwargs: Any) -> None:
        if not 1 <= int(min_correct) <= int(k):
            raise ValueError(f"min_correct must be between 1 and k={k}, not {min_correct}")
        if int(augment_rounds) < 0 or (int(augment_rounds) == 0 and not include_seed):
            raise ValueError(f"augment_rounds must be >= 1 (or 0 with include_seed: true), not {augment_rounds}")
        super().__init__(name, k=k, temperature=temperature, citations=[CITATION, *citations], **kwargs)
        self.writes = {*COLUMNS, self.question_column, self.gold_column, solution_column}
        self.reads.discard(self.question_column)
        self.reads.discard(self.gold_column)  # the gold comes from the augmented solution
        self.reads.add(solution_column)
        self.solution_column = solution_column
        self.augment_rounds = int(augment_rounds)
        self.augmentations = augmentation_kinds(augmentations)
        self.include_seed = bool(include_seed)
        self.min_correct = int(min_correct)
        self.augment_template = augment_template or self.load_template("backward_augment.jinja")
        self.question_template = question_template or self.load_template("backward_question.jinja")
        self.question_temperature = question_temperature
        self.question_max_tokens = int(question_max_tokens)

    def kind_for(self, record: dict[str, Any], round_no: int) -> str:
        """The augmentation prompt of round ``round_no`` (1-based) for this seed."""
        offset = xxhash.xxh32_intdigest(str(record.get(ID, "")).encode())
        return self.augmentations[(offset + round_no - 1) % len(self.augmentations)]

    async def augment(self, record: dict[str, Any], solution: str,
                      lineage: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
        """The chain of augmented solutions (``{round, kinds, solution, gold}``) and, when the chain
        stopped early, why."""
        chain: list[dict[str, Any]] = []
        kinds: list[str] = []
        for round_no in range(1, self.augment_rounds + 1):
            kind = self.kind_for(record, round_no)
            view = {**record, "solution": solution, "kind": kind}
            raw, lin = await self.sample(record, self.messages(view, template=self.augment_template), 1,
                                         salt=f"\x1faugment:{round_no}", lineage={"stage": "augment", "round": round_no,
                                                                                 "augmentation": kind})
            lineage.extend(lin)
            new = augmented_solution(raw[0][0])
            gold = extract_answer(new)
            if not new or gold is None:
                return chain, f"round {round_no} ({kind}): the augmented solution states no final answer"
            kinds = [*kinds, kind]
            chain.append({"round": round_no, "kinds": kinds, "solution": new, "gold": gold})
            solution = new
        return chain, None

    async def back_translate(self, record: dict[str, Any], cand: dict[str, Any]) -> tuple[dict[str, Any], list]:
        """The candidate's question, its ``k`` verified solves and its verdict columns."""
        tag = f"{cand['round']}"
        shown = _ANSWER_SENTENCE.sub("", cand["solution"]).strip() or cand["solution"]
        view = {**record, "solution": shown, self.gold_column: cand["gold"]}
        raw, lineage = await self.sample(record, self.messages(view, template=self.question_template), 1,
                                         salt=f"\x1fquestion:{tag}", temperature=self.question_temperature,
                                         max_tokens=min(self.question_max_tokens, self.sampling.get("max_tokens") or 1 << 30),
                                         lineage={"stage": "back_translate", "round": cand["round"]})
        question = first_paragraph(raw[0][0], ["Question"])
        out = {"query": question, "solver_solution": None, "n_correct": 0, "n_solves": 0, "correct": False,
               "verify_status": "skipped", "gold_answer": cand["gold"]}
        if not question:
            return {**out, "verify_reason": "the generated question is empty"}, lineage
        if _LEAK.search(question):
            return {**out, "verify_reason": "the generated question gives away its answer"}, lineage
        solve = self.messages({**record, self.question_column: question})
        raw2, lin2 = await self.sample(record, solve, self.k, salt=f"\x1fsolve:{tag}",
                                       lineage={"stage": "verify", "round": cand["round"]})
        samples = await self.verify(raw2, cand["gold"])
        good = [s for s in samples if s.correct]
        out.update(n_correct=len(good), n_solves=len(samples), gold_answer=samples[0].verdict.gold or cand["gold"])
        if len(good) < self.min_correct:
            bad = next(s for s in samples if not s.correct)
            out.update(verify_status=bad.verdict.status,
                       verify_reason=f"generated question not solved back to the answer: {len(good)} of "
                                     f"{len(samples)} solves correct, {self.min_correct} needed ({reason_for(bad.verdict)})")
        else:
            out.update(solver_solution=good[0].text, correct=True, verify_status="correct", verify_reason=None)
        return out, lineage + lin2

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        solution = record.get(self.solution_column)
        if not isinstance(solution, str) or not solution.strip():
            return Rejected(f"no solution to write a question for in column {self.solution_column!r}")
        lineage: list[dict[str, Any]] = []
        chain, stopped = await self.augment(record, solution, lineage) if self.augment_rounds else ([], None)
        candidates = list(chain)
        if self.include_seed:
            seed_gold = record.get(self.gold_column)
            if seed_gold is None or str(seed_gold).strip() == "":
                seed_gold = extract_answer(solution)
            if seed_gold is not None:
                candidates.insert(0, {"round": 0, "kinds": [], "solution": solution.strip(), "gold": str(seed_gold)})
        if not candidates:
            return Rejected(stopped or "no candidate solution to back-translate")
        checked = await asyncio.gather(*(self.back_translate(record, c) for c in candidates))
        base = self.base_columns(record)
        for key in (self.question_column, self.gold_column, self.solution_column):
            base.pop(key, None)
        rows = []
        for cand, (verdict, lin) in zip(candidates, checked):
            lineage.extend(lin)
            rows.append({**base, self.question_column: verdict["query"], self.gold_column: cand["gold"],
                         self.solution_column: cand["solution"], "response": cand["solution"],
                         "augmentation": cand["kinds"], "augment_round": cand["round"],
                         "original_question": record.get(self.question_column),
                         "original_answer": record.get(self.gold_column), "original_solution": solution, **verdict})
        return adopt_rows(record, rows, self.name, lineage)
