"""Self-Rewarding Language Models: the model judges its own samples and pairs its best with its worst.

Yuan, W., Pang, R. Y., Cho, K., Li, X., Sukhbaatar, S., Xu, J., Weston, J. (2024). *Self-Rewarding
Language Models*. arXiv:2401.10020.

One iteration (AI Feedback Training): for each prompt the current model M_t samples N = 4
responses (T = 0.7, top_p = 0.9); the *same* model scores each with the paper's LLM-as-a-Judge
prompt (Figure 2, ``self_rewarding_judge.jinja``: an additive 5-point rubric, a justification of up
to 100 words, then "Score: <total points>"), sampled 3 times and averaged; the highest- and
lowest-scored responses form a preference pair, and a prompt whose responses all score the same is
discarded. DPO on those pairs gives M_{t+1}, which makes the next iteration's pairs.

Training happens outside a data pipeline, so iteration maps onto it as *rounds*: round ``r`` uses
``round_models[r]`` (names under the recipe's ``models:``; by default every round uses the step's
model) to sample and to judge, and each row is tagged ``round`` (``first_round`` + r). With
checkpoints M1, M2, M3 served side by side, one run makes every round's data; with one checkpoint
at a time, run the recipe per iteration with ``first_round`` set to the iteration.

Steps: ``self_rewarding`` (sample, self-judge, pair; ``emit: completions`` keeps the scored pool
instead, for the ``pairs`` step) and ``self_rewarding_judge`` (the judge alone, scoring an existing
``completions`` pool: each completion gets ``judge_score``, ``judge_scores``,
``judge_justification`` and ``score``).
"""

from __future__ import annotations

import asyncio
import re
import statistics
from typing import Any

from ...llm.structured import StructuredOutputError
from ...pipeline.model_step import ModelStep, RowError, chat
from ...pipeline.step import Rejected
from ...records import ID, add_lineage, adopt_rows
from .pair_row import pair_columns, pair_row
from .pairs import best_vs_worst, scored
from .prompt_columns import PromptColumns

CITATION = "Yuan et al. 2024, Self-Rewarding Language Models, arXiv:2401.10020"
LO, HI = 0, 5  # additive points: 0 when no criterion is met
EMIT = ("pairs", "completions")
_SCORE = re.compile(r"score\s*[:=]\s*\**\s*(\d+(?:\.\d+)?)", re.IGNORECASE)


def parse_additive_score(text: str) -> tuple[float | None, str, str | None]:
    """``(score, justification, problem)`` from a judge reply ending in "Score: <total points>":
    the last such score; ``None`` with the reason when there is none or it is off the 0–5 scale."""
    found = list(_SCORE.finditer(text or ""))
    if not found:
        return None, (text or "").strip(), "no 'Score: <points>' in the judgement"
    last = found[-1]
    value = float(last.group(1))
    justification = (text[:last.start()] + text[last.end():]).strip()
    if not LO <= value <= HI:
        return None, justification, f"score {value:g} is outside {LO}-{HI}"
    return value, justification, None


def self_rewarding_pair(pool: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]] | str:
    """The highest- and lowest-scored completions of a judged pool (the first of equals; the ``pairs``
    step's ``best_vs_worst`` over ``judge_score``), or why there is none: fewer than two distinct
    texts with a readable score, or every score tied (the paper drops such prompts)."""
    items = scored(pool, "judge_score")
    if len(items) < 2:
        return f"{len(items)} of {len(pool)} samples have a distinct text and a readable judge score (a pair needs 2)"
    picked = best_vs_worst(items)
    if not picked:
        return f"all {len(items)} scored samples tie at {items[0].score:g} (ties are dropped)"
    hi, lo = picked[0]
    return pool[hi.index], pool[lo.index]


class AdditiveJudge:
    """The paper's LLM-as-a-Judge, asked ``judgements`` times per response and averaged; mixed into
    the two steps below (which set ``judge_sampling``, ``judgements``, ``structured``, ``max_justification_chars``)."""

    judgements: int
    structured: bool
    max_justification_chars: int
    judge_sampling: dict[str, Any]

    def _judge_setup(self: Any, judgements: int, structured: bool, max_justification_chars: int) -> None:
        if int(judgements) < 1:
            raise ValueError(f"judgements must be >= 1 (the paper averages 3), not {judgements}")
        if int(max_justification_chars) < 16:
            raise ValueError(f"max_justification_chars must be at least 16, not {max_justification_chars}")
        self.judgements, self.structured = int(judgements), structured
        self.max_justification_chars = int(max_justification_chars)
        self.judge_template = self.load_template("self_rewarding_judge.jinja")

    def judge_schema(self) -> dict[str, Any]:
        return {"type": "object", "required": ["justification", "score"], "properties": {
            "justification": {"type": "string", "maxLength": self.max_justification_chars},
            "score": {"enum": list(range(LO, HI + 1))}}}

    async def _judge_once(self: Any, record: dict[str, Any], messages: list[dict[str, str]], salt: str,
                          model: str | None, extra: dict[str, Any]) -> tuple[float | None, str, str | None, list]:
        if self.structured:
            try:
                response, lineage = await self.call(record, messages, salt=salt, model=model, json_schema=self.judge_schema(),
                                                    lineage=extra, **self.judge_sampling)
            except StructuredOutputError as e:
                return None, "", f"the judgement could not be read: {e.validation_error}", []
            return float(response.parsed["score"]), str(response.parsed["justification"]).strip(), None, [lineage]
        response, lineage = await self.call(record, messages, salt=salt, model=model, lineage=extra, **self.judge_sampling)
        score, justification, problem = parse_additive_score(response.text or "")
        return score, justification, problem, [lineage]

    async def judge(self: Any, record: dict[str, Any], instruction: str, response: str, *, salt: str,
                    model: str | None = None, extra: dict[str, Any] | None = None) -> tuple[dict[str, Any], list]:
        """``{"judge_score", "judge_scores", "judge_justification", "judge_problem"}`` for one response
        (the mean of the readable judgements) and the lineage entries of its calls."""
        if not response.strip():
            return {"judge_score": None, "judge_scores": [], "judge_justification": "",
                    "judge_problem": "empty response: not judged"}, []
        messages = chat(self.render(self.judge_template, {"instruction": instruction, "response": response,
                                                          "structured": self.structured}).strip())
        runs = await asyncio.gather(*(self._judge_once(record, messages, f"{salt}:judge{j}", model,
                                                       {**(extra or {}), "role": "judge", "judgement": j})
                                      for j in range(self.judgements)))
        scores = [s for s, _, _, _ in runs]
        readable = [s for s in scores if s is not None]
        problems = sorted({p for _, _, p, _ in runs if p})
        return {"judge_score": statistics.fmean(readable) if readable else None, "judge_scores": scores,
                "judge_justification": next((j for s, j, _, _ in runs if s is not None), ""),
                "judge_problem": "; ".join(problems) or None}, [e for *_, lin in runs for e in lin]


class SelfRewardingJudge(AdditiveJudge, ModelStep):
    """Scores every completion of column ``completions`` with the Self-Rewarding LLM-as-a-Judge prompt
    (additive 0–5, ``judgements`` sampled judgements averaged); writes ``judge_score`` (= ``score``),
    ``judge_scores``, ``judge_justification`` and ``judge_problem`` into each completion."""

    type_name = "self_rewarding_judge"
    default_sampling = {"temperature": 0.7, "top_p": 0.9, "max_tokens": 512}
    dropped_options = ("n",)

    def __init__(self, name: str, *, prompt: str = "prompt", prompt_messages: str | None = None,
                 completions: str = "completions", judgements: int = 3, structured: bool = True,
                 max_justification_chars: int = 600, **kwargs: Any) -> None:
        kwargs.setdefault("citations", [CITATION])
        self.columns = PromptColumns(prompt, prompt_messages)
        super().__init__(name, reads=[*self.columns.reads(), completions], writes=[completions], **kwargs)
        self.completions = completions
        self._judge_setup(judgements, structured, max_justification_chars)
        self.judge_sampling = {"n": 1}

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        self.columns.messages(record)  # a row without a usable prompt is an error row before any call
        instruction = self.columns.text(record)
        pool = record.get(self.completions)
        if not isinstance(pool, list) or not pool:
            return Rejected(f"no completions to judge in column {self.completions!r}")
        if any(not isinstance(c, dict) or not isinstance(c.get("text"), str) for c in pool):
            raise RowError(f"column {self.completions!r} must hold completion dicts with a `text`")
        results = await asyncio.gather(*(self.judge(record, instruction, c["text"], salt=f"\x1fc{i}",
                                                    extra={"completion": i}) for i, c in enumerate(pool)))
        out = [{**c, **verdict, "score": verdict["judge_score"]} for c, (verdict, _) in zip(pool, results)]
        return adopt_rows(record, {**record, self.completions: out}, self.name,
                          [e for _, lin in results for e in lin])


class SelfRewarding(AdditiveJudge, ModelStep):
    """Per round: ``samples`` responses from the round's model, each judged by that same model
    (``judgements`` averaged), then a pair of the highest- and lowest-scored (ties dropped). Emits
    pair rows tagged ``round`` (``emit: pairs``) or the scored pool (``emit: completions``)."""

    type_name = "self_rewarding"
    default_sampling = {"temperature": 0.7, "top_p": 0.9, "max_tokens": 1024}
    dropped_options = ("n",)

    def __init__(self, name: str, *, prompt: str = "prompt", prompt_messages: str | None = None,
                 system_column: str | None = None, samples: int = 4, judgements: int = 3,
                 rounds: int = 1, round_models: list[str] | None = None, first_round: int = 1, emit: str = "pairs",
                 structured: bool = True, max_justification_chars: int = 600, judge_temperature: float = 0.7,
                 judge_top_p: float = 0.9, judge_max_tokens: int = 512, **kwargs: Any) -> None:
        if int(samples) < 2:
            raise ValueError(f"samples must be >= 2 (a pair needs two responses; the paper samples 4), not {samples}")
        if int(rounds) < 1:
            raise ValueError(f"rounds must be >= 1, not {rounds}")
        if round_models is not None and len(round_models) != int(rounds):
            raise ValueError(f"round_models names {len(round_models)} model(s) but rounds is {rounds}; give one model "
                             "name (under the recipe's models:) per round")
        if emit not in EMIT:
            raise ValueError(f"emit must be 'pairs' (chosen/rejected rows) or 'completions' (the scored pool), not {emit!r}")
        kwargs.setdefault("citations", [CITATION])
        self.columns = PromptColumns(prompt, prompt_messages, system_column)
        writes = pair_columns(self.columns, "round", "n_scored", "chosen_index", "rejected_index") \
            if emit == "pairs" else ["completions", "round"]
        super().__init__(name, reads=self.columns.reads(), writes=writes, **kwargs)
        self._judge_setup(judgements, structured, max_justification_chars)
        self.samples, self.rounds, self.first_round = int(samples), int(rounds), int(first_round)
        self.round_models = list(round_models) if round_models else [self.model_name] * self.rounds
        self.models = list(dict.fromkeys([self.model_name, *self.round_models]))
        self.emit = emit
        self.judge_sampling = {"n": 1, "temperature": judge_temperature, "top_p": judge_top_p,
                               "max_tokens": judge_max_tokens}

    async def one_round(self, record: dict[str, Any], instruction: str, r: int) -> tuple[list[dict[str, Any]], list]:
        """Round ``r``'s scored pool and the lineage of its calls."""
        tag, model = self.first_round + r, self.round_models[r]
        response, lineage = await self.call(record, self.columns.messages(record), n=self.samples, salt=f"\x1fround:{tag}",
                                            model=model, lineage={"round": tag, "role": "generate"})
        pool = [{"text": (c.text or "").strip(), "model": model, "index": j, "finish_reason": c.finish_reason,
                 "round": tag} for j, c in enumerate(response.choices[: self.samples])]
        verdicts = await asyncio.gather(*(self.judge(record, instruction, c["text"], salt=f"\x1fround:{tag}:c{j}",
                                                     model=model, extra={"round": tag, "completion": j})
                                          for j, c in enumerate(pool)))
        entries = [lineage] + [e for _, lin in verdicts for e in lin]
        return [{**c, **v, "score": v["judge_score"]} for c, (v, _) in zip(pool, verdicts)], entries

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        self.columns.messages(record)  # a row without a usable prompt is an error row before any call
        instruction = self.columns.text(record)
        rows: list[dict[str, Any]] = []
        lineages: list[list[dict[str, Any]]] = []
        reasons: list[str] = []
        for r in range(self.rounds):  # in order: round r+1's model is meant to follow round r's
            pool, entries = await self.one_round(record, instruction, r)
            tag = self.first_round + r
            if self.emit == "completions":
                rows.append({**record, "completions": pool, "round": tag})
                lineages.append(entries)
                continue
            picked = self_rewarding_pair(pool)
            if isinstance(picked, str):
                reasons.append(f"round {tag}: {picked}")
                continue
            best, worst = picked
            rows.append(pair_row(record, self.columns, chosen=best["text"], rejected=worst["text"],
                                 pair_rule="best_vs_worst", chosen_score=best["judge_score"],
                                 rejected_score=worst["judge_score"], chosen_model=best["model"],
                                 rejected_model=worst["model"], round=tag,
                                 n_scored=sum(c["judge_score"] is not None for c in pool),
                                 chosen_index=best["index"], rejected_index=worst["index"]))
            lineages.append(entries)
        if not rows:
            return Rejected("no preference pair: " + "; ".join(reasons))
        out = adopt_rows(record, rows, self.name, [])
        for row, entries in zip(out, lineages):  # each row traces to its own round's calls
            for entry in entries:
                add_lineage(row, {**entry, "parent": record.get(ID)})
        return out
