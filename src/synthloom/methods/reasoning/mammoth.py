"""MAmmoTH's hybrid rationales: chain-of-thought and program-of-thought solutions, each verified.

Yue et al. 2023, "MAmmoTH: Building Math Generalist Models through Hybrid Instruction Tuning",
arXiv:2309.05653. MathInstruct pairs every problem with two kinds of rationale: a chain of thought
(CoT, natural-language steps ending in the answer) and a program of thought (PoT, a Python program
whose printed output is the answer; prompted with the trigger "Let's write a program."). GPT-4
rationales were kept only when they matched the gold answer — a PoT rationale by *executing* the
program and comparing what it printed.

:class:`Mammoth` (``type: mammoth``) samples ``k`` CoT and ``k_pot`` PoT rationales per problem.
A CoT rationale's final answer is checked by :mod:`synthloom.verify.math`; a PoT program is taken
from the reply's code block, run in the sandbox (:mod:`synthloom.sandbox`: no network, read-only
system, time and memory limits) and its last printed line is checked the same way. Every sample is
a row with ``rationale_type`` (``cot`` / ``pot``), its verdict and, for failures, the reason (wrong
printed answer, the program's exception, its timeout); ``keep_verified`` keeps the verified ones.
The ``instruction`` column is the paper's training input: the question, plus the PoT trigger.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from ...pipeline.step import Rejected
from ...records import adopt_rows
from ...sandbox import ExecResult
from ...verify.code import SandboxClient
from ...verify.math import MathVerdict, MathVerifier, averify_math
from ..code.extract import extract_code
from ..fanout import bounded, check_max_fanout
from .verified_sampling import Sample, VerifiedSampler, reason_for

CITATION = ("Yue et al. 2023, MAmmoTH: Building Math Generalist Models through Hybrid Instruction Tuning, "
            "arXiv:2309.05653")
POT_TRIGGER = "Let's write a program."
COLUMNS = ("problem_id", "rationale_type", "instruction", "sample_index", "rationale", "program_output",
           "finish_reason", "correct", "verify_status", "pred_answer", "gold_answer", "verify_reason", "verified_rank")


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1] if lines else ""


async def check_program_output(result: ExecResult, gold: Any, *, verifier: MathVerifier | None = None) -> tuple[MathVerdict, str]:
    """The verdict of a PoT program's sandbox run against ``gold`` and the one-line reason when it
    is not correct (``""`` when it is): a program that failed, timed out or printed nothing is not
    verified; otherwise its last printed line is checked by the math verifier."""
    if result.status != "passed":
        err = _last_line(result.stderr) or result.detail or result.status
        if result.status == "timeout":
            why = f"the program timed out ({result.detail or 'time limit'})"
        else:
            why = f"the program {result.status}: {err[:200]}"
        return MathVerdict(False, f"program_{result.status}", None, None, why), why
    printed = _last_line(result.stdout)
    if not printed:
        why = "the program printed nothing"
        return MathVerdict(False, "no_answer", None, None, why), why
    verdict = await averify_math(printed, gold, verifier=verifier)
    return verdict, "" if verdict.correct else reason_for(verdict)


class Mammoth(VerifiedSampler):
    """``k`` chain-of-thought and ``k_pot`` program-of-thought rationales per problem, each verified
    against the gold answer (PoT programs executed in the sandbox with ``program_timeout`` seconds
    and ``memory_mb``; ``site_packages`` lets them import the installed packages, e.g. sympy).
    One row per sample; follow with ``keep_verified``. ``max_fanout`` bounds ``k`` and ``k_pot``
    (the recipe passes ``-n``). ``template`` / ``pot_template``: the two prompts."""

    type_name = "mammoth"
    default_template = "mammoth_cot.jinja"

    def __init__(self, name: str, *, k: int = 2, k_pot: int = 2, pot_template: str | None = None,
                 program_timeout: float = 5.0, memory_mb: int = 512, site_packages: bool = False,
                 max_fanout: int | None = None, temperature: float = 0.7, citations: Iterable[str] = (),
                 **kwargs: Any) -> None:
        if int(k) < 0 or int(k_pot) < 0 or int(k) + int(k_pot) < 1:
            raise ValueError(f"k (CoT samples) and k_pot (PoT samples) must be >= 0 with at least one sample, not {k}, {k_pot}")
        if float(program_timeout) <= 0:
            raise ValueError(f"program_timeout must be a positive number of seconds, not {program_timeout}")
        max_fanout = check_max_fanout(max_fanout)
        super().__init__(name, k=max(1, int(k)), temperature=temperature, citations=[CITATION, *citations], **kwargs)
        self.k, self.k_pot = bounded(int(k), max_fanout), bounded(int(k_pot), max_fanout)
        self.pot_template = pot_template if pot_template is not None else self.load_template("mammoth_pot.jinja")
        self.read_columns(self.pot_template)
        self.writes = set(COLUMNS)
        self.sandbox = SandboxClient(timeout=float(program_timeout), memory_mb=int(memory_mb),
                                     site_packages=bool(site_packages), thread_name="mammoth")

    async def aclose(self) -> None:
        self.sandbox.close()
        await super().aclose()

    async def run_programs(self, programs: list[str | None]) -> list[ExecResult | None]:
        """Sandbox runs of the extracted programs (``None`` where a reply had no program)."""
        jobs = [{"code": p} for p in programs if p is not None]
        results = iter(await self.sandbox.arun_many(jobs) if jobs else [])
        return [next(results) if p is not None else None for p in programs]

    async def pot_rows(self, record: dict[str, Any], raw: list[tuple[str, str | None, str | None]]) -> list[dict[str, Any]]:
        gold = record.get(self.gold_column)
        programs = [extract_code(text) for text, _, _ in raw]
        runs = await self.run_programs(programs)
        rows = []
        for j, ((text, _, finish), program, run) in enumerate(zip(raw, programs, runs)):
            if run is None:
                verdict, why, printed = MathVerdict(False, "no_program", None, None, "no program"), "no Python program in the reply", None
            else:
                verdict, why = await check_program_output(run, gold, verifier=self.verifier)
                printed = run.stdout[-2000:]
            rows.append(self._row(record, "pot", j, program if program is not None else text, finish,
                                  verdict, why, printed))
        return rows

    def _row(self, record: dict[str, Any], kind: str, index: int, rationale: str, finish: str | None,
             verdict: MathVerdict, why: str, printed: str | None) -> dict[str, Any]:
        question = str(record.get(self.question_column) or "")
        return {**self.base_columns(record), "problem_id": record.get("id"), "rationale_type": kind,
                "instruction": f"{question} {POT_TRIGGER}" if kind == "pot" else question,
                "sample_index": index, "rationale": rationale, "program_output": printed, "finish_reason": finish,
                "correct": verdict.correct, "verify_status": verdict.status, "pred_answer": verdict.pred,
                "gold_answer": verdict.gold, "verify_reason": None if verdict.correct else why}

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        async def cot() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            if not self.k:
                return [], []
            raw, lineage = await self.sample(record, self.messages(record), self.k, salt="cot",
                                             lineage={"rationale_type": "cot"})
            samples: list[Sample] = await self.verify(raw, record.get(self.gold_column))
            return [self._row(record, "cot", s.index, s.text, s.finish_reason, s.verdict,
                              "" if s.correct else reason_for(s.verdict), None) for s in samples], lineage

        async def pot() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            if not self.k_pot:
                return [], []
            raw, lineage = await self.sample(record, self.messages(record, self.pot_template), self.k_pot, salt="pot",
                                             lineage={"rationale_type": "pot"})
            return await self.pot_rows(record, raw), lineage

        (cot_rows, cot_lineage), (pot_rows, pot_lineage) = await asyncio.gather(cot(), pot())
        rows = cot_rows + pot_rows
        for kind in ("cot", "pot"):
            rank = 0
            for r in rows:
                if r["rationale_type"] == kind:
                    r["verified_rank"] = rank if r["correct"] else None
                    rank += bool(r["correct"])
        return adopt_rows(record, rows, self.name, cot_lineage + pot_lineage)
