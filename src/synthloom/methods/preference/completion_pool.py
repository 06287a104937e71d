"""Completion pools: one prompt fanned out to several models and sampling settings.

Preference data starts from several answers to the same prompt. UltraFeedback (Cui et al. 2023,
"UltraFeedback: Boosting Language Models with Scaled AI Feedback", arXiv:2310.01377) samples 4 of
17 models per prompt and gives each completion a principle system prompt (helpfulness, honesty,
truthfulness, verbalized calibration); Magpie's DPO set (Xu et al. 2024, arXiv:2406.08464) samples 5
answers from one model; best-of-N sampling draws N at some temperature.

The ``completions`` step writes column ``completions``: a list of dicts, one per completion, in
order model, then sampling setting, then sample::

    {"text": str, "model": str (the recipe's model name), "index": int, "finish_reason": str,
     "duplicate_of": int | None,           # index of an earlier completion with exactly this text
     "sampling": {...},                    # with ``sampling_settings``: the settings used
     "system": str, "principle": str|None} # with ``system_prompts``: the one sampled for it

``n`` completions come from each model in ``models`` (recipe model names, any backend mix) and each
of the ``sampling_settings`` (dicts of sampling options over the step's own). Duplicates are marked,
never dropped. With ``system_prompts`` — a list, a mapping principle -> list (UltraFeedback's
principles, drawn by ``principle_weights``), or a JSON/YAML file holding either — each completion
gets its own system prompt, drawn with a seed derived from the row, the step and the completion's
slot (:meth:`CompletionPool.choose_system`, the hook a subclass overrides). Scoring steps add
``score`` and their details to each dict; ``pairs`` and ``kto_labels`` turn the pool into rows.
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import xxhash
import yaml

from ...llm.types import sampling_problem
from ...pipeline.config import SAMPLING_KEYS
from ...pipeline.model_step import ModelStep
from ...pipeline.step import Rejected
from ...records import adopt_rows
from .prompt_columns import PromptColumns

CITATION = "Cui et al. 2023, UltraFeedback: Boosting Language Models with Scaled AI Feedback, arXiv:2310.01377"
SETTING_KEYS = tuple(k for k in SAMPLING_KEYS if k != "n")


def load_system_prompts(value: Any, where: str) -> list[str] | dict[str, list[str]] | None:
    """``system_prompts`` as given (a list, or a mapping principle -> list) or read from a JSON/YAML
    file; a malformed value raises ``ValueError`` naming the fix."""
    if value is None:
        return None
    if isinstance(value, str):
        path = Path(value).expanduser()
        if not path.is_file():
            raise ValueError(f"{where}: system_prompts file {value!r} does not exist; give a JSON or YAML file "
                             "holding a list of system prompts or a mapping principle -> list")
        text = path.read_text(encoding="utf-8")
        try:
            value = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as e:
            raise ValueError(f"{where}: cannot read system_prompts file {value!r}: {e}") from None
    if isinstance(value, list) and value and all(isinstance(s, str) and s.strip() for s in value):
        return list(value)
    if isinstance(value, dict) and value and all(
            isinstance(k, str) and isinstance(v, list) and v and all(isinstance(s, str) and s.strip() for s in v)
            for k, v in value.items()):
        return {k: list(v) for k, v in value.items()}
    raise ValueError(f"{where}: system_prompts must be a non-empty list of texts, a mapping principle -> non-empty "
                     f"list of texts, or a JSON/YAML file holding one; got {str(value)[:80]!r}")


def check_settings(settings: Any, where: str) -> list[dict[str, Any]] | None:
    """``sampling_settings`` checked: a non-empty list of dicts of sampling options (not ``n``)."""
    if settings is None:
        return None
    if not isinstance(settings, list) or not settings or not all(isinstance(s, dict) for s in settings):
        raise ValueError(f"{where}: sampling_settings must be a non-empty list of mappings, e.g. "
                         f"[{{temperature: 0.7}}, {{temperature: 1.0, top_p: 0.95}}]; got {settings!r}")
    for i, setting in enumerate(settings):
        unknown = sorted(set(setting) - set(SETTING_KEYS))
        if unknown:
            raise ValueError(f"{where}: sampling_settings[{i}] has unknown option(s) {unknown}; use "
                             f"{', '.join(SETTING_KEYS)} (set `n` on the step)")
        for key, v in setting.items():
            problem = sampling_problem(key, v)
            if problem:
                raise ValueError(f"{where}: sampling_settings[{i}]: {problem}")
    return [dict(s) for s in settings]


def mark_duplicates(texts: list[str]) -> list[int | None]:
    """For each text, the index of the first earlier one that is exactly the same, else ``None``."""
    first: dict[str, int] = {}
    out: list[int | None] = []
    for i, t in enumerate(texts):
        out.append(first.get(t))
        first.setdefault(t, i)
    return out


class CompletionPool(ModelStep):
    """``n`` completions of each row's prompt from every model in ``models`` and every entry of
    ``sampling_settings``, each tagged with its model (see the module docstring)."""

    type_name = "completions"
    dropped_options = ("model",)  # the pool's models are `models`
    default_sampling = {"temperature": 0.8, "max_tokens": 512}

    def __init__(self, name: str, *, models: list[str] | None = None, n: int = 4,
                 sampling_settings: list[dict[str, Any]] | None = None, prompt: str = "prompt",
                 prompt_messages: str | None = None, system_column: str | None = None,
                 system_prompts: list[str] | dict[str, list[str]] | str | None = None,
                 principle_weights: dict[str, float] | None = None, output: str = "completions",
                 inputs: list[str] | None = None, **sampling: Any) -> None:
        where = f"{type(self).type_name} {name!r}"
        models = ["default"] if models is None else models
        if not isinstance(models, list) or not models or not all(isinstance(m, str) and m for m in models):
            raise ValueError(f"{where}: models must list model names from the recipe's `models:`; got {models!r}")
        if len(set(models)) != len(models):
            raise ValueError(f"{where}: models lists a model twice: {models}; raise `n` for more completions per model")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{where}: n (completions per model and sampling setting) must be a whole number >= 1, "
                             f"not {n!r}")
        if "model" in sampling:
            raise ValueError(f"{where}: a completion pool takes `models:` (a list), not `model:`")
        self.settings = check_settings(sampling_settings, where)
        self.system_prompts = load_system_prompts(system_prompts, where)
        self.principle_weights = self._weights(principle_weights, where)
        super().__init__(name, model=models[0], inputs=inputs or (), citations=[CITATION],
                         writes=[output], **sampling)
        self.pool_models = list(models)
        self.models = list(models)
        self.n = n
        self.output = output
        self.columns = PromptColumns(prompt, prompt_messages, system_column)
        self.reads |= self.columns.reads()

    def _weights(self, weights: Any, where: str) -> dict[str, float] | None:
        if weights is None:
            return None
        if not isinstance(self.system_prompts, dict):
            raise ValueError(f"{where}: principle_weights needs system_prompts as a mapping principle -> list of texts")
        if not isinstance(weights, dict) or set(weights) - set(self.system_prompts) or not all(
                isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in weights.values()) \
                or not any(weights.values()):
            raise ValueError(f"{where}: principle_weights must map principles of system_prompts "
                             f"({', '.join(self.system_prompts)}) to weights >= 0, not all 0; got {weights!r}")
        return {p: float(weights.get(p, 0.0)) for p in self.system_prompts}

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        if isinstance(self.config.get("system_prompts"), str):  # the file's content, not only its name
            d["system_prompts_content"] = xxhash.xxh3_64_hexdigest(json.dumps(self.system_prompts).encode())
        return d

    # -- the hook ---------------------------------------------------------------------------------
    def choose_system(self, record: dict[str, Any], slot: int) -> tuple[str | None, str | None]:
        """``(principle, system prompt)`` for completion ``slot`` of ``record``: drawn from
        ``system_prompts`` with a seed derived from the row, the step and the slot, so a rerun draws
        the same; ``(None, None)`` without ``system_prompts``. Override to condition differently."""
        if self.system_prompts is None:
            return None, None
        rng = random.Random(self.seed_for(record, f"system\x1f{slot}"))
        if isinstance(self.system_prompts, list):
            return None, rng.choice(self.system_prompts)
        names = list(self.system_prompts)
        weights = [self.principle_weights[p] for p in names] if self.principle_weights else None
        principle = rng.choices(names, weights=weights)[0]
        return principle, rng.choice(self.system_prompts[principle])

    # -- the step ---------------------------------------------------------------------------------
    def slots(self) -> list[tuple[str, int, dict[str, Any]]]:
        """``(model, setting index, setting)`` of each call group, in pool order."""
        settings = self.settings or [{}]
        return [(m, si, s) for m in self.pool_models for si, s in enumerate(settings)]

    async def _group(self, record: dict[str, Any], model: str, si: int, setting: dict[str, Any],
                     first_slot: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """The ``n`` completions of one model and setting: ``(completion, lineage entry)`` pairs."""
        salt = f"{model}\x1f{si}"
        extra = {"sampling": {**{k: v for k, v in self.sampling.items() if k != "n"}, **setting}} if self.settings else {}
        if self.system_prompts is None:
            response, entry = await self.call(record, self.columns.messages(record), model=model, n=self.n,
                                              salt=salt, **setting)
            return [({"text": c.text or "", "model": model, "finish_reason": c.finish_reason, **extra}, entry)
                    for c in response.choices[: self.n]]

        async def one(j: int) -> tuple[dict[str, Any], dict[str, Any]]:
            principle, system = self.choose_system(record, first_slot + j)
            response, entry = await self.call(record, self.columns.messages(record, system), model=model, n=1,
                                              salt=f"{salt}\x1f{j}", lineage={"principle": principle}, **setting)
            choice = response.choices[0] if response.choices else None
            return ({"text": (choice.text if choice else "") or "", "model": model,
                     "finish_reason": choice.finish_reason if choice else None, **extra,
                     "system": system, "principle": principle}, entry)

        return list(await asyncio.gather(*(one(j) for j in range(self.n))))

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        self.columns.messages(record)  # a row without a usable prompt is an error row before any call
        groups = await asyncio.gather(*(self._group(record, m, si, s, k * self.n)
                                        for k, (m, si, s) in enumerate(self.slots())))
        made = [item for group in groups for item in group]
        completions = [c for c, _ in made]
        for i, (c, dup) in enumerate(zip(completions, mark_duplicates([c["text"] for c in completions]))):
            c["index"] = i
            c["duplicate_of"] = dup
        entries = list({id(e): e for _, e in made}.values())  # one entry per call
        pool = [{"text": c["text"], "model": c["model"], "index": c["index"], "finish_reason": c["finish_reason"],
                 **{k: v for k, v in c.items() if k not in ("text", "model", "index", "finish_reason")}}
                for c in completions]
        return adopt_rows(record, {**record, self.output: pool}, self.name, entries)
