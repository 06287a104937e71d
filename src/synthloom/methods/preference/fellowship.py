"""The Fellowship of the LLMs: a panel of evaluators scores a completion pool as a judge, a jury or a debate.

Arif, S., Farid, S., Azeemi, A. H., Athar, A., Raza, A. A. (2024). *The Fellowship of the LLMs:
Multi-Agent Workflows for Synthetic Preference Optimization Dataset Generation*. arXiv:2408.08688.

The paper splits preference-data generation into *response generation* (several LLMs answer each
prompt) and *response evaluation*, and compares three evaluator workflows:

* **LLM-as-a-Judge** — one evaluator scores the candidate responses;
* **LLMs-as-a-Jury** — several evaluators score them independently and the scores are aggregated;
* **LLM Debate** — the evaluators see each other's scores and reasons and revise theirs over rounds.

Generation is the ``completions`` pool (several ``models``; with one model, several personas as
``system_prompts`` and several temperatures as ``sampling_settings``). The ``fellowship_evaluate``
step then scores the pool: each evaluator *seat* (a model from ``evaluators``, with a persona from
``evaluator_personas`` when given, so one model can fill a panel) reads the prompt and every
response (in an order shuffled per seat against position bias) and answers a JSON-schema
constrained ``{"reasoning", "score_1", ..., "score_k"}`` with scores 1–10. The configurations are
computed from the same calls, so they can be compared side by side on one run:

* ``judge`` — the first seat's independent scores;
* ``jury`` — every seat's independent scores, aggregated per response (``aggregate``: ``mean``,
  ``median``, ``majority``, ``min``, ``max``, as in ``judge_jury``);
* ``debate`` — ``debate_rounds`` more rounds where each seat is shown the other seats' previous
  scores and reasons and scores again; the last round is aggregated.

Each completion gets ``config_scores`` ({config: score}), ``evaluator_scores`` ({seat: [score per
round]}) and ``score`` (the configuration named by ``config``), which ``pairs`` turns into
chosen/rejected rows. The row gets ``evaluations`` (every seat's reasoning and scores per round),
``config_pairs`` ({config: {chosen, rejected, margin} or null when the configuration's scores tie})
and ``evaluated_id``; ``fellowship_agreement`` (:mod:`.fellowship_report`) writes, after the run,
how often the configurations pick the same pair.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from ...curate.judges.jury import AGGREGATES
from ...llm.structured import StructuredOutputError
from ...pipeline.model_step import ModelStep, RowError, chat
from ...pipeline.step import Rejected
from ...records import ID, adopt_rows
from .completion_pool import CompletionPool
from .prompt_columns import PromptColumns

CITATION = ("Arif et al. 2024, The Fellowship of the LLMs: Multi-Agent Workflows for Synthetic Preference Optimization "
            "Dataset Generation, arXiv:2408.08688")
CONFIGS = ("judge", "jury", "debate")
SCORES = list(range(1, 11))


def score_schema(count: int, max_reason_chars: int) -> dict[str, Any]:
    """The evaluator's answer: a short reasoning, then ``score_1`` .. ``score_<count>`` on 1–10."""
    props: dict[str, Any] = {"reasoning": {"type": "string", "maxLength": max_reason_chars}}
    props.update({f"score_{i}": {"type": "integer", "enum": SCORES} for i in range(1, count + 1)})
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def aggregate_scores(per_seat: list[list[float | None]], how: str) -> list[float | None]:
    """Per response, ``how`` (a ``judge_jury`` aggregate) over the seats that scored it; ``None``
    where no seat did."""
    agg = AGGREGATES[how]
    out: list[float | None] = []
    for i in range(len(per_seat[0]) if per_seat else 0):
        values = [s[i] for s in per_seat if s[i] is not None]
        out.append(float(agg(values)) if values else None)
    return out


def pick_pair(scores: list[float | None], usable: list[bool] | None = None) -> dict[str, Any] | None:
    """``{"chosen", "rejected", "margin"}``: the best and the worst scored response (the first in
    pool order among equals), or ``None`` when fewer than two are scored or all scores tie.
    ``usable`` leaves out responses that cannot pair (duplicates)."""
    items = [(s, i) for i, s in enumerate(scores) if s is not None and (usable is None or usable[i])]
    if len(items) < 2:
        return None
    hi = max(items, key=lambda t: (t[0], -t[1]))
    lo = min(items, key=lambda t: (t[0], t[1]))
    if hi[0] == lo[0]:
        return None
    return {"chosen": hi[1], "rejected": lo[1], "margin": hi[0] - lo[0]}


class FellowshipGenerate(CompletionPool):
    """The generators: the ``completions`` pool (several ``models``, ``sampling_settings``), where a
    list of ``system_prompts`` gives the generators their personas in turn — completion ``i`` gets
    persona ``i mod len`` — so one model makes a panel of distinct generators."""

    type_name = "fellowship_generate"

    def __init__(self, name: str, **options: Any) -> None:
        super().__init__(name, **options)
        self.citations.append(CITATION)

    def choose_system(self, record: dict[str, Any], slot: int) -> tuple[str | None, str | None]:
        if isinstance(self.system_prompts, list):
            return None, self.system_prompts[slot % len(self.system_prompts)]
        return super().choose_system(record, slot)


class FellowshipEvaluate(ModelStep):
    """Scores every completion of ``completions`` by a panel of evaluator seats as the paper's
    judge, jury and debate configurations; ``score`` follows ``config`` (see the module docstring)."""

    type_name = "fellowship_evaluate"
    dropped_options = ("model", "n")  # the seats are `evaluators`; one answer per seat and round
    default_sampling = {"temperature": 0.0, "max_tokens": 384}

    def __init__(self, name: str, *, evaluators: list[str] | None = None, evaluator_personas: list[str] | None = None,
                 config: str = "jury", configs: list[str] | None = None, aggregate: str = "mean",
                 debate_rounds: int = 1, shuffle: bool = True, max_reason_chars: int = 400,
                 completions: str = "completions", prompt: str = "prompt", prompt_messages: str | None = None,
                 inputs: list[str] | None = None, **sampling: Any) -> None:
        where = f"fellowship_evaluate {name!r}"
        evaluators = ["default"] if evaluators is None else evaluators
        if not isinstance(evaluators, list) or not evaluators or not all(isinstance(m, str) and m for m in evaluators):
            raise ValueError(f"{where}: evaluators must list model names from the recipe's `models:`; got {evaluators!r}")
        if evaluator_personas is not None and (not isinstance(evaluator_personas, list) or not evaluator_personas or not all(
                isinstance(p, str) and p.strip() for p in evaluator_personas)):
            raise ValueError(f"{where}: evaluator_personas must be a non-empty list of texts (one system prompt per "
                             f"seat); got {evaluator_personas!r}")
        configs = list(CONFIGS) if configs is None else configs
        if not isinstance(configs, list) or not configs or any(c not in CONFIGS for c in configs) \
                or len(set(configs)) != len(configs):
            raise ValueError(f"{where}: configs must list distinct configurations among {', '.join(CONFIGS)}; "
                             f"got {configs!r}")
        if config not in configs:
            raise ValueError(f"{where}: config {config!r} (the one `score` follows) must be one of configs {configs}")
        if aggregate not in AGGREGATES:
            raise ValueError(f"{where}: aggregate must be one of {', '.join(AGGREGATES)}; got {aggregate!r}")
        if isinstance(debate_rounds, bool) or not isinstance(debate_rounds, int) or debate_rounds < 1:
            raise ValueError(f"{where}: debate_rounds (rounds after the independent one) must be a whole number >= 1, "
                             f"not {debate_rounds!r}")
        if isinstance(max_reason_chars, bool) or not isinstance(max_reason_chars, int) or max_reason_chars < 16:
            raise ValueError(f"{where}: max_reason_chars must be a whole number >= 16, not {max_reason_chars!r}")
        self.seats = self._seats(evaluators, evaluator_personas)
        if len(self.seats) < 2 and ("jury" in configs or "debate" in configs):
            raise ValueError(f"{where}: the jury and debate configurations need at least 2 evaluator seats; list two "
                             "models in `evaluators` or give `evaluator_personas` (one seat each), or set configs: [judge]")
        if "model" in sampling:
            raise ValueError(f"{where}: the evaluators are `evaluators:` (a list), not `model:`")
        self.columns = PromptColumns(prompt, prompt_messages)
        super().__init__(name, model=evaluators[0], inputs=inputs or (), citations=[CITATION],
                         writes=[completions, "evaluations", "config_pairs", "evaluated_id"], **sampling)
        self.reads |= self.columns.reads() | {completions}
        self.models = list(dict.fromkeys(evaluators))
        self.score_config, self.configs, self.aggregate = config, list(configs), aggregate
        self.debate_rounds, self.shuffle, self.max_reason_chars = debate_rounds, shuffle, max_reason_chars
        self.completions = completions
        self.evaluate_template = self.load_template("fellowship_evaluate.jinja")
        self.debate_template = self.load_template("fellowship_debate.jinja")

    @staticmethod
    def _seats(evaluators: list[str], personas: list[str] | None) -> list[dict[str, Any]]:
        """One seat per evaluator model, or per persona when there are more personas (models cycle)."""
        count = max(len(evaluators), len(personas or []))
        seats = []
        for i in range(count):
            model = evaluators[i % len(evaluators)]
            persona = personas[i % len(personas)] if personas else None
            label = model if count == len(set(evaluators)) and not personas else f"{model}#{i + 1}"
            seats.append({"label": label, "model": model, "persona": persona})
        return seats

    # -- prompts -------------------------------------------------------------------------------------
    def order(self, record: dict[str, Any], seat: int, count: int) -> list[int]:
        """The pool positions in the order seat ``seat`` is shown them (shuffled per row and seat)."""
        order = list(range(count))
        if self.shuffle:
            random.Random(self.seed_for(record, f"\x1forder:{seat}")).shuffle(order)
        return order

    def first_turn(self, record: dict[str, Any], seat: int, texts: list[str], order: list[int]) -> list[dict[str, str]]:
        view = {"instruction": self.columns.text(record), "responses": [texts[i] for i in order]}
        return chat(self.render(self.evaluate_template, view).strip() + "\n", system=self.seats[seat]["persona"])

    def debate_turn(self, seat: int, order: list[int], previous: list[dict[str, Any]]) -> str:
        """The user turn of a debate round: the other seats' last scores (in this seat's numbering)."""
        position = {pool: shown for shown, pool in enumerate(order)}
        others = []
        for j, ev in enumerate(previous):
            if j == seat or ev["scores"] is None:
                continue
            shown = [None] * len(order)
            for pool_index, score in enumerate(ev["scores"]):
                shown[position[pool_index]] = score
            others.append({"label": f"Evaluator {len(others) + 1}", "reasoning": ev["reasoning"], "scores": shown})
        return self.render(self.debate_template, {"others": others}).strip() + "\n"

    # -- calls ---------------------------------------------------------------------------------------
    async def ask(self, record: dict[str, Any], seat: int, messages: list[dict[str, str]], order: list[int],
                  rnd: int) -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
        """One seat's scores in round ``rnd``: ``(evaluation, reply text, lineage entries)``; an
        unreadable reply gives scores ``None`` and the reason."""
        info = self.seats[seat]
        schema = score_schema(len(order), self.max_reason_chars)
        extra = {"evaluator": info["label"], "round": rnd}
        evaluation = {"evaluator": info["label"], "model": info["model"], "round": rnd}
        try:
            response, entry = await self.call(record, messages, model=info["model"], json_schema=schema,
                                              salt=f"\x1fseat:{seat}:{rnd}", lineage=extra)
        except StructuredOutputError as e:
            return {**evaluation, "scores": None, "reasoning": "", "problem": str(e.validation_error)}, e.raw_text, []
        parsed = response.parsed if isinstance(response.parsed, dict) else {}
        scores: list[float | None] = [None] * len(order)
        for shown, pool_index in enumerate(order):
            value = parsed.get(f"score_{shown + 1}")
            scores[pool_index] = float(value) if isinstance(value, int) and not isinstance(value, bool) else None
        return ({**evaluation, "scores": scores, "reasoning": str(parsed.get("reasoning") or "").strip(), "problem": None},
                response.text or "", [entry])

    async def rounds(self, record: dict[str, Any], texts: list[str]) -> tuple[list[list[dict[str, Any]]], list[Any]]:
        """Every round's evaluations (round 0: independent; then the debate rounds) and the lineage."""
        seats = range(len(self.seats)) if ("jury" in self.configs or "debate" in self.configs) else range(1)
        orders = {s: self.order(record, s, len(texts)) for s in seats}
        convos = {s: self.first_turn(record, s, texts, orders[s]) for s in seats}
        lineage: list[dict[str, Any]] = []
        raws: list[str] = []
        done: list[list[dict[str, Any]]] = []
        total = 1 + (self.debate_rounds if "debate" in self.configs else 0)
        for rnd in range(total):
            if rnd:
                for s in seats:
                    convos[s] = [*convos[s], {"role": "user", "content": self.debate_turn(s, orders[s], done[-1])}]
            answers = await asyncio.gather(*(self.ask(record, s, convos[s], orders[s], rnd) for s in seats))
            evaluations = []
            for s, (ev, text, entries) in zip(seats, answers):
                lineage += entries
                raws.append(f"[{ev['evaluator']} round {rnd}] {text}")
                convos[s] = [*convos[s], {"role": "assistant", "content": text}]
                evaluations.append(ev)
            if all(ev["scores"] is None for ev in evaluations):
                raise RowError(f"fellowship_evaluate {self.name!r}: no evaluator gave readable scores in round {rnd}: "
                               + "; ".join(f"{ev['evaluator']}: {ev['problem']}" for ev in evaluations),
                               raw_text="\n---\n".join(raws))
            done.append(evaluations)
        return done, lineage

    def config_scores(self, done: list[list[dict[str, Any]]], count: int) -> dict[str, list[float | None]]:
        """Per configuration, the score of each response."""
        def valid(evaluations: list[dict[str, Any]]) -> list[list[float | None]]:
            return [ev["scores"] for ev in evaluations if ev["scores"] is not None]

        out: dict[str, list[float | None]] = {}
        if "judge" in self.configs:
            first = done[0][0]["scores"]
            out["judge"] = list(first) if first is not None else [None] * count
        if "jury" in self.configs:
            out["jury"] = aggregate_scores(valid(done[0]), self.aggregate)
        if "debate" in self.configs:
            out["debate"] = aggregate_scores(valid(done[-1]), self.aggregate)
        return out

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        if not self.columns.text(record).strip():
            return Rejected(f"no prompt in column {self.columns.prompt_messages or self.columns.prompt!r}")
        pool = record.get(self.completions)
        if not isinstance(pool, list) or len(pool) < 2:
            return Rejected(f"column {self.completions!r} needs at least 2 completions to compare, got "
                            f"{len(pool) if isinstance(pool, list) else type(pool).__name__}")
        if not all(isinstance(c, dict) and isinstance(c.get("text"), str) for c in pool):
            raise RowError(f"fellowship_evaluate {self.name!r}: column {self.completions!r} must hold dicts with a "
                           "`text`; make the pool with the `completions` step")
        texts = [c["text"] for c in pool]
        done, lineage = await self.rounds(record, texts)
        by_config = self.config_scores(done, len(texts))
        scored_pool = []
        for i, c in enumerate(pool):
            per_seat = {}
            for evaluations in done:
                for ev in evaluations:
                    per_seat.setdefault(ev["evaluator"], []).append(None if ev["scores"] is None else ev["scores"][i])
            scores = {k: v[i] for k, v in by_config.items()}
            scored_pool.append({**c, "score": scores[self.score_config], "config_scores": scores, "evaluator_scores": per_seat})
        usable = [c.get("duplicate_of") is None and c.get("finish_reason") != "length" for c in pool]  # as `pairs` does
        config_pairs = {k: pick_pair(v, usable) for k, v in by_config.items()}
        evaluations = [ev for evaluations in done for ev in evaluations]
        out = {**record, self.completions: scored_pool, "evaluations": evaluations, "config_pairs": config_pairs,
               "evaluated_id": record.get(ID)}
        return adopt_rows(record, out, self.name, lineage)
