"""Orca-Math's Ask-Me-Anything agent: new problems asked about the numbers of a seed's solved problem.

Mitra et al. 2024, "Orca-Math: Unlocking the potential of SLMs in Grade School Math",
arXiv:2402.14830, §3: the agent turns a seed problem and its answer into several problems — the
question of the seed is first rewritten as a statement (with the answer stated as a fact), then
for each number in that statement a new word problem is written that asks for that number, the
other facts given. Orca-Math grew its 36K seeds to 120K problems this way (the Suggester & Editor
agents, :mod:`.orca_math`, made the harder ones) and had GPT-4-Turbo answer them.

**Where this departs from the paper**: the paper writes all of a seed's problems in one GPT-4
call; here the statement is one call and each problem another, one per number that the code
picks in the statement (:func:`~synthloom.methods.reasoning.metamath.find_numbers`; at most
``max_problems`` of them, the seed's own answer skipped — asking for it again would give back
the seed). The number a problem asks for is its known answer, so instead of trusting one answer
the problem is solved ``k`` times and kept when ``min_correct`` of the solves reach that number.

Rows (one per new problem): the seed's columns with ``question_column`` / ``gold_column`` replaced
by the new problem and the number it asks for (the seed's kept as ``original_question`` /
``original_answer``; ``solution_column`` dropped, as it solves the seed), plus ``statement``,
``query``, ``response`` (a verified solution), ``gold_answer``, ``n_correct``, ``n_solves``,
``correct``, ``verify_status``, ``verify_reason``. Follow with ``keep_verified``. Rejected (the
seed): a statement that does not state the seed's answer, or one with no other number to ask for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from ...pipeline.step import Rejected
from ...records import adopt_rows
from ...verify.math import extract_answer
from .metamath import find_numbers, first_paragraph
from .orca_math import CITATION
from .verified_sampling import VerifiedSampler, reason_for

COLUMNS = ("original_question", "original_answer", "statement", "query", "response", "gold_answer", "n_correct",
           "n_solves", "correct", "verify_status", "verify_reason")


def number_value(text: str) -> str:
    """A number as written (``1,200``, ``3.50``) in a comparable form (``1200``, ``3.5``)."""
    value = text.replace(",", "")
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value or "0"


class OrcaMathAskMeAnything(VerifiedSampler):
    """Seed problem + answer (+ ``solution_column`` when present) → statement
    (``statement_template``) → one problem per number of the statement (``ask_template``, at most
    ``max_problems``) → ``k`` solves, verified when ``min_correct`` reach the number asked for.
    ``short_max_tokens`` caps the statement and question calls (each one paragraph)."""

    type_name = "orca_math_ama"

    def __init__(self, name: str, *, max_problems: int = 2, k: int = 1, min_correct: int = 1,
                 solution_column: str = "solution", statement_template: str | None = None,
                 ask_template: str | None = None, short_max_tokens: int = 128, temperature: float = 0.7,
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        if int(max_problems) < 1:
            raise ValueError(f"max_problems must be >= 1 (new problems per seed), not {max_problems}")
        if not 1 <= int(min_correct) <= int(k):
            raise ValueError(f"min_correct must be between 1 and k={k}, not {min_correct}")
        super().__init__(name, k=k, temperature=temperature, citations=[CITATION, *citations], **kwargs)
        self.writes = {*COLUMNS, self.question_column, self.gold_column}
        self.max_problems = int(max_problems)
        self.min_correct = int(min_correct)
        self.solution_column = solution_column
        self.statement_template = statement_template or self.load_template("orca_math_statement.jinja")
        self.ask_template = ask_template or self.load_template("orca_math_ask.jinja")
        self.short_max_tokens = int(short_max_tokens)

    @property
    def short_tokens(self) -> int:
        return min(self.short_max_tokens, self.sampling.get("max_tokens") or self.short_max_tokens)

    def numbers_to_ask(self, statement: str, answer: str) -> list[str]:
        """The numbers of ``statement`` to write problems for, as written: distinct values, in order,
        the seed's answer left out, at most ``max_problems``."""
        seen = {number_value(answer)}
        out = []
        for match in find_numbers(statement):
            value = number_value(match.group())
            if value not in seen:
                seen.add(value)
                out.append(match.group())
        return out[: self.max_problems]

    async def ask(self, record: dict[str, Any], statement: str, number: str, j: int) -> tuple[dict[str, Any], list]:
        """The problem asking for ``number``, its verified solves and its verdict columns."""
        view = {**record, "statement": statement, "number": number}
        raw, lineage = await self.sample(record, self.messages(view, template=self.ask_template), 1, salt=f"\x1fask:{j}",
                                         max_tokens=self.short_tokens, lineage={"agent": "ask_me_anything", "number": number})
        question = first_paragraph(raw[0][0], ["Problem", "New problem"])
        out = {"query": question, "response": None, "gold_answer": number_value(number), "n_correct": 0,
               "n_solves": 0, "correct": False, "verify_status": "skipped"}
        if not question:
            return {**out, "verify_reason": "the new problem is empty"}, lineage
        if number_value(number) in {number_value(m.group()) for m in find_numbers(question)}:
            return {**out, "verify_reason": f"the new problem gives away its answer {number}"}, lineage
        solve = self.messages({**record, self.question_column: question})
        raw2, lin2 = await self.sample(record, solve, self.k, salt=f"\x1fsolve:{j}", lineage={"agent": "solver"})
        samples = await self.verify(raw2, number_value(number))
        good = [s for s in samples if s.correct]
        out.update(n_correct=len(good), n_solves=len(samples))
        if len(good) < self.min_correct:
            bad = next(s for s in samples if not s.correct)
            out.update(verify_status=bad.verdict.status,
                       verify_reason=f"the new problem is not solved to {number}: {len(good)} of {len(samples)} solves "
                                     f"correct, {self.min_correct} needed ({reason_for(bad.verdict)})")
        else:
            out.update(response=good[0].text, correct=True, verify_status="correct", verify_reason=None)
        return out, lineage + lin2

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        gold = record.get(self.gold_column)
        solution = record.get(self.solution_column)
        answer = str(gold).strip() if gold is not None and str(gold).strip() else extract_answer(solution or "")
        if not answer:
            return Rejected(f"no answer in column {self.gold_column!r} to state")
        view = {**record, "solution": solution if isinstance(solution, str) else None, self.gold_column: answer}
        raw, lineage = await self.sample(record, self.messages(view, template=self.statement_template), 1,
                                         salt="\x1fstatement", max_tokens=self.short_tokens,
                                         lineage={"agent": "ask_me_anything", "turn": "statement"})
        statement = first_paragraph(raw[0][0], ["Statement"])
        if number_value(answer) not in {number_value(m.group()) for m in find_numbers(statement)}:
            return Rejected(f"the statement does not state the answer {answer}: {statement[:80]!r}")
        numbers = self.numbers_to_ask(statement, answer)
        if not numbers:
            return Rejected("the statement has no number besides the answer to ask about")
        asked = await asyncio.gather(*(self.ask(record, statement, n, j) for j, n in enumerate(numbers)))
        base = self.base_columns(record)
        base.pop(self.solution_column, None)
        rows = []
        for verdict, lin in asked:
            lineage.extend(lin)
            rows.append({**base, self.question_column: verdict["query"], self.gold_column: verdict["gold_answer"],
                         "original_question": record.get(self.question_column), "original_answer": answer,
                         "statement": statement, **verdict})
        return adopt_rows(record, rows, self.name, lineage)
