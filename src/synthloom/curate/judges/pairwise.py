"""The ``judge_pairwise`` step: which of two responses is better, asked in both orders.

LLM judges favour a position (Zheng et al. 2023, "Judging LLM-as-a-Judge with MT-Bench and Chatbot
Arena", arXiv 2306.05685, §3.3: position bias). So the judge sees the pair twice — column ``response_a``
first, then ``response_b`` first — and a winner counts only when both orders agree; an inconsistent
pair, or a tie in both, is a **tie** (their "conservative" swap rule). ``swap: false`` asks once.

Output columns: ``winner`` (``"a"`` = the ``response_a`` column, ``"b"``, or ``"tie"``),
``pairwise_verdicts`` (the verdict of each order, already mapped to a/b/tie) and ``judge_reason``
(the replies, one per order). Presets: ``pairwise`` (MT-Bench ``[[A]]``/``[[B]]``/``[[C]]``) and
``prometheus_relative`` (Kim et al. 2024, Prometheus 2, arXiv 2405.01535: ``[RESULT] A``).
Where the backend can enforce a JSON schema the reply is asked for as ``{"rationale", "winner"}``
(``constrained``), so a grammar-constrained model always names a winner; else the preset's format
(``structured: true`` insists on the JSON, validated and re-asked; ``false`` never asks for it).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ...pipeline.model_step import ModelStep, RowError
from ...pipeline.step import Rejected
from ...records import adopt_rows
from .base import PromptBuilder, judge_sampling, judge_template
from .constrained import verdict_schema
from .parsing import JudgeParseError, parse_pairwise
from .rubrics import get_rubric


class PairwiseJudge(ModelStep):
    """Compares the ``response_a`` and ``response_b`` columns with an LLM judge in both orders
    (order swap against position bias; inconsistent verdicts are ties). See the module docstring."""

    type_name = "judge_pairwise"

    def __init__(
        self,
        name: str,
        *,
        response_a: str,
        response_b: str,
        rubric: str = "pairwise",
        instruction: str | None = "instruction",
        input: str | None = None,
        reference: str | None = None,
        criteria: str | None = None,
        template: str | None = None,
        system: str | None = None,
        swap: bool = True,
        structured: bool | None = None,
        winner_column: str = "winner",
        verdicts_column: str = "pairwise_verdicts",
        reason_column: str = "judge_reason",
        model: str = "default",
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: Any = None,
        n: int | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        inputs: list[str] | None = None,
    ) -> None:
        where = f"judge_pairwise {name!r}"
        preset = get_rubric(rubric, where)
        if preset.mode != "pairwise":
            raise ValueError(f"{where}: rubric {rubric!r} grades one response; use pairwise or prometheus_relative")
        if response_a == response_b:
            raise ValueError(f"{where}: response_a and response_b name the same column {response_a!r}")
        self.criteria = preset.criteria if criteria is None else criteria
        self.response_columns = (response_a, response_b)
        self.swap = bool(swap)
        self.structured = structured
        self.verdict_schema = verdict_schema("winner", ["A", "B"] if preset.name == "prometheus_relative" else
                                             ["A", "B", "tie"], max_tokens=max_tokens or preset.max_tokens)
        self.winner_column, self.verdicts_column, self.reason_column = winner_column, verdicts_column, reason_column
        super().__init__(name, model=model, reads={response_a, response_b}, inputs=inputs or (),
                         writes=[winner_column, verdicts_column, reason_column], citations=[preset.citation],
                         **judge_sampling(where, self.config, max_tokens=preset.max_tokens, want_logprobs=False))
        roles = {"instruction": instruction, "input": input, "reference": reference,
                 "response_a": response_a, "response_b": response_b}
        self.builder = PromptBuilder(judge_template(self, template or preset.template, where),
                                     preset.system if system is None else (system or None), roles,
                                     {"criteria": self.criteria}, raw=False, where=where)
        self.reads |= self.builder.reads

    def _messages(self, record: dict[str, Any], order: tuple[str, str]) -> list[dict[str, str]] | str:
        col = dict(zip("ab", self.response_columns))
        overrides = {"response_a": record.get(col[order[0]]), "response_b": record.get(col[order[1]])}
        return self.builder.messages(self, record, overrides)

    async def _ask(self, record: dict[str, Any], prompt: Any, lineage: dict[str, Any]) -> Any:
        if self.structured is None:
            return await self.call_constrained(record, prompt, json_schema=self.verdict_schema, lineage=lineage)
        return await self.call(record, prompt, json_schema=self.verdict_schema if self.structured else None,
                               lineage=lineage)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        orders = [("a", "b"), ("b", "a")] if self.swap else [("a", "b")]
        prompts = [self._messages(record, order) for order in orders]
        answers = await asyncio.gather(*(self._ask(record, prompt, {"order": "".join(order)})
                                         for prompt, order in zip(prompts, orders)))
        verdicts = []
        for order, (resp, _) in zip(orders, answers):
            try:
                verdict, _ = parse_pairwise(resp.text)
            except JudgeParseError as e:
                which = "original" if order == ("a", "b") else "swapped"
                raise RowError(f"judge {self.name!r} could not read the reply ({which} order): {e}",
                               raw_text=e.raw) from None
            verdicts.append({"A": order[0], "B": order[1], "tie": "tie"}[verdict])
        winner = verdicts[0] if len(set(verdicts)) == 1 else "tie"
        out = {**record, self.winner_column: winner, self.verdicts_column: verdicts,
               self.reason_column: [resp.text.strip() for resp, _ in answers]}
        return adopt_rows(record, out, self.name, [entry for _, entry in answers])
