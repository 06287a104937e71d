"""The ``judge`` step: one LLM judgement per record — a score, a yes/no verdict, or several aspects.

Modes (set by the rubric preset, or ``mode:``):

* ``score``: a number on ``scale`` (default 1–5) -> column ``score`` (float) and ``judge_reason``;
  with ``expected_score: true`` the score is the expectation over the score token's top logprobs
  (``score``), the sampled digit goes to ``score_text`` and the distribution to ``score_probs``;
* ``binary``: a yes/no verdict -> ``score`` 1.0 / 0.0 and ``judge_reason``;
* ``aspects``: several aspects in one call (JSON) -> ``scores`` ({aspect: float}), ``score`` (their
  mean) and ``judge_reason`` (the rationales, or the reply).

The reply is asked for as JSON (``{"rationale", "score"}``, ``{"rationale", "answer"}``, one object per
aspect; see ``constrained``) wherever the backend can enforce a schema (``structured`` unset): a
grammar-constrained model always gives a score. A backend that cannot gets the rubric's free-text
format. ``structured: true`` insists on JSON everywhere (validated, re-asked); ``false`` never asks for it.
A reply the parser cannot read (no score, out of range, ambiguous, see ``parsing``) becomes an error
row whose ``raw_text`` keeps the reply. Presets and their papers: see ``rubrics``. The judge papers:
Zheng et al. 2023 (MT-Bench, arXiv 2306.05685) for rubric grading; Liu et al. 2023 (G-Eval, arXiv
2303.16634) and DEITA (arXiv 2312.15685) for the logprob-weighted score.
"""

from __future__ import annotations

import json
import math
import statistics
from typing import Any

from ...llm.types import Response
from ...pipeline.llm_step import LLMStep, RowError
from .base import PromptBuilder, judge_sampling, judge_template, number
from .constrained import aspects_schema, verdict_schema
from .expected_score import expected_score
from .parsing import JudgeParseError, parse_aspects, parse_binary, parse_score
from .rubrics import MODES, get_rubric


def _scale(scale: Any, default: tuple[float, float], where: str) -> tuple[float, float]:
    if scale is None:
        return default
    if (not isinstance(scale, (list, tuple)) or len(scale) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in scale) or scale[0] >= scale[1]):
        raise ValueError(f"{where}: scale must be [low, high] with low < high, e.g. [1, 5]; got {scale!r}")
    return float(scale[0]), float(scale[1])


def _aspects(aspects: Any, default: dict[str, str], where: str) -> dict[str, str]:
    if aspects is None:
        return dict(default)
    if isinstance(aspects, dict):
        return {str(k): str(v or k) for k, v in aspects.items()}
    if isinstance(aspects, (list, tuple)) and all(isinstance(a, str) for a in aspects):
        return {a: default.get(a, a.replace("_", " ")) for a in aspects}
    raise ValueError(f"{where}: aspects must be a list of names or a mapping name -> description; got {aspects!r}")


class Judge(LLMStep):
    """An LLM judge grading each record: pointwise score, binary verdict or several aspects (see the
    module docstring). ``rubric`` picks a preset (``default``, ``alpagasus``, ``ultrafeedback``,
    ``helpsteer``, ``lab_question``, ``lab_answer``, ``prometheus``, ``deita_complexity``...); the
    role options name the columns to read (``instruction``, ``response``, ``input``, ``reference``)."""

    type_name = "judge"

    def __init__(
        self,
        name: str,
        *,
        rubric: str = "default",
        mode: str | None = None,
        instruction: str | None = "instruction",
        response: str | None = "response",
        input: str | None = None,
        reference: str | None = None,
        scale: list[float] | None = None,
        criteria: str | None = None,
        score_descriptions: dict[Any, str] | None = None,
        aspects: Any = None,
        template: str | None = None,
        system: str | None = None,
        raw: bool | None = None,
        expected_score: bool | None = None,
        structured: bool | None = None,
        score_column: str | None = None,
        reason_column: str = "judge_reason",
        aspects_column: str = "scores",
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
        where = f"{type(self).type_name} {name!r}"
        preset = get_rubric(rubric, where)
        self.mode = mode or preset.mode
        if self.mode not in MODES or self.mode == "pairwise":
            hint = " (use type: judge_pairwise)" if self.mode == "pairwise" else ""
            raise ValueError(f"{where}: mode must be one of score, binary, aspects{hint}; got {self.mode!r}")
        self.lo, self.hi = _scale(scale, (0.0, 1.0) if self.mode == "binary" else (preset.lo, preset.hi), where)
        self.criteria = preset.criteria if criteria is None else criteria
        self.score_descriptions = {str(k): str(v) for k, v in (score_descriptions or preset.score_descriptions).items()}
        self.aspects = _aspects(aspects, preset.aspects, where) if self.mode == "aspects" else {}
        if self.mode == "aspects" and not self.aspects:
            raise ValueError(f"{where}: mode aspects needs `aspects:` (a list of names or name -> description)")
        self.expected = preset.expected_score if expected_score is None else bool(expected_score)
        if self.expected and self.mode != "score":
            raise ValueError(f"{where}: expected_score works in mode score only (mode is {self.mode!r})")
        self.score_column = score_column or preset.score_column
        self.reason_column = reason_column
        self.aspects_column = aspects_column
        self.rubric = preset
        raw = preset.raw if raw is None else raw
        sampling = judge_sampling(where, self.config, max_tokens=preset.max_tokens, want_logprobs=self.expected)
        self.structured = structured
        self.max_tokens = sampling.get("max_tokens")
        super().__init__(name, model=model, raw=raw, json_schema=self._schema() if structured else None,
                         writes=self.judge_columns(), inputs=inputs or (),
                         citations=[preset.citation] if preset.citation else [], **sampling)
        roles = {"instruction": instruction, "input": input, "response": response, "reference": reference}
        context = {"lo": number(self.lo), "hi": number(self.hi), "criteria": self.criteria,
                   "score_descriptions": self.score_descriptions,
                   "aspects": [{"name": k, "description": v} for k, v in self.aspects.items()]}
        self.builder = PromptBuilder(judge_template(self, template or preset.template, where),
                                     preset.system if system is None else (system or None), roles, context,
                                     raw=raw, where=where)
        self.reads |= self.builder.reads

    # ------------------------------------------------------------------------------ columns, schema
    def judge_columns(self) -> list[str]:
        """The columns this judge writes."""
        cols = [self.score_column, self.reason_column]
        if self.mode == "aspects":
            cols.append(self.aspects_column)
        if self.expected:
            cols += [f"{self.score_column}_text", f"{self.score_column}_probs"]
        return cols

    def _schema(self) -> dict[str, Any]:
        if self.mode == "binary":
            return verdict_schema("answer", ["yes", "no"], max_tokens=self.max_tokens)
        if self.mode == "aspects":
            return aspects_schema(list(self.aspects), self.lo, self.hi, max_tokens=self.max_tokens)
        return verdict_schema("score", (self.lo, self.hi), max_tokens=self.max_tokens)

    def constrained_schema(self) -> dict[str, Any] | None:
        """``structured`` unset: the reply's schema wherever the backend can enforce it, except for a
        logprob-read score (``expected_score``), which reads the digit of the rubric's own format, and a
        user's own ``template``, which states the reply's format itself."""
        if self.structured is not None or self.expected or self.config.get("template") is not None:
            return None
        return self._schema()

    # ------------------------------------------------------------------------------ prompt, parse
    def prompt(self, record: dict[str, Any]) -> list[dict[str, str]] | str:
        return self.builder.messages(self, record)

    def judgement(self, response: Response) -> dict[str, Any]:
        """The output columns for one reply (raises :class:`JudgeParseError` when unreadable)."""
        text = response.text
        if response.parsed is not None:
            text = json.dumps(response.parsed)
        if self.mode == "binary":
            verdict, _ = parse_binary(text)
            return {self.score_column: 1.0 if verdict else 0.0, self.reason_column: response.text.strip()}
        if self.mode == "aspects":
            scores, reasons = parse_aspects(text, list(self.aspects), self.lo, self.hi)
            reason = "\n".join(f"{a}: {r}" for a, r in reasons.items()) if reasons else response.text.strip()
            return {self.aspects_column: scores, self.score_column: statistics.fmean(scores.values()),
                    self.reason_column: reason}
        try:
            parsed = parse_score(text, self.lo, self.hi)
            value: float | None = parsed.value
            reason = parsed.reason
        except JudgeParseError:
            if not self.expected:
                raise
            value, reason = None, response.text.strip()
        out: dict[str, Any] = {self.score_column: value, self.reason_column: reason}
        if self.expected:
            choice = response.choices[0] if response.choices else None
            got = expected_score(choice.logprobs if choice else None, self.lo, self.hi, value)
            if got is None and value is None:
                raise JudgeParseError(f"no score on the scale {number(self.lo)}–{number(self.hi)} in the reply and no "
                                      "score token in its logprobs", response.text)
            out[f"{self.score_column}_text"] = value
            if got is None:  # the backend returned no usable logprobs: fall back to the sampled score
                out[f"{self.score_column}_probs"] = None
            else:
                out[self.score_column] = round(got[0], 6)
                values = range(math.ceil(self.lo), math.floor(self.hi) + 1)  # every value: a stable schema
                out[f"{self.score_column}_probs"] = {str(k): round(got[1].get(k, 0.0), 6) for k in values}
        return out

    def parse(self, record: dict[str, Any], response: Response) -> dict[str, Any]:
        try:
            return {**record, **self.judgement(response)}
        except JudgeParseError as e:
            raise RowError(f"judge {self.name!r} could not read the reply: {e}", raw_text=e.raw) from None
