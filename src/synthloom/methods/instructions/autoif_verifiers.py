"""AutoIF's two sandboxed steps (Dong et al. 2024, "Self-play with Execution Feedback: Improving
Instruction-Following Capabilities of Large Language Models", arXiv:2406.13542):

* :class:`AutoIfVerifiers` (``type: autoif_verifiers``): for each instruction the model writes
  ``n_samples`` verification functions ``def evaluate(response) -> bool``, each with test cases
  (responses labelled True/False); all run in the sandbox and are cross-validated
  (:func:`~synthloom.methods.instructions.autoif_checks.cross_validate`); the instruction is kept
  with the surviving verifiers when at least ``min_verifiers`` survive.
* :class:`AutoIfResponses` (``type: autoif_responses``): responses to query + instruction are
  sampled and run through the surviving verifiers (execution feedback): kept when they pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...pipeline.model_step import chat
from ...pipeline.step import Rejected
from ..code.base import CodeMethodStep
from .autoif_checks import VERIFIER_SCHEMA, compile_problem, cross_validate, merge_cases, parse_verifier_reply, verdict_job

CITATION = ("Dong et al. 2024, Self-play with Execution Feedback: Improving Instruction-Following Capabilities of "
            "Large Language Models (AutoIF), arXiv:2406.13542")


def _at_least_one(name: str, **values: int) -> None:
    for opt, v in values.items():
        if int(v) < 1:
            raise ValueError(f"{name}: {opt} must be >= 1, not {v}")


class AutoIfVerifiers(CodeMethodStep):
    """Asks for ``n_samples`` replies, each a verification function and ``cases_per_sample`` test
    cases for the instruction in ``instruction_column`` (template ``autoif_verifier.jinja``), and
    cross-validates them in the sandbox: a verifier is kept when it compiles, defines
    ``evaluate``, runs within ``timeout``/``memory_mb`` and classifies at least ``min_accuracy`` of
    the pooled test cases (and of its own) right. Writes ``verifiers`` (``[{"code", "accuracy",
    "own_accuracy"}]``), ``test_cases`` and ``verification`` (counts and each rejected verifier's
    reason); an instruction with fewer than ``min_verifiers`` verifiers or ``min_cases`` test cases
    is rejected with the reasons."""

    type_name = "autoif_verifiers"
    view_names = frozenset({"instruction", "cases_per_sample"})

    def __init__(self, name: str, *, instruction_column: str = "instruction", n_samples: int = 3,
                 cases_per_sample: int = 3, min_accuracy: float = 0.8, min_verifiers: int = 1, min_cases: int = 2,
                 template: str | None = None, temperature: float = 0.7, max_tokens: int = 512, timeout: float = 1.0,
                 memory_mb: int = 256, citations: Iterable[str] = (), **kwargs: Any) -> None:
        _at_least_one(f"autoif_verifiers {name!r}", n_samples=n_samples, cases_per_sample=cases_per_sample,
                      min_verifiers=min_verifiers, min_cases=min_cases)
        if not 0 < float(min_accuracy) <= 1:
            raise ValueError(f"autoif_verifiers {name!r}: min_accuracy must be in (0, 1], not {min_accuracy}")
        super().__init__(name, reads=[instruction_column], writes=["verifiers", "test_cases", "verification"],
                         temperature=temperature, max_tokens=max_tokens, timeout=timeout, memory_mb=memory_mb,
                         citations=[CITATION, *citations], **kwargs)
        self.prompt_template = self.template(template, "autoif_verifier.jinja")
        self.instruction_column, self.n_samples, self.cases_per_sample = instruction_column, int(n_samples), int(cases_per_sample)
        self.min_accuracy, self.min_verifiers, self.min_cases = float(min_accuracy), int(min_verifiers), int(min_cases)
        self.timeout, self.memory_mb = float(timeout), int(memory_mb)

    async def run(self, record: dict[str, Any]):
        instruction = str(record.get(self.instruction_column) or "").strip()
        if not instruction:
            raise ValueError(f"autoif_verifiers {self.name!r}: column {self.instruction_column!r} is empty")
        view = {**self.base_columns(record), "instruction": instruction, "cases_per_sample": self.cases_per_sample}
        response, entry = await self.call_constrained(record, chat(self.render(self.prompt_template, view)),
                                                      json_schema=VERIFIER_SCHEMA, n=self.n_samples)
        codes, origin, written, problems = [], [], [], []
        for k, choice in enumerate(response.choices):
            code, cases = parse_verifier_reply(choice.text)
            why = "no `evaluate` function in the reply" if code is None else compile_problem(code)
            if why is None and code in codes:
                why = "the same code as an earlier verifier"
            if why:
                problems.append({"index": k, "reason": why})
                continue
            codes.append(code)
            origin.append(k)
            written.append(cases)
        cases = merge_cases([c for group in written for c in group])
        index = {c["response"]: j for j, c in enumerate(cases)}
        own = [[index[c["response"]] for c in group if c["response"] in index] for group in written]
        stats = {"sampled": len(response.choices), "usable": len(codes), "cases": len(cases)}
        if not codes or len(cases) < self.min_cases:
            return Rejected(f"{len(codes)} usable verifiers and {len(cases)} test cases (need {self.min_verifiers} and "
                            f"{self.min_cases}): {_reasons(problems)}", score=0.0), [entry]
        jobs = [verdict_job(code, c["response"], c["expected"], self.timeout, self.memory_mb) for code in codes for c in cases]
        results = await self.sandbox.arun_many(jobs)
        statuses = [[results[i * len(cases) + j].status for j in range(len(cases))] for i in range(len(codes))]
        agree = [[s == "passed" for s in row] for row in statuses]
        cv = cross_validate(codes, own, cases, agree, statuses, self.min_accuracy)
        rejected = problems + [{**r, "index": origin[r["index"]]} for r in cv.rejected]
        verification = {**stats, "kept": len(cv.kept), "cases_kept": len(cv.cases),
                        "rejected": sorted(rejected, key=lambda r: r["index"])}
        if len(cv.kept) < self.min_verifiers or len(cv.cases) < self.min_cases:
            return Rejected(f"{len(cv.kept)} verifiers survive cross-validation (need {self.min_verifiers}), "
                            f"{len(cv.cases)} test cases (need {self.min_cases}): {_reasons(verification['rejected'])}",
                            score=len(cv.kept) / max(1, len(codes))), [entry]
        return {**self.base_columns(record), "verifiers": cv.kept, "test_cases": cv.cases,
                "verification": verification}, [entry]


def _reasons(rejected: list[dict[str, Any]]) -> str:
    return "; ".join(f"verifier {r['index']}: {r['reason']}" for r in rejected) or "no reply had a usable verifier"


class AutoIfResponses(CodeMethodStep):
    """Samples ``n_samples`` responses to the prompt in ``prompt_column`` (query + instruction) and
    runs each through every verifier of the row in the sandbox (AutoIF's execution-feedback
    rejection sampling). A response passes when at least ``min_pass_fraction`` of the verifiers
    return True for it. Writes ``response`` (the first passing one, by pass rate),
    ``response_pass_rate``, ``failed_responses`` (for preference pairs) and ``response_pass_rates``;
    rows where no response passes are rejected with the best pass rate."""

    type_name = "autoif_responses"

    def __init__(self, name: str, *, prompt_column: str = "prompt", n_samples: int = 4, min_pass_fraction: float = 1.0,
                 temperature: float = 0.7, max_tokens: int = 512, timeout: float = 1.0, memory_mb: int = 256,
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        _at_least_one(f"autoif_responses {name!r}", n_samples=n_samples)
        if not 0 < float(min_pass_fraction) <= 1:
            raise ValueError(f"autoif_responses {name!r}: min_pass_fraction must be in (0, 1], not {min_pass_fraction}")
        super().__init__(name, reads=[prompt_column, "verifiers"],
                         writes=["response", "response_pass_rate", "failed_responses", "response_pass_rates"],
                         temperature=temperature, max_tokens=max_tokens, timeout=timeout, memory_mb=memory_mb,
                         citations=[CITATION, *citations], **kwargs)
        self.prompt_column, self.n_samples, self.min_pass_fraction = prompt_column, int(n_samples), float(min_pass_fraction)
        self.timeout, self.memory_mb = float(timeout), int(memory_mb)

    async def run(self, record: dict[str, Any]):
        verifiers = [v["code"] for v in record.get("verifiers") or [] if isinstance(v, dict) and v.get("code")]
        if not verifiers:
            return Rejected("the row has no verifiers to check responses with"), []
        texts, entry = await self.texts(record, str(record[self.prompt_column]), n=self.n_samples)
        jobs = [verdict_job(code, text, True, self.timeout, self.memory_mb) for text in texts for code in verifiers]
        results = await self.sandbox.arun_many(jobs)
        rates = [sum(results[k * len(verifiers) + i].status == "passed" for i in range(len(verifiers))) / len(verifiers)
                 for k in range(len(texts))]
        passing = sorted((k for k, r in enumerate(rates) if r >= self.min_pass_fraction and texts[k].strip()),
                         key=lambda k: -rates[k])
        if not passing:
            return Rejected(f"none of {len(texts)} responses passes {self.min_pass_fraction:.0%} of the {len(verifiers)} "
                            f"verifiers (best pass rate {max(rates, default=0):.2f})", score=max(rates, default=0.0)), [entry]
        best = passing[0]
        failed = [t for k, t in enumerate(texts) if k not in passing]
        return {**self.base_columns(record), "response": texts[best], "response_pass_rate": rates[best],
                "failed_responses": failed, "response_pass_rates": rates}, [entry]
