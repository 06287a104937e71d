"""DeepSeek-Prover's data loop, part 1: autoformalization with statement filtering, in Coq.

Xin et al. 2024, "DeepSeek-Prover: Advancing Theorem Proving in LLMs through Large-Scale Synthetic
Data", arXiv:2405.14333. Natural-language problems are translated into formal statements
(autoformalization); statements that do not compile, or that are trivial or vacuous (contradictory
hypotheses), are filtered out; proofs are then searched for the rest and kept only when the proof
assistant accepts them; proved theorems become few-shot / training data for the next round
(:mod:`.formal_prover`). The paper uses Lean 4; synthloom uses **Coq** (Debian ships ``coq``;
Lean 4 is not packaged in Debian and its installer ``elan`` downloads toolchains at run time),
checked by :mod:`synthloom.verify.coq` inside the sandbox.

:class:`Autoformalize` (``type: coq_autoformalize``) asks for ``k`` formalizations of a problem and
keeps the first whose statement passes the checks, as ``theorem_name``, ``formal_statement`` (the
proposition) and ``formal_theorem`` (``Theorem NAME : STATEMENT.``); a problem with none is rejected
with the first candidate's reason (ill formed, trivial, vacuous).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...pipeline.model_step import ModelStep, chat
from ...pipeline.step import Rejected
from ...records import adopt_rows
from ...verify.coq import TRIVIAL_TACTICS, CoqChecker, CoqVerdict
from ...verify.coq_source import Statement, parse_statement
from ..fanout import bounded, check_max_fanout

CITATION = ("Xin et al. 2024, DeepSeek-Prover: Advancing Theorem Proving in LLMs through Large-Scale Synthetic Data, "
            "arXiv:2405.14333")
COLUMNS = ("theorem_name", "formal_statement", "formal_theorem", "formalization_attempts")


def coq_checker(timeout: float, memory_mb: int, trivial_tactics: Iterable[str] = TRIVIAL_TACTICS) -> CoqChecker:
    """A :class:`CoqChecker` for a step's options (values checked there)."""
    return CoqChecker(timeout=timeout, memory_mb=memory_mb, trivial_tactics=tuple(trivial_tactics))


class Autoformalize(ModelStep):
    """Translates the natural-language problem in ``problem_column`` into a Coq theorem statement:
    ``k`` samples (bounded by ``max_fanout``), each parsed and checked in the sandbox (compiles
    with ``Admitted``, not ``True``, not proved by one of ``trivial_tactics``, hypotheses not
    contradictory); the first that passes is kept. ``timeout`` is seconds per coqc run,
    ``memory_mb`` its memory limit."""

    type_name = "coq_autoformalize"
    default_sampling = {"temperature": 0.7, "max_tokens": 160}

    def __init__(self, name: str, *, problem_column: str = "problem", k: int = 2, max_fanout: int | None = None,
                 trivial_tactics: list[str] | None = None, timeout: float = 20.0, memory_mb: int = 2048,
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        if int(k) < 1:
            raise ValueError(f"k must be >= 1 (formalizations sampled per problem), not {k}")
        self.k = bounded(int(k), check_max_fanout(max_fanout))
        tactics = list(TRIVIAL_TACTICS if trivial_tactics is None else trivial_tactics)
        if not all(isinstance(t, str) and t.strip() and "." not in t for t in tactics):
            raise ValueError(f"trivial_tactics must be tactic names without a period, not {trivial_tactics!r}")
        super().__init__(name, reads=[problem_column], writes=COLUMNS, citations=[CITATION, *citations], **kwargs)
        self.problem_column = problem_column
        self.checker = coq_checker(timeout, memory_mb, tactics)
        self.prompt = self.load_template("formal_autoformalize.jinja")

    async def aclose(self) -> None:
        self.checker.close()

    async def check(self, reply: str) -> tuple[Statement | None, CoqVerdict]:
        """A reply's statement and its verdict (``ill_formed`` when none can be read)."""
        st = parse_statement(reply)
        if isinstance(st, str):
            return None, CoqVerdict("ill_formed", st)
        return st, await self.checker.acheck_statement(st)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        problem = str(record.get(self.problem_column) or "").strip()
        if not problem:
            return Rejected(f"empty problem in column {self.problem_column!r}")
        messages = chat(self.render(self.prompt, {**record, "problem": problem}))
        response, lineage = await self.call(record, messages, n=self.k)
        first: CoqVerdict | None = None
        for attempt, choice in enumerate(response.choices, 1):
            st, verdict = await self.check(choice.text or "")
            if st is not None and verdict.ok:
                row = {**record, "theorem_name": st.name, "formal_statement": st.statement, "formal_theorem": st.text,
                       "formalization_attempts": attempt}
                return adopt_rows(record, row, self.name, [lineage])
            first = first or verdict
        if first is None:
            return Rejected("the model returned no formalization")
        return Rejected(f"{first.status} statement: {first.reason}")
