"""UltraFeedback: fine-grained AI feedback on a pool of completions, aspect by aspect.

Cui, G., Yuan, L., Ding, N., Yao, G., Zhu, W., Ni, Y., Xie, G., Liu, Z., Sun, M. (2023).
*UltraFeedback: Boosting Language Models with Scaled AI Feedback* (first titled "... with
High-quality Feedback"). arXiv:2310.01377 (reference code: OpenBMB/UltraFeedback).

**Generation** (``ultrafeedback_completions``). Each prompt is answered by 4 of 17 models; each
completion is conditioned on a *principle* system prompt — helpfulness, honesty, truthfulness, or
verbalized calibration — drawn per completion from a source-dependent mix
(``ultrafeedback_principles.json`` holds the paper's prompts and its mixes). The step is the
``completions`` pool with those principles: ``principle_mix`` names a mix (or gives weights), and
each completion records its ``principle`` and ``system`` prompt, drawn reproducibly per row and slot.

**Annotation** (``ultrafeedback`` step). GPT-4 (T=0, top_p=0.6) rates the completions *together*
(4 texts in one prompt, shuffled) on each of four aspects with the paper's templates and 1–5
scales, a rationale per rating: instruction following, honesty (may be "N/A"), truthfulness and
helpfulness (both also name hallucination / informativeness *types* 1–3). A separate critique
prompt gives feedback and an overall score 1–10 (``critique: true``).

Every completion in ``completions`` gets ``ratings`` ({aspect: annotation}, see
:mod:`.ultrafeedback_parsing`), ``score`` and, with ``critique``, ``critique`` and
``overall_score``. ``score`` is the mean of the aspect ratings that could be read (``score_by:
aspects``, the "fine-grained score" the UltraFeedback authors and the binarized Zephyr set
switched to after erroneous critique 10s) or the critique's overall score (``score_by: critique``).
A completion is never dropped: an unreadable rating is ``None`` with the reason; a row where no
rating at all could be read is an error row.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import statistics
from pathlib import Path
from typing import Any

import xxhash

from ...llm.structured import StructuredOutputError
from ...pipeline.model_step import ModelStep, RowError, chat
from ...pipeline.step import Rejected
from ...records import adopt_rows
from .completion_pool import CompletionPool
from .prompt_columns import PromptColumns
from .ultrafeedback_parsing import (
    ASPECTS,
    OVERALL_HI,
    OVERALL_LO,
    TYPE_HINTS,
    json_shape,
    rating_schema,
    read_json,
    read_overall,
    read_text,
    unreadable,
)

CITATION = ("Cui et al. 2023, UltraFeedback: Boosting Language Models with Scaled AI Feedback, "
            "arXiv:2310.01377")
PRINCIPLES_FILE = Path(__file__).with_name("ultrafeedback_principles.json")
SCORE_BY = ("aspects", "critique")
_COUNT = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}


# -- principles ------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def load_principles(path: str | None = None) -> dict[str, Any]:
    """The principles file (``principles``: name -> system prompts; ``mixes``: name -> {principle:
    probability}); the bundled one unless ``path`` names another with the same layout."""
    file = Path(path) if path else PRINCIPLES_FILE
    if not file.is_file():
        raise ValueError(f"principles file {str(file)!r} does not exist; give a JSON file with `principles` and `mixes`")
    data = json.loads(file.read_text(encoding="utf-8"))
    if not isinstance(data.get("principles"), dict) or not isinstance(data.get("mixes", {}), dict):
        raise ValueError(f"principles file {str(file)!r} needs `principles` (name -> list of system prompts) "
                         "and `mixes` (name -> {principle: weight})")
    return data


def principle_mix_weights(mix: str | dict[str, float], path: str | None = None) -> dict[str, float]:
    """A principle distribution: a named mix of the file (``general`` — the paper's ShareGPT and
    UltraChat mix —, ``flan``, ``evol_instruct``, ``truthful_qa``) or an explicit {principle: weight}."""
    data = load_principles(path)
    if isinstance(mix, str):
        if mix not in data["mixes"]:
            raise ValueError(f"principle mix {mix!r} is not in the principles file; mixes: {', '.join(data['mixes'])}, "
                             "or give {principle: weight}")
        mix = data["mixes"][mix]
    if not isinstance(mix, dict) or not mix:
        raise ValueError(f"a principle mix is a mix name or a non-empty {{principle: weight}} mapping, not {mix!r}")
    unknown = sorted(set(mix) - set(data["principles"]))
    if unknown:
        raise ValueError(f"unknown principle(s) {unknown} in the mix; principles: {', '.join(data['principles'])}")
    if any(not isinstance(w, (int, float)) or w < 0 for w in mix.values()) or sum(mix.values()) <= 0:
        raise ValueError(f"principle weights must be non-negative numbers with a positive sum, not {mix!r}")
    return {str(k): float(v) for k, v in mix.items()}


def critique_note(completion: dict[str, Any]) -> str:
    """The completion's principle prompt, appended to the instruction as "Note:" in the critique
    (for verbalized calibration only its first sentence, as ``annotate_critique.py`` does)."""
    prompt = str(completion.get("system_prompt") or completion.get("system") or "").strip()
    if completion.get("principle") == "verbalized_calibration":
        prompt = prompt.split("For instance, ")[0].strip()
    return prompt


# -- the annotation step -----------------------------------------------------------------------------------
class UltraFeedbackRate(ModelStep):
    """Rates every completion of column ``completions`` with UltraFeedback's four aspect
    templates (1–5 with rationales; ``texts_per_call`` completions per prompt, shuffled), and with
    ``critique`` its feedback prompt (overall 1–10); writes ``ratings`` and ``score`` into each completion."""

    type_name = "ultrafeedback"
    default_sampling = {"temperature": 0.0, "top_p": 0.6, "max_tokens": 1024}
    dropped_options = ("n",)  # one annotation per prompt

    def __init__(self, name: str, *, prompt: str = "prompt", prompt_messages: str | None = None,
                 completions: str = "completions", aspects: list[str] | None = None, texts_per_call: int = 4, shuffle: bool = True,
                 world_knowledge_column: str | None = None, structured: bool = True, max_rationale_chars: int = 400,
                 critique: bool = False, score_by: str = "aspects", **kwargs: Any) -> None:
        chosen = list(ASPECTS) if aspects is None else list(aspects)
        unknown = [a for a in chosen if a not in ASPECTS]
        if unknown or not chosen or len(set(chosen)) != len(chosen):
            raise ValueError(f"aspects must be distinct names among {', '.join(ASPECTS)}, not {aspects!r}")
        if not 1 <= int(texts_per_call) <= 8:
            raise ValueError(f"texts_per_call must be between 1 and 8 (the paper rates 4 together), not {texts_per_call}")
        if score_by not in SCORE_BY:
            raise ValueError(f"score_by must be 'aspects' (mean of the aspect ratings) or 'critique', not {score_by!r}")
        if score_by == "critique" and not critique:
            raise ValueError("score_by: critique needs the critique's overall score; set critique: true")
        if int(max_rationale_chars) < 16:
            raise ValueError(f"max_rationale_chars must be at least 16, not {max_rationale_chars}")
        kwargs.setdefault("citations", [CITATION])
        self.columns = PromptColumns(prompt, prompt_messages)
        reads = [*self.columns.reads(), completions] + ([world_knowledge_column] if world_knowledge_column else [])
        super().__init__(name, reads=reads, writes=[completions], **kwargs)
        self.completions = completions
        self.aspects, self.texts_per_call, self.shuffle = chosen, int(texts_per_call), shuffle
        self.world_knowledge_column, self.structured = world_knowledge_column, structured
        self.max_rationale_chars, self.critique, self.score_by = int(max_rationale_chars), critique, score_by
        self.system = self.load_template("ultrafeedback_system.jinja")
        self.rubrics = {a: self.load_template(f"ultrafeedback_{a}.jinja") for a in self.aspects}
        self.annotation = self.load_template("ultrafeedback_annotation.jinja")
        if critique:
            self.critique_prompt = self.load_template("ultrafeedback_critique.jinja")
            self.critique_system = self.load_template("ultrafeedback_critique_system.jinja").strip()

    # -- prompts ----------------------------------------------------------------------------------------
    def messages(self, aspect: str, instruction: str, texts: list[str], world_knowledge: str) -> list[dict[str, str]]:
        """The annotation prompt of one aspect over ``texts`` (the paper's template for that aspect)."""
        n = len(texts)
        view = {"aspect": aspect, "instruction": instruction, "texts": texts, "typed": aspect in TYPE_HINTS,
                "type_hint": TYPE_HINTS.get(aspect, ""), "world_knowledge": world_knowledge,
                "structured": self.structured, "json_shape": json_shape(aspect, n)}
        user = self.render(self.rubrics[aspect], view).rstrip() + "\n\n" + self.render(self.annotation, view)
        system = self.render(self.system, {"n_texts": n, "count": _COUNT.get(n, str(n))}).strip()
        return chat(user.strip() + "\n", system=system)

    def groups(self, record: dict[str, Any], aspect: str, count: int) -> list[list[int]]:
        """Completion indices in the order shown for ``aspect`` (shuffled per record and aspect, as the
        paper shuffles the 4 texts), cut into groups of ``texts_per_call``."""
        order = list(range(count))
        if self.shuffle:
            random.Random(self.seed_for(record, f"\x1forder:{aspect}")).shuffle(order)
        return [order[i:i + self.texts_per_call] for i in range(0, count, self.texts_per_call)]

    # -- calls ------------------------------------------------------------------------------------------
    async def rate(self, record: dict[str, Any], aspect: str, instruction: str, texts: list[str], world_knowledge: str,
                   salt: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Annotations of ``texts`` on ``aspect`` (one call) and the call's lineage entries."""
        messages = self.messages(aspect, instruction, texts, world_knowledge)
        extra = {"aspect": aspect}
        if self.structured:
            schema = rating_schema(aspect, len(texts), self.max_rationale_chars)
            try:
                response, lineage = await self.call(record, messages, salt=salt, json_schema=schema, lineage=extra)
            except StructuredOutputError as e:
                problem = f"the {aspect} annotation could not be read: {e.validation_error}"
                return [unreadable(problem) for _ in texts], []
            return read_json(aspect, response.parsed, len(texts)), [lineage]
        response, lineage = await self.call(record, messages, salt=salt, lineage=extra)
        return read_text(aspect, response.text or "", len(texts)), [lineage]

    async def overall(self, record: dict[str, Any], instruction: str, completion: dict[str, Any],
                      index: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The critique of one completion: ``{"critique", "overall_score", "critique_problem"}``."""
        view = {"instruction": instruction, "note": critique_note(completion), "completion": str(completion["text"]),
                "structured": self.structured}
        messages = chat(self.render(self.critique_prompt, view).strip() + "\n", system=self.critique_system)
        extra = {"aspect": "critique", "completion": index}
        if self.structured:
            schema = {"type": "object", "required": ["feedback", "overall_score"], "properties": {
                "feedback": {"type": "string", "maxLength": 2 * self.max_rationale_chars},
                "overall_score": {"enum": list(range(OVERALL_LO, OVERALL_HI + 1))}}}
            try:
                response, lineage = await self.call(record, messages, salt=f"\x1fcritique:{index}", json_schema=schema,
                                                    lineage=extra)
            except StructuredOutputError as e:
                return {"critique": "", "overall_score": None,
                        "critique_problem": f"the critique could not be read: {e.validation_error}"}, []
            feedback, score, problem = read_overall(response.parsed)
        else:
            response, lineage = await self.call(record, messages, salt=f"\x1fcritique:{index}", lineage=extra)
            feedback, score, problem = read_overall(response.text or "")
        return {"critique": feedback, "overall_score": score, "critique_problem": problem}, [lineage]

    # -- the row ----------------------------------------------------------------------------------------
    def completions_of(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        pool = record.get(self.completions)
        if not isinstance(pool, list) or not pool:
            return Rejected(f"no completions to rate in column {self.completions!r}")
        bad = [i for i, c in enumerate(pool) if not isinstance(c, dict) or not isinstance(c.get("text"), str)]
        if bad:
            raise RowError(f"column {self.completions!r}: completion(s) {bad} are not dicts with a `text`; "
                           "make the pool with the `completions` step")
        return [dict(c) for c in pool]

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        instruction = self.columns.text(record)
        if not instruction.strip():
            return Rejected(f"no prompt in column {self.columns.prompt_messages or self.columns.prompt!r}")
        pool = self.completions_of(record)
        if isinstance(pool, Rejected):
            return pool
        knowledge = str(record.get(self.world_knowledge_column) or "") if self.world_knowledge_column else ""
        jobs, where = [], []
        for aspect in self.aspects:
            for g, group in enumerate(self.groups(record, aspect, len(pool))):
                texts = [pool[i]["text"] for i in group]
                jobs.append(self.rate(record, aspect, instruction, texts, knowledge, f"\x1f{aspect}:{g}"))
                where.append((aspect, group))
        if self.critique:
            jobs += [self.overall(record, instruction, c, i) for i, c in enumerate(pool)]
        results = await asyncio.gather(*jobs)
        lineage: list[dict[str, Any]] = []
        for c in pool:
            c["ratings"] = {}
        for (aspect, group), (notes, entries) in zip(where, results):
            lineage += entries
            for i, a in zip(group, notes):
                pool[i]["ratings"][aspect] = a
        for c, (critique, entries) in zip(pool, results[len(where):]):
            lineage += entries
            c.update(critique)
        for c in pool:
            c["ratings"] = {a: c["ratings"][a] for a in self.aspects}
            readable = [a["rating"] for a in c["ratings"].values() if a["rating"] is not None]
            c["fine_grained_score"] = statistics.fmean(readable) if readable else None
            c["score"] = c["fine_grained_score"] if self.score_by == "aspects" else c.get("overall_score")
        if all(c["score"] is None for c in pool):
            problems = sorted({a["problem"] for c in pool for a in c["ratings"].values() if a["problem"]}
                              | {c["critique_problem"] for c in pool if c.get("critique_problem")})
            raise RowError(f"no readable {'rating' if self.score_by == 'aspects' else 'overall score'} for any of the "
                           f"{len(pool)} completions: {'; '.join(problems)[:300]}")
        return adopt_rows(record, {**record, self.completions: pool}, self.name, lineage)


class UltraFeedbackCompletions(CompletionPool):
    """The ``completions`` pool with UltraFeedback's principles: each completion gets a system prompt
    of a principle drawn from ``principle_mix`` (``general``: ShareGPT/UltraChat, ``flan``,
    ``evol_instruct``, ``truthful_qa``, or {principle: weight}), from ``principles_file`` (default: the
    bundled paper prompts); it records ``principle`` and ``system``."""

    type_name = "ultrafeedback_completions"
    dropped_options = ("model", "system_prompts", "principle_weights")  # set from the principles and the mix

    def __init__(self, name: str, *, models: list[str] | None = None, principle_mix: str | dict[str, float] = "general",
                 principles_file: str | None = None, **kwargs: Any) -> None:
        where = f"{type(self).type_name} {name!r}"
        taken = sorted({"system_prompts", "principle_weights"} & set(kwargs))
        if taken:
            raise ValueError(f"{where}: {', '.join(taken)} come from the principles; set principle_mix "
                             "(and principles_file) instead")
        try:
            weights = principle_mix_weights(principle_mix, principles_file)
            prompts = load_principles(principles_file)["principles"]
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
        super().__init__(name, models=models, system_prompts={p: list(v) for p, v in prompts.items()},
                         principle_weights=weights, **kwargs)
        self.citations = list(dict.fromkeys([*self.citations, CITATION]))

    def describe(self) -> dict[str, Any]:
        d = super().describe()  # the principles themselves, so an edited file recomputes
        d["principles_content"] = xxhash.xxh3_64_hexdigest(json.dumps(self.system_prompts, sort_keys=True).encode())
        return d
