"""Reward scoring of completions, best-of-N selection, and Magpie's reward-difference filter.

``reward_score`` puts a reward on every completion of a pool (column ``completions``; or on one
``response`` column) with one of three ``method``\\ s:

* ``pooling`` — a reward model served by vLLM (``vllm serve MODEL --runner pooling``; older releases
  ``--task reward``): ``POST /pooling`` with the conversation (prompt, then the completion as the
  assistant turn); the reward is the pooled value at ``label_index`` (default 0) of the last token;
* ``classify`` — a sequence classifier served by vLLM: ``POST /classify``; the reward is the
  probability of class ``label_index`` (default: the last class, "good" in a bad/good classifier);
* ``expected_score`` — offline, no reward model: the step's ``model`` judges each completion on
  ``scale`` (1–5) in a JSON answer constrained by a schema, and the reward is the expected score
  over the score token's top log-probabilities, ``Σ p(k)·k`` (DEITA's scorers: Liu et al. 2023,
  arXiv:2312.15685; G-Eval: Liu et al. 2023, arXiv:2303.16634; see ``curate/judges/expected_score``).
  A backend that returns no usable log-probabilities gives the sampled score instead.

Each completion gets ``reward`` and, with ``set_score`` (default), ``score`` — what ``pairs`` and
``kto_labels`` read. The endpoint methods go through the model layer (``llm/pooling.py``): cached,
retried and rate-limited like every model call, so a rerun replays the rewards it already has.

``best_of_n`` keeps the best completion by a score key as the row's ``response`` (best-of-N
sampling: Stiennon et al. 2020, arXiv:2009.01325; Nakano et al. 2021, WebGPT, arXiv:2112.09332).
``reward_difference`` keeps rows whose best-minus-worst reward is at least ``min_difference`` and
rejects the others with their difference (Magpie's reward filtering, Xu et al. 2024, arXiv:2406.08464:
a small spread means the pool's pair teaches little).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ...curate.judges.expected_score import expected_score
from ...llm.pooling import POOLING_ENDPOINTS, pooled_values, pooling_model
from ...llm.structured import StructuredOutputError
from ...llm.types import Request
from ...pipeline.model_step import ModelStep, RowError, lineage_entry
from ...pipeline.step import FilterStep, Rejected, StreamStep
from ...records import adopt_rows
from .pairs import score_of
from .prompt_columns import PromptColumns

METHODS = (*POOLING_ENDPOINTS, "expected_score")
DEITA = ("Liu et al. 2023, What Makes Good Data for Alignment? A Comprehensive Study of Automatic Data Selection in "
         "Instruction Tuning (DEITA), arXiv:2312.15685")
MAGPIE = ("Xu et al. 2024, Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with Nothing, "
          "arXiv:2406.08464")
BEST_OF_N = "Stiennon et al. 2020, Learning to summarize from human feedback, arXiv:2009.01325"


def _scale(scale: Any, where: str) -> tuple[int, int]:
    if scale is None:
        return 1, 5
    if (not isinstance(scale, (list, tuple)) or len(scale) != 2 or not all(isinstance(v, int) and not isinstance(v, bool)
                                                                          for v in scale)
            or not 0 <= scale[0] < scale[1] <= 9):
        raise ValueError(f"{where}: scale must be [low, high], whole numbers from 0 to 9 with low < high (one token "
                         f"each, so the expected score can be read), e.g. [1, 5]; got {scale!r}")
    return int(scale[0]), int(scale[1])


class RewardScore(ModelStep):
    """A reward on each completion (or on one ``response`` column) from a vLLM reward/classify
    endpoint or, offline, a judge's expected score (see the module docstring)."""

    type_name = "reward_score"
    dropped_options = ("n",)  # one reward per completion
    default_sampling = {"temperature": 0.0, "max_tokens": 16}

    def __init__(self, name: str, *, method: str = "expected_score", label_index: int | None = None,
                 completions: str = "completions", response: str | None = None, prompt: str = "prompt",
                 prompt_messages: str | None = None, system_column: str | None = None, scale: list[int] | None = None,
                 template: str | None = None, set_score: bool = True, model: str = "default",
                 inputs: list[str] | None = None, **sampling: Any) -> None:
        where = f"reward_score {name!r}"
        if method not in METHODS:
            raise ValueError(f"{where}: method must be one of {', '.join(METHODS)}, not {method!r}")
        if label_index is not None and (isinstance(label_index, bool) or not isinstance(label_index, int)
                                        or label_index < 0):
            raise ValueError(f"{where}: label_index must be a whole number >= 0, not {label_index!r}")
        if label_index is not None and method == "expected_score":
            raise ValueError(f"{where}: label_index picks a value of a pooling/classify reply; method expected_score "
                             "has none")
        if method != "expected_score" and (scale is not None or template is not None):
            raise ValueError(f"{where}: scale and template shape the judge of method expected_score, not a reward model")
        self.lo, self.hi = _scale(scale, where)
        self.method = method
        self.label_index = label_index
        self.completions = completions
        self.response = response
        self.set_score = set_score
        self.columns = PromptColumns(prompt, prompt_messages, system_column)
        writes = ["reward"] if response else [completions]
        super().__init__(name, model=model, inputs=inputs or (), writes=writes,
                         citations=[DEITA] if method == "expected_score" else [], **sampling)
        self.reads |= self.columns.reads() | {response or completions}
        if method == "expected_score":
            if template is not None and "{{" not in template:
                raise ValueError(f"{where}: template must be Jinja2 source using {{{{ instruction }}}} and "
                                 f"{{{{ response }}}}; got {template[:60]!r}")
            self.template = template or self.load_template("reward_judge.jinja")
            self.read_columns(self.template, not_columns=["instruction", "response", "lo", "hi"])
        self._pooling: Any = None

    def schema(self) -> dict[str, Any]:
        """The judge's answer: ``{"score": k}`` with ``k`` on the scale."""
        return {"type": "object", "properties": {"score": {"type": "integer", "enum": list(range(self.lo, self.hi + 1))}},
                "required": ["score"], "additionalProperties": False}

    # -- one reward -------------------------------------------------------------------------------
    async def reward(self, record: dict[str, Any], text: str, slot: int) -> tuple[float | None, dict[str, Any] | None,
                                                                                 str | None]:
        """``(reward, lineage entry, problem)`` of completion ``text``; an unreadable judge answer gives
        ``(None, None, why)``, model failures raise."""
        if self.method == "expected_score":
            return await self._judged(record, text, slot)
        return await self._pooled(record, text)

    async def _pooled(self, record: dict[str, Any], text: str) -> tuple[float | None, dict[str, Any], str | None]:
        if self._pooling is None:
            self._pooling = pooling_model(self.ctx.models, self.model_name, self.method)
        req = Request.chat([*self.columns.messages(record), {"role": "assistant", "content": text}])
        resp = await self._pooling.complete(req)
        values, label = pooled_values(resp)
        index = self.label_index if self.label_index is not None else (0 if self.method == "pooling" else len(values) - 1)
        if index >= len(values):
            raise RowError(f"reward_score {self.name!r}: label_index {index} is out of range: the {self.method} reply "
                           f"has {len(values)} value(s) ({values[:8]}); set label_index below {len(values)}")
        entry = lineage_entry(self.name, self._pooling, self.model_name, req, resp, endpoint=self.method, label=label)
        return values[index], entry, None

    async def _judged(self, record: dict[str, Any], text: str, slot: int) -> tuple[float | None, dict[str, Any] | None,
                                                                                  str | None]:
        view = {**record, "instruction": self.columns.text(record), "response": text, "lo": self.lo, "hi": self.hi}
        messages = [{"role": "user", "content": self.render(self.template, view)}]
        try:
            response, entry = await self.call(record, messages, salt=f"reward\x1f{slot}", json_schema=self.schema(),
                                              logprobs=True, top_logprobs=self.sampling.get("top_logprobs") or 20)
        except StructuredOutputError as e:
            return None, None, f"no readable score: {e.validation_error}"
        parsed = response.parsed.get("score") if isinstance(response.parsed, dict) else None
        choice = response.choices[0] if response.choices else None
        got = expected_score(choice.logprobs if choice else None, self.lo, self.hi, parsed)
        if got is not None:
            return round(got[0], 6), {**entry, "reward_from": "logprobs"}, None
        return float(parsed), {**entry, "reward_from": "sampled"}, None

    # -- the step ---------------------------------------------------------------------------------
    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        self.columns.messages(record)  # a row without a usable prompt is an error row before any call
        if self.response:
            text = record.get(self.response)
            if not isinstance(text, str):
                raise RowError(f"reward_score {self.name!r}: column {self.response!r} holds no text ({text!r:.60})")
            value, entry, problem = await self.reward(record, text, 0)
            if value is None:
                raise RowError(f"reward_score {self.name!r}: {problem}")
            return adopt_rows(record, {**record, "reward": value}, self.name, [entry] if entry else [])
        pool = record.get(self.completions)
        if not isinstance(pool, list) or not all(isinstance(c, dict) for c in pool):
            raise RowError(f"reward_score {self.name!r}: column {self.completions!r} holds no list of completions")
        todo = [i for i, c in enumerate(pool) if c.get("duplicate_of") is None]
        results = await asyncio.gather(*(self.reward(record, str(pool[i].get("text") or ""), i) for i in todo))
        got = dict(zip(todo, results))
        scored_pool, problems = [], []
        for i, c in enumerate(pool):
            source = got.get(i) or got.get(c.get("duplicate_of"))  # a duplicate takes its original's reward
            value, _, problem = source if source else (None, None, "its original was not scored")
            out = {**c, "reward": value}
            if self.set_score:
                out["score"] = value
            if problem:
                out["reward_error"] = problem
                problems.append(f"#{i}: {problem}")
            scored_pool.append(out)
        if problems and len(problems) == len(pool):
            raise RowError(f"reward_score {self.name!r}: no completion got a reward: " + "; ".join(problems))
        return adopt_rows(record, {**record, self.completions: scored_pool}, self.name,
                          [r[1] for r in results if r[1] is not None])


class BestOfN(StreamStep):
    """Best-of-N selection: the completion with the highest ``score_key`` becomes ``output`` (with
    ``<output>_model``, ``<output>_score``, ``<output>_index``); a row without a scored completion is
    rejected."""

    type_name = "best_of_n"
    kind = "map"

    def __init__(self, name: str, *, score_key: str = "reward", completions: str = "completions",
                 output: str = "response", inputs: list[str] | None = None) -> None:
        super().__init__(name, inputs=inputs or (), reads=[completions], citations=[BEST_OF_N],
                         writes=[output, f"{output}_model", f"{output}_score", f"{output}_index"])
        self.score_key, self.completions, self.output = score_key, completions, output

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        pool = record.get(self.completions)
        pool = pool if isinstance(pool, list) else []
        ranked = [(v, -i, c) for i, c in enumerate(pool) if isinstance(c, dict) and (v := score_of(c, self.score_key)) is not None]
        if not ranked:
            return Rejected(f"no completion has a {self.score_key!r} (of {len(pool)})")
        value, neg_index, top = max(ranked, key=lambda t: (t[0], t[1]))
        o = self.output
        return [{**record, o: top.get("text"), f"{o}_model": top.get("model"), f"{o}_score": value,
                 f"{o}_index": top.get("index", -neg_index)}]


class RewardDifference(FilterStep):
    """Keeps rows whose best-minus-worst ``score_key`` over the pool is at least ``min_difference``;
    rejects the others with their difference as the score (Magpie)."""

    type_name = "reward_difference"

    def __init__(self, name: str, *, min_difference: float, score_key: str = "reward",
                 completions: str = "completions", inputs: list[str] | None = None) -> None:
        if isinstance(min_difference, bool) or not isinstance(min_difference, (int, float)) or min_difference < 0:
            raise ValueError(f"reward_difference {name!r}: min_difference must be a number >= 0, not {min_difference!r}")
        super().__init__(name, inputs=inputs or (), reads=[completions], citations=[MAGPIE])
        self.min_difference = float(min_difference)
        self.score_key, self.completions = score_key, completions

    def check(self, record: dict[str, Any]) -> bool | Rejected:
        pool = record.get(self.completions)
        values = [v for c in (pool if isinstance(pool, list) else []) if isinstance(c, dict)
                  and (v := score_of(c, self.score_key)) is not None]
        if len(values) < 2:
            return Rejected(f"fewer than 2 completions have a {self.score_key!r} ({len(values)})")
        diff = max(values) - min(values)
        if diff < self.min_difference:
            return Rejected(f"{self.score_key} difference {diff:.4g} < {self.min_difference:g} "
                            f"(best {max(values):.4g}, worst {min(values):.4g})", score=diff)
        return True
