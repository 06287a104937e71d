"""IFD — instruction-following difficulty — from a local model's token log-likelihoods.

Li et al. 2023, "From Quantity to Quality: Boosting LLM Performance with Self-Guided Data Selection
for Instruction Tuning" (Cherry LLM, arXiv 2308.12032):

    IFD(Q, A) = s(A | Q) / s(A)

where ``s`` is the average cross-entropy (negative log-likelihood per token) of the answer's tokens,
once after the instruction prompt and once alone. IFD near or above 1 means the instruction does not
help the model produce the answer (Cherry LLM drops IFD ≥ 1 as misaligned); among the rest, high IFD
marks the samples the model finds hard to follow — the paper keeps the top 5–10% by IFD.

As in the Cherry LLM code, the conditioned text is the Alpaca prompt (with or without the input
section) followed by the answer, and the unconditioned text is ``"### Response:"`` followed by the
answer; both are overridable (``template`` over ``instruction``/``input``, ``direct_prefix``).
The answer is tokenized on its own, so both losses cover exactly the same tokens; an answer longer
than the model's window is cut to fit (the row says how many tokens were cut).

Needs a model that scores given text: an in-process GGUF (``embedded`` or ``gguf:PATH``), or an
OpenAI-compatible server that returns prompt log-probabilities (model setting ``prompt_logprobs``); see
``synthloom.llm.scoring`` and ``synthloom.llm.server_scoring``.
"""

from __future__ import annotations

import threading
from typing import Any

from ...llm.scoring import ContinuationScore, LogLikelihoodScorer, scorer_for_model, scoring_problem
from ...llm.server_scoring import ServerScorer
from ...pipeline.llm_step import RowError
from ...pipeline.step import MapStep
from ...pipeline.templates import render, template_columns

CHERRY = ("Li et al. 2023, From Quantity to Quality: Boosting LLM Performance with Self-Guided Data Selection for "
          "Instruction Tuning (Cherry LLM, arXiv 2308.12032)")
ALPACA_TEMPLATE = (
    "{% if input %}Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n### Instruction:\n{{ instruction }}"
    "\n\n### Input:\n{{ input }}\n\n### Response:"
    "{% else %}Below is an instruction that describes a task. Write a response that appropriately completes the "
    "request.\n\n### Instruction:\n{{ instruction }}\n\n### Response:{% endif %}"
)
DIRECT_PREFIX = "### Response:"


def ifd_score(scorer: LogLikelihoodScorer, prompt: str, answer: str, direct_prefix: str = DIRECT_PREFIX) -> dict[str, Any]:
    """Conditioned and direct losses of ``answer`` and their ratio (the IFD)."""
    return ifd_from_scores(scorer.score(prompt, answer), scorer.score(direct_prefix, answer))


async def aifd_score(scorer: LogLikelihoodScorer | ServerScorer, prompt: str, answer: str,
                     direct_prefix: str = DIRECT_PREFIX) -> dict[str, Any]:
    """:func:`ifd_score` with any scorer (in-process or server)."""
    return ifd_from_scores(await scorer.ascore(prompt, answer), await scorer.ascore(direct_prefix, answer))


def ifd_from_scores(cond: ContinuationScore, direct: ContinuationScore) -> dict[str, Any]:
    """The IFD of an answer from its conditioned and direct token log-probabilities."""
    if not cond.logprobs or not direct.logprobs:
        raise ValueError("the answer has no tokens to score")
    n = min(len(cond.logprobs), len(direct.logprobs))  # the same tokens, unless the window cut them differently
    loss_cond = -sum(cond.logprobs[:n]) / n
    loss_direct = -sum(direct.logprobs[:n]) / n
    return {"ifd": loss_cond / loss_direct if loss_direct > 0 else float("inf"), "loss_conditioned": loss_cond,
            "loss_direct": loss_direct, "tokens": n, "truncated": max(cond.truncated, direct.truncated)}


class IFDScore(MapStep):
    """Adds ``ifd`` (and ``ifd_loss_conditioned``, ``ifd_loss_direct``) to each row, computed with the
    recipe model ``model`` (an in-process GGUF, or a server giving prompt log-probabilities) from the
    ``instruction`` (+ ``input``) and ``response`` columns; see the module docstring. Select afterwards
    with ``select_threshold`` (``less_than: 1``) and ``select_top`` (``fraction: 0.1``)."""

    type_name = "ifd"
    cpu_bound = True

    def __init__(self, name: str, *, instruction: str = "instruction", response: str = "response",
                 input: str | None = None, model: str = "default", template: str = ALPACA_TEMPLATE,
                 direct_prefix: str = DIRECT_PREFIX, column: str = "ifd", n_ctx: int | None = None,
                 inputs: list[str] | None = None) -> None:
        used = set(template_columns(template))
        unknown = used - {"instruction", "input"}
        reads = {instruction, response} | ({input} if input else set()) | unknown
        super().__init__(name, reads=reads, writes=[column, f"{column}_loss_conditioned", f"{column}_loss_direct"],
                         inputs=inputs or (), citations=[CHERRY], models=[model])
        self.instruction, self.response, self.input = instruction, response, input
        self.model_name, self.template, self.direct_prefix, self.column = model, template, direct_prefix, column
        self.n_ctx = n_ctx
        self._scorer: LogLikelihoodScorer | ServerScorer | None = None
        self._lock = threading.Lock()

    def setup(self, ctx: Any) -> None:
        """Fails before any row is read when the model cannot score given text."""
        super().setup(ctx)
        config = (getattr(ctx.models, "configs", None) or {}).get(self.model_name)
        problem = None if config is None else scoring_problem(config)
        if problem:
            from ...llm.spec import ModelSpecError

            raise ModelSpecError(f"ifd step {self.name!r}: IFD needs the token log-likelihoods of given text: {problem}")

    def scorer(self) -> LogLikelihoodScorer | ServerScorer:
        with self._lock:
            if self._scorer is None:
                assert self.ctx is not None, "step used before setup()"
                self._scorer = scorer_for_model(self.ctx.models, self.model_name, self.n_ctx)
            return self._scorer

    async def amap(self, record: dict[str, Any]) -> dict[str, Any]:
        answer = record.get(self.response)
        if not isinstance(answer, str) or not answer.strip():
            raise RowError(f"ifd {self.name!r}: column {self.response!r} has no answer text to score")
        values = {**record, "instruction": record.get(self.instruction),
                  "input": record.get(self.input) if self.input else None}
        prompt = render(self.template, values, self.ctx.params if self.ctx else None)
        try:
            got = await aifd_score(self.scorer(), prompt, answer, self.direct_prefix)
        except ValueError as e:
            raise RowError(f"ifd {self.name!r}: {e}") from None
        return {**record, self.column: got["ifd"], f"{self.column}_loss_conditioned": got["loss_conditioned"],
                f"{self.column}_loss_direct": got["loss_direct"]}
