"""Magpie's tagging and filtering: judge-model tags, nearest-neighbour distance, the keep rules.

Xu et al. 2024, "Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with
Nothing" (arXiv 2406.08464; reference code magpie-align/magpie, ``exp/unitag.py``).

* :class:`MagpieTag` (``type: magpie_tag``) asks a judge model, with a JSON answer, for one tag of
  each instruction: ``quality`` (input_quality: very poor … excellent, with an explanation),
  ``difficulty`` (very easy … very hard, with intent and knowledge) or ``category`` (one of the
  paper's 12 task tags plus other tags).
* :class:`MagpieNeighbors` (``type: magpie_neighbors``) embeds every instruction (MiniLM,
  ``synthloom.curate.embeddings``) and writes ``min_neighbor_distance`` — the Euclidean distance
  between unit vectors to the nearest other instruction — and ``nearest_neighbor_id``; with
  ``dedup_distance`` it keeps the first of every group of near-duplicates (one representative
  per group, as the paper's FAISS step) and rejects the rest naming the row they repeat.
* ``task: safety`` asks the judge, in the manner of Llama Guard 2 (which the paper runs on each
  instruction and response), whether the pair is ``safe`` or ``unsafe`` and which of the MLCommons
  hazard categories S1–S11 it falls in (writes ``safety``, ``safety_categories``).
* :class:`MagpieLanguage` (``type: magpie_language``) tags the instruction's language (``language``,
  an ISO 639-1 code) without a model: the paper uses the lingua detector; here the script of its
  letters and, for Latin script, the stopword shares of ``curate.heuristics.language`` (en, de, fr,
  es, it, pt, nl; other Latin-script languages are ``null``).
* The paper's reward (FsfairX-LLaMA3-RM on each instruction and response) is the ``reward_score``
  step of the preference methods (a reward model served by vLLM, or a judge's expected score).
* ``calibrate: true`` on a tag reads the label from the judge's token probabilities, corrected for the
  judge's bias (contextual calibration: Zhao et al. 2021, "Calibrate Before Use: Improving Few-Shot
  Performance of Language Models", arXiv:2102.09690): the label is asked first, its probabilities
  ``p(label | query)`` are read at the label's first token and divided by the same probabilities for
  content-free queries (``"N/A"``, ``""``, ``"[MASK]"``, averaged); the label is the largest ratio and
  ``<label column>_probabilities`` holds the calibrated distribution (``null`` without ``calibrate``). A small judge that gives one label
  to everything (SmolLM2-135M rates 97% of queries "very poor", whatever they say) then ranks queries by
  how far they move it. The paper tags greedily with the explanation first; a backend without
  logprobs falls back to the sampled label (the probabilities column is then ``null``).
* :class:`MagpieFilter` (``type: magpie_filter``) applies the keep rules: input quality at least
  ``good``, optional difficulty / category sets, a minimum neighbour distance, no trailing ":",
  and, when set, the allowed ``languages``, ``safe_only`` and ``min_reward``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ...curate.judges.calibration import (
    TOP_LOGPROBS,
    ContentFreePrior,
    calibrated,
    calibrating,
    check_setting,
    content_free,
    label_distribution,
    label_first,
)
from ...llm.structured import StructuredOutputError
from ...llm.types import Request, Response
from ...pipeline.llm_step import LLMStep
from ...pipeline.step import FilterStep, GlobalStep, Rejected, RejectedRow, StreamStep
from ...records import ID
from .magpie import CITATION

QUALITY = ["very poor", "poor", "average", "good", "excellent"]
DIFFICULTY = ["very easy", "easy", "medium", "hard", "very hard"]
CATEGORIES = ["Information seeking", "Reasoning", "Planning", "Editing", "Coding & Debugging", "Math", "Role playing",
              "Data analysis", "Creative writing", "Advice seeking", "Brainstorming", "Others"]
SAFETY = ["safe", "unsafe"]
#: Llama Guard 2's hazard categories (the MLCommons AI Safety taxonomy)
HAZARDS = {"S1": "Violent Crimes", "S2": "Non-Violent Crimes", "S3": "Sex Crimes", "S4": "Child Exploitation",
           "S5": "Specialized Advice", "S6": "Privacy", "S7": "Intellectual Property",
           "S8": "Indiscriminate Weapons", "S9": "Hate", "S10": "Self-Harm", "S11": "Sexual Content"}
_TEXT = {"type": "string", "maxLength": 300}
TASKS: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    # task -> (JSON schema of the judge's answer, answer field -> output column)
    "quality": ({"type": "object", "properties": {"explanation": _TEXT, "input_quality": {"enum": QUALITY}},
                 "required": ["explanation", "input_quality"]},
                {"explanation": "quality_explanation", "input_quality": "input_quality"}),
    "difficulty": ({"type": "object", "properties": {"intent": _TEXT, "knowledge": _TEXT,
                                                     "difficulty": {"enum": DIFFICULTY}},
                    "required": ["intent", "knowledge", "difficulty"]},
                   {"intent": "intent", "knowledge": "knowledge", "difficulty": "difficulty"}),
    "safety": ({"type": "object", "properties": {"safety": {"enum": SAFETY},
                                                 "categories": {"type": "array", "items": {"enum": list(HAZARDS)},
                                                                "maxItems": 3}},
                "required": ["safety", "categories"]},
               {"safety": "safety", "categories": "safety_categories"}),
    "category": ({"type": "object", "properties": {"primary_tag": {"enum": CATEGORIES},
                                                   "other_tags": {"type": "array", "items": {"enum": CATEGORIES},
                                                                  "maxItems": 4}},
                  "required": ["primary_tag", "other_tags"]},
                 {"primary_tag": "task_category", "other_tags": "other_task_categories"}),
}

#: task -> (the answer field holding the label, the labels)
LABELS: dict[str, tuple[str, list[str]]] = {"quality": ("input_quality", QUALITY), "difficulty": ("difficulty", DIFFICULTY),
                                            "category": ("primary_tag", CATEGORIES), "safety": ("safety", SAFETY)}

class MagpieTag(LLMStep):
    """One Magpie tag per instruction from a judge model (Xu et al. 2024): ``task`` is ``quality``
    (writes input_quality, quality_explanation), ``difficulty`` (difficulty, intent, knowledge),
    ``category`` (task_category, other_task_categories) or ``safety`` (safety, safety_categories; it
    also reads the ``response_column``). The answer is JSON-schema constrained. ``calibrate``: the label
    by contextual calibration of the judge's label probabilities (see the module docstring); ``auto``:
    only on the embedded demo model."""

    type_name = "magpie_tag"

    def __init__(self, name: str, *, task: str, column: str = "instruction", response_column: str = "response",
                 model: str = "default", temperature: float = 0.0, max_tokens: int = 512, calibrate: bool | str = False,
                 **sampling: Any) -> None:
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, not {task!r}")
        schema, fields = TASKS[task]
        reads = [column, response_column] if task == "safety" else [column]
        label_field, self.labels = LABELS[task]
        self.label_column = fields[label_field]
        writes = [*fields.values(), f"{self.label_column}_probabilities"]
        check_setting(calibrate, f"magpie_tag {name!r}")
        super().__init__(name, model=model, json_schema=schema, temperature=temperature, max_tokens=max_tokens,
                         reads=reads, writes=writes, citations=[CITATION], **sampling)
        self.task, self.column, self.response_column, self.fields = task, column, response_column, fields
        self.calibrate, self.label_field, self.calibrating = calibrate, label_field, False
        self.template = self.load_template(f"magpie_tag_{task}.jinja")
        self.prior = ContentFreePrior()

    def setup(self, ctx: Any) -> None:
        super().setup(ctx)
        self.calibrating = calibrating(self.calibrate, ctx, self.model_name)
        if self.calibrating:  # the label first, with its probabilities
            self.json_schema = label_first(TASKS[self.task][0], self.label_field)
            self.sampling = {"logprobs": True, "top_logprobs": TOP_LOGPROBS, **self.sampling}

    def prompt(self, record: dict[str, Any]) -> Request:
        view = {"instruction": str(record[self.column])}
        if self.task == "safety":
            view["response"] = str(record.get(self.response_column) or "")
            view["hazards"] = HAZARDS
        text = self.render(self.template, {**view, "label_first": self.calibrating})
        # the schema rides on the request so constrained decoding is asked for on every backend
        # that can do it (an OpenAI-compatible server that cannot is detected by the backend)
        return self.request(record, text, json_schema=self.json_schema)

    def parse(self, record: dict[str, Any], response: Response) -> dict[str, Any]:
        value = response.parsed or {}
        row = {**record, **{col: value.get(key) for key, col in self.fields.items()}}
        row[f"{self.label_column}_probabilities"] = None
        if self.calibrating:
            choice = response.choices[0] if response.choices else None
            dist = label_distribution(choice.logprobs if choice else None, self.label_field, self.labels)
            probs = calibrated(dist, self.prior.value) if dist and self.prior.value else None
            if probs:
                row[self.label_column] = max(probs, key=probs.__getitem__)
            row[f"{self.label_column}_probabilities"] = {k: round(v, 4) for k, v in probs.items()} if probs else None
        return row

    async def _content_free(self, record: dict[str, Any], text: str) -> dict[str, float] | None:
        """The label distribution for ``record`` with its query (and response) replaced by ``text``."""
        blank = content_free(record, [self.column, self.response_column], text)
        blank[ID] = f"calibration\x1f{text}"
        try:
            response, _ = await self.call(blank, self.build_request(blank), json_schema=self.json_schema)
        except StructuredOutputError:  # no readable answer: this input adds nothing to the prior
            return None
        choice = response.choices[0] if response.choices else None
        return label_distribution(choice.logprobs if choice else None, self.label_field, self.labels)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        if self.calibrating:
            await self.prior.get(lambda text: self._content_free(record, text))
        return await super().process(record)


_SCRIPT_LANGUAGES = {"CYRILLIC": "ru", "GREEK": "el", "ARABIC": "ar", "HEBREW": "he", "HANGUL": "ko",
                     "DEVANAGARI": "hi", "BENGALI": "bn", "THAI": "th", "CJK": "zh", "HIRAGANA": "ja", "KATAKANA": "ja"}


def tag_language(text: str, min_stopword_ratio: float = 0.08) -> str | None:
    """An ISO 639-1 code for ``text``: from the main script of its letters (Japanese when it has any
    kana), and for Latin script the listed language with the highest stopword share when that share
    is at least ``min_stopword_ratio``; ``None`` when it cannot tell."""
    from synthloom.curate.heuristics.language import guess_language, script_counts

    scripts = script_counts(text)
    if not scripts:
        return None
    if scripts.get("HIRAGANA") or scripts.get("KATAKANA"):
        return "ja"
    main = scripts.most_common(1)[0][0]
    if main != "LATIN":
        return _SCRIPT_LANGUAGES.get(main)
    lang, share = guess_language(text)
    return lang if share >= min_stopword_ratio else None


class MagpieLanguage(StreamStep):
    """Magpie's language tag (Xu et al. 2024): ``language`` (ISO 639-1 code, or ``null`` when unknown)
    of the ``column`` text, by :func:`tag_language` — no model call."""

    type_name = "magpie_language"
    kind = "map"

    def __init__(self, name: str, *, column: str = "instruction", output: str = "language",
                 inputs: list[str] | None = None) -> None:
        super().__init__(name, inputs=inputs or (), reads=[column], writes=[output], citations=[CITATION])
        self.column, self.output = column, output

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        return [{**record, self.output: tag_language(str(record.get(self.column) or ""))}]


class MagpieNeighbors(GlobalStep):
    """Nearest-neighbour distance of each instruction among all of them (Magpie's FAISS step, done
    with exact blockwise matrix products over MiniLM embeddings). Writes ``min_neighbor_distance``
    (Euclidean distance of unit vectors, ``sqrt(2 - 2 cos)``; ``null`` for a single row) and
    ``nearest_neighbor_id``. With ``dedup_distance`` a row within that distance of an earlier kept
    row is rejected as its near-duplicate. Rows are spilled to disk between the two passes; the
    embeddings (384 floats per row) stay in memory."""

    type_name = "magpie_neighbors"
    runtime_options = ("batch_size", "block")

    def __init__(self, name: str, *, column: str = "instruction", dedup_distance: float | None = None,
                 encoder: str = "minilm", batch_size: int = 64, block: int = 2048,
                 inputs: list[str] | None = None) -> None:
        super().__init__(name, inputs=inputs or (), reads=[column],
                         writes=["min_neighbor_distance", "nearest_neighbor_id"], citations=[CITATION])
        self.column, self.dedup_distance, self.encoder = column, dedup_distance, encoder
        self.batch_size, self.block = batch_size, block

    def run(self, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any] | RejectedRow]:
        from synthloom.curate.embeddings import get_encoder

        spill = (self.ctx.spill_dir if self.ctx and self.ctx.state_dir else Path(_tmpdir())) / f"{self.name}.jsonl"
        texts: list[str] = []
        ids: list[str] = []
        with open(spill, "wb") as f:
            for r in rows:
                texts.append(str(r.get(self.column) or ""))
                ids.append(r.get(ID, ""))
                f.write(orjson.dumps(r, default=str) + b"\n")
        emb = get_encoder(self.encoder).encode(texts, batch_size=self.batch_size) if texts else np.zeros((0, 1))
        dist, nearest = nearest_neighbors(emb, self.block)
        dup_of = near_duplicates(emb, self.dedup_distance, self.block) if self.dedup_distance is not None else {}
        with open(spill, "rb") as f:
            for i, line in enumerate(f):
                r = orjson.loads(line)
                r["min_neighbor_distance"] = None if math.isinf(dist[i]) else float(dist[i])
                r["nearest_neighbor_id"] = None if nearest[i] < 0 else ids[nearest[i]]
                if i in dup_of:
                    j = dup_of[i]
                    r["nearest_neighbor_id"] = ids[j]
                    yield RejectedRow(r, Rejected(f"near_duplicate: within distance {self.dedup_distance} of "
                                                  f"{ids[j]}", float(dist[i]), duplicate_of=ids[j]))
                else:
                    yield r
        spill.unlink(missing_ok=True)


def _tmpdir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="synthloom-magpie-")


def nearest_neighbors(emb: np.ndarray, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """For unit-vector rows: distance to and index of the nearest other row (inf / -1 when alone)."""
    n = len(emb)
    dist = np.full(n, np.inf)
    idx = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return dist, idx
    for start in range(0, n, block):
        sims = emb[start:start + block] @ emb.T
        rows = np.arange(sims.shape[0])
        sims[rows, rows + start] = -np.inf
        best = sims.argmax(axis=1)
        idx[start:start + block] = best
        dist[start:start + block] = np.sqrt(np.clip(2.0 - 2.0 * sims[rows, best], 0.0, None))
    return dist, idx


def near_duplicates(emb: np.ndarray, max_distance: float, block: int = 2048) -> dict[int, int]:
    """Greedy in input order: row i is a duplicate of the first earlier *kept* row within
    ``max_distance``. Returns {duplicate index: kept index}."""
    min_sim = 1.0 - max_distance * max_distance / 2.0
    kept: list[int] = []
    dup: dict[int, int] = {}
    for start in range(0, len(emb), block):
        chunk = emb[start:start + block]
        prior = np.array(kept, dtype=np.int64)
        prior_sims = chunk @ emb[prior].T if len(prior) else np.zeros((len(chunk), 0))
        local = chunk @ chunk.T
        local_kept: list[int] = []
        for k in range(len(chunk)):
            hits = np.nonzero(prior_sims[k] >= min_sim)[0]
            if len(hits):
                dup[start + k] = int(prior[hits[0]])
                continue
            near = [j for j in local_kept if local[k, j] >= min_sim]
            if near:
                dup[start + k] = start + near[0]
                continue
            local_kept.append(k)
        kept += [start + k for k in local_kept]
    return dup


class MagpieFilter(FilterStep):
    """Magpie's keep rules (Xu et al. 2024): ``min_quality`` (default ``good``: good or excellent
    input quality), ``difficulties`` / ``categories`` (allowed sets, off by default),
    ``min_neighbor_distance`` (off by default), no trailing ":" in the instruction, and — off by
    default, on in the built-in recipe — ``languages`` (allowed ``language`` tags), ``safe_only``
    (``safety`` must be ``safe``) and ``min_reward`` (``reward`` at least this). A rejected row's
    reason starts with the rule's name."""

    type_name = "magpie_filter"

    def __init__(self, name: str, *, min_quality: str | None = "good", difficulties: list[str] | None = None,
                 categories: list[str] | None = None, min_neighbor_distance: float | None = None,
                 reject_trailing_colon: bool = True, languages: list[str] | None = None, safe_only: bool = False,
                 min_reward: float | None = None, column: str = "instruction",
                 inputs: list[str] | None = None) -> None:
        if min_reward is not None and (isinstance(min_reward, bool) or not isinstance(min_reward, (int, float))):
            raise ValueError(f"min_reward must be a number or null, not {min_reward!r}")
        if min_quality is not None and min_quality not in QUALITY:
            raise ValueError(f"min_quality must be one of {QUALITY} or null, not {min_quality!r}")
        for value, allowed, what in ((difficulties, DIFFICULTY, "difficulties"), (categories, CATEGORIES, "categories")):
            bad = [v for v in value or [] if v not in allowed]
            if bad:
                raise ValueError(f"{what}: unknown value(s) {bad}; allowed: {allowed}")
        reads = [column] if reject_trailing_colon else []
        reads += (["input_quality"] if min_quality else []) + (["difficulty"] if difficulties else [])
        reads += (["task_category"] if categories else []) + (["min_neighbor_distance"] if min_neighbor_distance else [])
        reads += (["language"] if languages else []) + (["safety"] if safe_only else [])
        reads += ["reward"] if min_reward is not None else []
        super().__init__(name, inputs=inputs or (), reads=reads, citations=[CITATION])
        self.languages, self.safe_only, self.min_reward = languages, safe_only, min_reward
        self.min_quality, self.difficulties, self.categories = min_quality, difficulties, categories
        self.min_neighbor_distance, self.reject_trailing_colon, self.column = min_neighbor_distance, reject_trailing_colon, column

    def check(self, record: dict[str, Any]) -> bool | Rejected:
        if self.reject_trailing_colon and str(record.get(self.column) or "").rstrip().endswith(":"):
            return Rejected("trailing_colon: the instruction ends with ':'")
        if self.min_quality:
            q = record.get("input_quality")
            if q not in QUALITY or QUALITY.index(q) < QUALITY.index(self.min_quality):
                return Rejected(f"input_quality: {q!r} is below {self.min_quality!r}")
        if self.difficulties and record.get("difficulty") not in self.difficulties:
            return Rejected(f"difficulty: {record.get('difficulty')!r} not in {self.difficulties}")
        if self.categories and record.get("task_category") not in self.categories:
            return Rejected(f"task_category: {record.get('task_category')!r} not in {self.categories}")
        if self.languages and record.get("language") not in self.languages:
            return Rejected(f"language: {record.get('language')!r} not in {self.languages}")
        if self.safe_only and record.get("safety") != "safe":
            cats = record.get("safety_categories") or []
            return Rejected(f"safety: {record.get('safety')!r}" + (f" ({', '.join(cats)})" if cats else ""))
        if self.min_reward is not None:
            r = record.get("reward")
            if not isinstance(r, (int, float)) or r < self.min_reward:
                return Rejected(f"reward: {r!r} < {self.min_reward:g}", r if isinstance(r, (int, float)) else None)
        if self.min_neighbor_distance is not None:
            d = record.get("min_neighbor_distance")
            if d is not None and d < self.min_neighbor_distance:
                return Rejected(f"min_neighbor_distance: {d:.4f} < {self.min_neighbor_distance}", d)
        return True
