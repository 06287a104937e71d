"""Orca-Math's Suggester & Editor: seed problems made harder, kept when independent solutions agree.

Mitra et al. 2024, "Orca-Math: Unlocking the potential of SLMs in Grade School Math",
arXiv:2402.14830. Two agents harden a seed problem: the **Suggester** proposes ways to make it more
complex without solving it; the **Editor** writes the harder problem from the suggestions. Two
rounds in the paper (``rounds``); records whose answer is longer than 1,800 characters are dropped
(``max_answer_chars``). In the paper GPT-4-Turbo then writes the reference solution.

**The rule used here for the gold answer**: a hardened problem has no known answer, so it is solved
``k`` times (``solver_model``) and the answers are grouped by mathematical equivalence
(:mod:`synthloom.verify.math`); the problem is kept when the largest group holds at least
``min_agreement`` of the ``k`` solutions (default 0.75: 3 of 4), and that group's answer becomes
the new gold (``gold_answer``) with its first solution as ``response`` — self-consistency standing
in for the paper's single strong-model answer. Use a strong ``solver_model`` as the paper does.

Rows: the seed's columns with ``question_column`` / ``gold_column`` replaced by the hardened
problem and its agreed answer (the seed's kept as ``original_question`` / ``original_answer``; its
``seed_solution_column``, default ``solution``, dropped), plus ``query`` (the hardened problem),
``response``, ``gold_answer``,
``agreement`` (share of the k answers in the top group), ``answers`` (every extracted answer),
``suggestions`` (per round) and ``rounds``. Rejected: empty edits, no agreement (with the answers),
no final answer, or an answer over ``max_answer_chars``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...pipeline.step import Rejected
from ...records import adopt_rows
from ...verify.math import averify_math, extract_answer
from .metamath import first_paragraph
from .verified_sampling import VerifiedSampler, split_reasoning

CITATION = "Mitra et al. 2024, Orca-Math: Unlocking the potential of SLMs in Grade School Math, arXiv:2402.14830"
COLUMNS = ("original_question", "original_answer", "query", "response", "gold_answer", "agreement", "answers", "suggestions", "rounds")


class OrcaMathHarden(VerifiedSampler):
    """Suggester → Editor for ``rounds`` rounds, then ``k`` solves and the agreement rule.
    Options: ``rounds`` (2), ``k`` (4), ``seed_solution_column`` (dropped from rows), ``min_agreement`` (0.75),
    ``max_answer_chars`` (1800), ``suggester_template`` / ``editor_template``, ``short_max_tokens``
    (caps the suggester's and the editor's replies: a few suggestions, one problem), ``solver_model``
    (default the step's model), and the :class:`VerifiedSampler` options (``template`` is the solve
    prompt)."""

    type_name = "orca_math_harden"

    def __init__(self, name: str, *, rounds: int = 2, k: int = 4, min_agreement: float = 0.75,
                 max_answer_chars: int = 1800, suggester_template: str | None = None,
                 editor_template: str | None = None, solver_model: str | None = None,
                 seed_solution_column: str = "solution", short_max_tokens: int = 128, temperature: float = 0.7,
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        if int(rounds) < 1:
            raise ValueError(f"rounds must be >= 1 (suggester/editor rounds), not {rounds}")
        if not 0 < float(min_agreement) <= 1:
            raise ValueError(f"min_agreement must be in (0, 1] (share of the k answers that agree), not {min_agreement}")
        super().__init__(name, k=k, temperature=temperature, citations=[CITATION, *citations], **kwargs)
        self.writes = set(COLUMNS)
        self.reads.discard(self.gold_column)  # the seed's answer is not used: the hardened problem has a new one
        self.rounds = int(rounds)
        self.seed_solution_column = seed_solution_column
        self.min_agreement = float(min_agreement)
        self.max_answer_chars = int(max_answer_chars)
        self.suggester_template = suggester_template or self.load_template("orca_math_suggester.jinja")
        self.editor_template = editor_template or self.load_template("orca_math_editor.jinja")
        self.solver_model = self.uses_model(solver_model)
        self.short_max_tokens = int(short_max_tokens)

    async def group_answers(self, texts: list[str]) -> list[list[int]]:
        """Indices of ``texts`` grouped by equivalent final answers (texts without one are left out)."""
        groups: list[tuple[str, list[int]]] = []
        for i, text in enumerate(texts):
            pred = extract_answer(text)
            if pred is None:
                continue
            for rep, members in groups:
                if (await averify_math(text, rep, verifier=self.verifier)).correct:
                    members.append(i)
                    break
            else:
                groups.append((pred, [i]))
        return sorted((m for _, m in groups), key=len, reverse=True)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        question = str(record.get(self.question_column) or "")
        lineage: list[dict[str, Any]] = []
        suggestions_log = []
        short = min(self.short_max_tokens, self.sampling.get("max_tokens") or self.short_max_tokens)
        for r in range(self.rounds):
            view = {**record, self.question_column: question}
            raw, lin = await self.sample(record, self.messages(view, template=self.suggester_template), 1,
                                         salt=f"\x1fsuggest:{r}", max_tokens=short,
                                         lineage={"agent": "suggester", "round": r + 1})
            suggestions = raw[0][0].strip()
            raw2, lin2 = await self.sample(record, self.messages({**view, "suggestions": suggestions},
                                                                 template=self.editor_template), 1,
                                           salt=f"\x1fedit:{r}", max_tokens=short,
                                           lineage={"agent": "editor", "round": r + 1})
            lineage += lin + lin2
            edited = first_paragraph(raw2[0][0], ["New question", "Question"])
            if not suggestions or not edited:
                return Rejected(f"round {r + 1}: the {'suggester' if not suggestions else 'editor'} returned nothing")
            suggestions_log.append(suggestions)
            question = edited
        raw3, lin3 = await self.sample(record, self.messages({**record, self.question_column: question}), self.k,
                                       salt="\x1fsolve", model=self.solver_model, lineage={"agent": "solver"})
        lineage.extend(lin3)
        texts = [split_reasoning(t, reasoning)[1] for t, reasoning, _ in raw3]
        answers = [extract_answer(t) for t in texts]
        groups = await self.group_answers(texts)
        if not groups:
            return Rejected(f"no final answer in any of the {len(texts)} solutions")
        top = groups[0]
        share = len(top) / len(texts)
        if share < self.min_agreement:
            return Rejected(f"no agreement: answers {answers}, top {len(top)} of {len(texts)} "
                            f"< min_agreement {self.min_agreement}", share)
        response = texts[top[0]]
        if len(response) > self.max_answer_chars:
            return Rejected(f"answer over {self.max_answer_chars} characters ({len(response)})", share)
        row = self.base_columns(record)
        row.pop(self.seed_solution_column, None)  # the seed's solution does not solve the new problem
        row.update({self.question_column: question, self.gold_column: answers[top[0]],
                    "original_question": record.get(self.question_column),
                    "original_answer": record.get(self.gold_column), "query": question, "response": response,
                    "gold_answer": answers[top[0]], "agreement": share, "answers": answers,
                    "suggestions": suggestions_log, "rounds": self.rounds})
        return adopt_rows(record, row, self.name, lineage)
