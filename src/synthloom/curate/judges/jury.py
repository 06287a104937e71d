"""The ``judge_jury`` step: the same judgement asked of several models, then aggregated.

A panel of smaller, different judges agrees with humans better than one large judge and shares less
of any one model's bias (Verga et al. 2024, "Replacing Judges with Juries: Evaluating LLM Generations
with a Panel of Diverse Models", arXiv 2404.18796). Every option of ``judge`` applies (rubric, mode,
scale, roles...); ``models`` lists recipe model names, one juror each.

Aggregation (``aggregate``): ``mean``, ``median``, ``min``, ``max``, or ``majority`` (the most
frequent value; a tie between values goes to the lowest of them — the cautious choice). In mode
``aspects`` each aspect is aggregated separately and ``score`` is the mean of the aggregated aspects.

Output columns: those of ``judge`` plus ``jury_scores`` ({model: score or null}). A juror whose reply
cannot be read counts as missing; fewer than ``min_valid`` readable jurors (default: all of them)
makes the row an error row that keeps every juror's reply.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from collections.abc import Callable
from typing import Any

from ...llm.structured import StructuredOutputError
from ...pipeline.model_step import RowError
from ...pipeline.step import Rejected
from ...records import adopt_rows
from .parsing import JudgeParseError
from .pointwise import Judge

JURY = ("Verga et al. 2024, Replacing Judges with Juries: Evaluating LLM Generations with a Panel of Diverse Models "
        "(arXiv 2404.18796)")


def majority(values: list[float]) -> float:
    """The most frequent value; ties between values go to the lowest."""
    counts = Counter(values)
    top = max(counts.values())
    return min(v for v, c in counts.items() if c == top)


AGGREGATES: dict[str, Callable[[list[float]], float]] = {
    "mean": statistics.fmean, "median": statistics.median, "min": min, "max": max, "majority": majority,
}


class JudgeJury(Judge):
    """Asks every model in ``models`` for the same judgement and aggregates the scores
    (``mean``/``median``/``majority``/``min``/``max``); see the module docstring."""

    type_name = "judge_jury"
    dropped_options = ("model",)  # the jurors are `models`

    def __init__(self, name: str, *, models: list[str], aggregate: str = "mean", min_valid: int | None = None,
                 jury_column: str = "jury_scores", **judge_options: Any) -> None:
        where = f"judge_jury {name!r}"
        if not isinstance(models, (list, tuple)) or len(models) < 2 or not all(isinstance(m, str) for m in models):
            raise ValueError(f"{where}: models must list at least two model names from the recipe's `models:`; "
                             f"got {models!r}")
        if len(set(models)) != len(models):
            raise ValueError(f"{where}: models lists a model twice: {models}")
        if aggregate not in AGGREGATES:
            raise ValueError(f"{where}: aggregate must be one of {', '.join(AGGREGATES)}; got {aggregate!r}")
        if min_valid is not None and not (isinstance(min_valid, int) and 1 <= min_valid <= len(models)):
            raise ValueError(f"{where}: min_valid must be between 1 and {len(models)}; got {min_valid!r}")
        if "model" in judge_options:
            raise ValueError(f"{where}: a jury takes `models:` (a list), not `model:`")
        self.jury_column = jury_column
        super().__init__(name, model=models[0], **judge_options)
        self.jurors = list(models)
        self.models = list(models)
        self.aggregate = aggregate
        self.min_valid = len(models) if min_valid is None else min_valid
        self.citations.append(JURY)

    def judge_columns(self) -> list[str]:
        return [*super().judge_columns(), self.jury_column]

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        made = self.prompt(record)
        constrained = self.constrained_schema()
        answers = await asyncio.gather(
            *(self.call_constrained(record, made, model=juror, raw=self.raw, json_schema=constrained,
                                    lineage={"juror": juror}) if constrained is not None else
              self.call(record, made, model=juror, raw=self.raw, json_schema=self.json_schema,
                        structured_attempts=self.structured_attempts, lineage={"juror": juror})
              for juror in self.jurors), return_exceptions=True)
        verdicts: dict[str, dict[str, Any] | None] = {}
        problems: list[str] = []
        for name, answer in zip(self.jurors, answers):
            if isinstance(answer, BaseException):
                if not isinstance(answer, StructuredOutputError):
                    raise answer  # model failures stay model failures (retried on resume)
                verdicts[name] = None
                problems.append(f"{name}: {answer}")
                continue
            try:
                verdicts[name] = self.judgement(answer[0])
            except JudgeParseError as e:
                verdicts[name] = None
                problems.append(f"{name}: {e}")
        valid = {n: v for n, v in verdicts.items() if v is not None}
        if len(valid) < self.min_valid:
            raws = "\n---\n".join(f"[{n}] {getattr(a, 'raw_text', a) if isinstance(a, BaseException) else a[0].text}"
                                  for n, a in zip(self.jurors, answers))
            raise RowError(f"judge_jury {self.name!r}: {len(valid)} of {len(self.jurors)} jurors gave a readable "
                           f"judgement (need {self.min_valid}): " + "; ".join(problems), raw_text=raws)
        out = {**record, **self._combine(valid)}
        out[self.jury_column] = {n: (v[self.score_column] if v else None) for n, v in verdicts.items()}
        return adopt_rows(record, out, self.name, [a[1] for a in answers if not isinstance(a, BaseException)])

    def _combine(self, valid: dict[str, dict[str, Any]]) -> dict[str, Any]:
        agg = AGGREGATES[self.aggregate]
        out: dict[str, Any] = {self.reason_column: "\n\n".join(f"[{n}] {v[self.reason_column]}" for n, v in valid.items())}
        if self.mode == "aspects":
            per = {a: float(agg([v[self.aspects_column][a] for v in valid.values()])) for a in self.aspects}
            out[self.aspects_column] = per
            out[self.score_column] = statistics.fmean(per.values())
            return out
        scores = [v[self.score_column] for v in valid.values() if v[self.score_column] is not None]
        out[self.score_column] = float(agg(scores)) if scores else None
        if self.expected:
            texts = [v[f"{self.score_column}_text"] for v in valid.values() if v[f"{self.score_column}_text"] is not None]
            out[f"{self.score_column}_text"] = float(agg(texts)) if texts else None
            out[f"{self.score_column}_probs"] = None
        return out
