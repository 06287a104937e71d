"""Arena Learning: pairwise battles between models, judged in both orders (a simulated offline arena).

Luo, H., Sun, Q., Xu, C., Zhao, P., et al. (2024). *Arena Learning: Build Data Flywheel for LLMs
Post-training via Simulated Chatbot Arena*. arXiv:2407.10627 (WizardLM team; NeurIPS 2024 as
"WizardArena").

Each model in ``models`` (names under the recipe's ``models:``, any backend mix) answers every
prompt; every pair of models (``pairing: all``, the paper's best mode) or the ``target`` against
each other model (``pairing: target``) then battles: a judge model (the paper: Llama-3-70B-Chat)
reads the conversation and both answers and gives each an overall score from 1 to 10 with an
explanation (coherence, factual accuracy, context-awareness, overall quality); the paper's judge
prompt is not published, ``arena_judge.jinja`` follows that description and the reply is
constrained to ``{"score_1", "score_2", "explanation"}`` (a grammar on the embedded model). Against
position bias the judge plays a two-game setup with the answers swapped; a game goes to the higher
score, and the battle counts only when both games agree — otherwise it is a tie (``swap: false``
plays one game).

One row per battle (an expand step): ``model_a``, ``model_b``, ``response_a``, ``response_b``,
``games`` (per game: ``order``, ``score_a``, ``score_b``, ``winner``, ``explanation``),
``score_a``/``score_b`` (means over the games), ``winner`` (``a``, ``b`` or ``tie``),
``winner_model``, plus ``prompt``/``system``. ``arena_data`` turns battles into the paper's two
data products (SFT rows where the target lost, DPO pairs), ``arena_ratings`` into Elo and
Bradley–Terry ratings with bootstrap intervals (:mod:`synthloom.curate.ratings`).

Answers come from the models with per-model ``systems`` (system prompts) and ``model_sampling``
(sampling options over the step's), or, with ``completions``, from a completion pool column (the
first usable completion of each model). Departures: the paper battles on a 276K-prompt pool over
three training iterations (SFT → DPO → PPO, retraining between them); training is outside synthloom.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ...llm.types import sampling_problem
from ...pipeline.config import SAMPLING_KEYS
from ...pipeline.model_step import ModelStep, RowError
from ...pipeline.step import Rejected
from ...records import ID, add_lineage, adopt_rows
from .prompt_columns import PromptColumns

CITATION = ("Luo et al. 2024, Arena Learning: Build Data Flywheel for LLMs Post-training via Simulated Chatbot Arena, "
            "arXiv:2407.10627")
SCORES = list(range(1, 11))
JUDGE_SCHEMA = {"type": "object",
                "properties": {"score_1": {"type": "integer", "enum": SCORES}, "score_2": {"type": "integer", "enum": SCORES},
                               "explanation": {"type": "string"}},
                "required": ["score_1", "score_2", "explanation"]}
BATTLE_COLUMNS = ("prompt", "system", "model_a", "model_b", "response_a", "response_b", "games", "score_a", "score_b",
                  "winner", "winner_model")
PAIRINGS = ("all", "target")


def game_winner(score_a: float, score_b: float) -> str:
    """``a``, ``b`` or ``tie``: the higher score wins a game."""
    return "a" if score_a > score_b else "b" if score_b > score_a else "tie"


def battle_winner(game_winners: list[str]) -> str:
    """The battle's result: the games' common winner when every game agrees, otherwise ``tie``
    (position swap: a verdict that flips with the order does not count)."""
    return game_winners[0] if game_winners and len(set(game_winners)) == 1 else "tie"


def _names(value: Any, what: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(m, str) and m for m in value):
        raise ValueError(f"{where}: {what} must list model names from the recipe's `models:`; got {value!r}")
    if len(set(value)) != len(value):
        raise ValueError(f"{where}: {what} lists a model twice: {value}")
    return list(value)


def _per_model_sampling(value: Any, models: list[str], where: str) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ValueError(f"{where}: model_sampling must map model names to sampling options, e.g. "
                         f"{{target: {{temperature: 0.7}}}}; got {value!r}")
    for model, options in value.items():
        if models and model not in models:
            raise ValueError(f"{where}: model_sampling names {model!r}, which is not in models ({', '.join(models)})")
        unknown = sorted(set(options) - set(SAMPLING_KEYS) | ({"n"} & set(options)))
        if unknown:
            raise ValueError(f"{where}: model_sampling.{model} has option(s) {unknown} that are not per-answer "
                             f"sampling options; use {', '.join(k for k in SAMPLING_KEYS if k != 'n')}")
        for key, v in options.items():
            problem = sampling_problem(key, v)
            if problem:
                raise ValueError(f"{where}: model_sampling.{model}: {problem}")
    return {m: dict(o) for m, o in value.items()}


class ArenaBattles(ModelStep):
    """Every model answers each prompt; pairs of models battle before a judge in both orders (a
    battle counts when both games agree, otherwise it is a tie); one row per battle. See the
    module docstring."""

    type_name = "arena_battles"
    dropped_options = ("model",)  # the answering models are `models`, the judge is `judge`
    default_sampling = {"temperature": 0.7, "max_tokens": 512}

    def __init__(self, name: str, *, models: list[str] | None = None, judge: str = "default", pairing: str = "all",
                 target: str | None = None, prompt: str = "prompt", prompt_messages: str | None = None,
                 system_column: str | None = None, systems: dict[str, str] | None = None,
                 model_sampling: dict[str, dict[str, Any]] | None = None, completions: str | None = None,
                 swap: bool = True, judge_max_tokens: int = 256, inputs: list[str] | None = None,
                 **sampling: Any) -> None:
        where = f"arena_battles {name!r}"
        if "model" in sampling:
            raise ValueError(f"{where}: name the answering models in `models:` and the judge in `judge:`, not `model:`")
        if completions is None:
            if models is None:
                raise ValueError(f"{where}: give `models:` (at least two recipe model names) or `completions:` (a pool column)")
            models = _names(models, "models", where)
            if len(models) < 2:
                raise ValueError(f"{where}: models must list at least two models to battle; got {models}")
        else:
            models = [] if models is None else _names(models, "models", where)
        if not isinstance(judge, str) or not judge:
            raise ValueError(f"{where}: judge must be a model name from the recipe's `models:`; got {judge!r}")
        if pairing not in PAIRINGS:
            raise ValueError(f"{where}: pairing must be 'all' (every pair of models) or 'target' (the target against "
                             f"each other model), not {pairing!r}")
        if pairing == "target" and not target:
            raise ValueError(f"{where}: pairing 'target' needs `target:` (the model being improved)")
        if target is not None and models and target not in models:
            raise ValueError(f"{where}: target {target!r} is not one of models ({', '.join(models)})")
        if systems is not None and (not isinstance(systems, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in systems.items())):
            raise ValueError(f"{where}: systems must map model names to system prompts; got {systems!r}")
        if systems and models and set(systems) - set(models):
            raise ValueError(f"{where}: systems names {sorted(set(systems) - set(models))}, not in models ({', '.join(models)})")
        if not isinstance(judge_max_tokens, int) or isinstance(judge_max_tokens, bool) or judge_max_tokens < 16:
            raise ValueError(f"{where}: judge_max_tokens must be a whole number >= 16, not {judge_max_tokens!r}")
        self.per_model_sampling = _per_model_sampling(model_sampling, models, where)
        if sampling.get("n") not in (None, 1):
            raise ValueError(f"{where}: n must be 1 (each model answers each prompt once)")
        writes = [*BATTLE_COLUMNS, *(["prompt_messages"] if prompt_messages else [])]
        super().__init__(name, model=judge, reads=[completions] if completions else [], writes=writes,
                         inputs=inputs or (), citations=[CITATION], **sampling)
        self.battle_models, self.judge, self.pairing, self.target = models, judge, pairing, target
        self.models = sorted({judge, *models}) if completions is None else [judge]
        self.columns = PromptColumns(prompt, prompt_messages, system_column)
        self.reads |= self.columns.reads()
        self.systems, self.completions, self.swap, self.judge_max_tokens = systems or {}, completions, bool(swap), judge_max_tokens
        self.judge_template = self.load_template("arena_judge.jinja")
        self.judge_system = self.load_template("arena_judge_system.jinja").strip()

    # -- answers ------------------------------------------------------------------------------------
    async def answers(self, record: dict[str, Any]) -> tuple[dict[str, str], list[dict[str, Any]]]:
        """``{model: answer text}`` in model order, and the lineage entries of the calls made."""
        if self.completions is not None:
            return self._pool_answers(record), []

        async def one(model: str) -> tuple[str, dict[str, Any]]:
            messages = self.columns.messages(record, self.systems.get(model))
            response, entry = await self.call(record, messages, model=model, salt=f"answer\x1f{model}", n=1,
                                              lineage={"arena_model": model}, **self.per_model_sampling.get(model, {}))
            return (response.text or "").strip(), entry

        made = await asyncio.gather(*(one(m) for m in self.battle_models))
        return {m: text for m, (text, _) in zip(self.battle_models, made)}, [entry for _, entry in made]

    def _pool_answers(self, record: dict[str, Any]) -> dict[str, str]:
        pool = record.get(self.completions)
        if not isinstance(pool, list) or not all(isinstance(c, dict) and isinstance(c.get("text"), str) for c in pool):
            raise RowError(f"arena_battles {self.name!r}: column {self.completions!r} must hold a completion pool "
                           f"(a list of dicts with 'text' and 'model'), got {pool!r:.80}")
        out: dict[str, str] = {}
        for c in pool:
            model = str(c.get("model") or f"completion-{c.get('index', len(out))}")
            if (not self.battle_models or model in self.battle_models) and model not in out and c["text"].strip():
                out[model] = c["text"].strip()
        return out

    def battles(self, models: list[str]) -> list[tuple[str, str]]:
        """The ``(model_a, model_b)`` battles among ``models`` under the pairing rule."""
        if self.pairing == "target":
            return [(self.target, m) for m in models if m != self.target] if self.target in models else []
        return [(a, b) for i, a in enumerate(models) for b in models[i + 1:]]

    # -- the judge ----------------------------------------------------------------------------------
    def conversation(self, record: dict[str, Any]) -> str:
        turns = [m for m in self.columns.messages(record) if m.get("role") != "system"]
        return "\n\n".join(f"{'User' if m['role'] == 'user' else 'Assistant'}: {m.get('content') or ''}" for m in turns)

    async def game(self, record: dict[str, Any], conversation: str, first: tuple[str, str], second: tuple[str, str],
                   order: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """One judged game: ``first`` is shown as Assistant 1. Returns the game (scores mapped back
        to ``a``/``b`` by ``order``) and the lineage entry."""
        text = self.render(self.judge_template, {"conversation": conversation, "answer_1": first[1], "answer_2": second[1]})
        messages = [{"role": "system", "content": self.judge_system}, {"role": "user", "content": text}]
        response, entry = await self.call(record, messages, model=self.judge, salt=f"judge\x1f{first[0]}\x1f{second[0]}",
                                          json_schema=JUDGE_SCHEMA, temperature=0.0, max_tokens=self.judge_max_tokens,
                                          lineage={"battle": f"{first[0]} vs {second[0]}", "order": order})
        value = response.parsed or {}
        s1, s2 = float(value["score_1"]), float(value["score_2"])
        score_a, score_b = (s1, s2) if order == "ab" else (s2, s1)
        return {"order": order, "score_a": score_a, "score_b": score_b, "winner": game_winner(score_a, score_b),
                "explanation": str(value.get("explanation", "")).strip()}, entry

    async def battle(self, record: dict[str, Any], conversation: str, a: tuple[str, str],
                     b: tuple[str, str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The battle's columns and its lineage entries (one per game)."""
        games = [self.game(record, conversation, a, b, "ab")] + ([self.game(record, conversation, b, a, "ba")] if self.swap else [])
        played = await asyncio.gather(*games)
        results = [g for g, _ in played]
        winner = battle_winner([g["winner"] for g in results])
        score_a = sum(g["score_a"] for g in results) / len(results)
        score_b = sum(g["score_b"] for g in results) / len(results)
        return {"model_a": a[0], "model_b": b[0], "response_a": a[1], "response_b": b[1], "games": results,
                "score_a": score_a, "score_b": score_b, "winner": winner,
                "winner_model": {"a": a[0], "b": b[0]}.get(winner)}, [e for _, e in played]

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        conversation = self.conversation(record)  # a row without a usable prompt is an error row before any call
        answers, entries = await self.answers(record)
        pairs = self.battles(list(answers))
        if not pairs:
            return Rejected(f"no battle: {len(answers)} model answer(s) ({', '.join(answers) or 'none'}) under pairing "
                            f"{self.pairing!r}")
        fought = await asyncio.gather(*(self.battle(record, conversation, (ma, answers[ma]), (mb, answers[mb]))
                                        for ma, mb in pairs))
        fields = self.columns.fields(record)
        rows = adopt_rows(record, [{**record, **fields, **columns} for columns, _ in fought], self.name, [])
        for row, (_, games) in zip(rows, fought):  # each battle row: the answers' calls and its own games
            for entry in [*entries, *games]:
                add_lineage(row, {**entry, "parent": record.get(ID, "")})
        return rows
