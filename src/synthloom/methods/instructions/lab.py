"""LAB — Large-scale Alignment for chatBots, the InstructLab synthetic data pipeline (Sudalairaj et al.
2024, "LAB: Large-Scale Alignment for ChatBots", arXiv:2403.01081; reference pipelines in
instructlab/sdg).

A taxonomy's leaves each describe one skill (``task_description``) with a few (3–5) seed examples.
For every leaf and seed example the teacher:

1. (grounded skills only) writes a new *context* in the style of the seed context,
2. generates ``num_samples`` questions in the style of the seed question,
3. judges each question 0/1 against the requirements — keep score == 1,
4. answers the question in the style of the seed answer,
5. judges the question/answer pair on the paper's 3-point scale — keep score >= 2.

Knowledge leaves (document + Q&A seeds) run as grounded leaves whose contexts are the document
excerpts. The judges ask for a JSON verdict where the backend can enforce it (a grammar-constrained
model always answers one), else their replies are parsed with :func:`taxonomy_parsing.parse_score`;
an unparseable score is an error row that keeps the judge's raw text. Rejections carry the score.
The knowledge pipeline (document chunks -> grounded Q&A -> faithfulness, relevancy and question
judges) is in ``lab_knowledge.py``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import xxhash
import yaml

from ...curate.judges.calibration import (
    TOP_LOGPROBS,
    ContentFreePrior,
    calibrated,
    calibrating,
    check_setting,
    content_free,
    label_distribution,
    label_first,
    on_embedded_model,
)
from ...curate.judges.constrained import verdict_schema
from ...llm.types import Response
from ...pipeline.model_step import RowError, is_refusal
from ...pipeline.step import Rejected, SourceStep
from ...records import ID
from .taxonomy_parsing import parse_list, parse_score, parse_tagged, score_explanation
from .taxonomy_prompt_step import BundledPromptStep

CITATION = ("Sudalairaj, S. et al. (2024). LAB: Large-Scale Alignment for ChatBots. arXiv:2403.01081 "
            "(reference pipelines: github.com/instructlab/sdg)")
SCORE_TAGS = ("[Start of Score]", "[End of Score]")
EVAL_TAGS = ("[Start of Evaluation]", "[End of Evaluation]")
LEAF_COLUMNS = ["leaf", "kind", "task_description", "seed_index", "seed_question", "seed_answer", "seed_context", "context"]


class TaxonomyError(ValueError):
    """A taxonomy file or folder cannot be used as written."""


def _examples_of(leaf: dict[str, Any], where: str) -> list[dict[str, str]]:
    examples = []
    for i, ex in enumerate(leaf.get("seed_examples") or []):
        if not isinstance(ex, dict):
            raise TaxonomyError(f"{where}: seed example {i} is not a mapping")
        context = str(ex.get("context") or "").strip()
        if "questions_and_answers" in ex:  # knowledge leaves (qna.yaml v3): one context, several Q&A
            for qa in ex["questions_and_answers"] or []:
                examples.append({"question": str(qa.get("question", "")).strip(),
                                 "answer": str(qa.get("answer", "")).strip(), "context": context})
            continue
        if not ex.get("question") or not ex.get("answer"):
            raise TaxonomyError(f"{where}: seed example {i} needs `question` and `answer`")
        examples.append({"question": str(ex["question"]).strip(), "answer": str(ex["answer"]).strip(),
                         "context": context})
    return examples


def normalise_leaf(leaf: dict[str, Any], where: str, *, min_seed_examples: int = 3) -> dict[str, Any]:
    """A leaf as ``{leaf, kind, task_description, seed_examples}``; ``kind`` is ``grounded`` when
    its seed examples carry contexts, else ``freeform``."""
    if not isinstance(leaf, dict):
        raise TaxonomyError(f"{where}: a taxonomy leaf must be a mapping")
    description = str(leaf.get("task_description") or leaf.get("description") or "").strip()
    if not description:
        raise TaxonomyError(f"{where}: the leaf has no `task_description`; add one sentence saying what the skill is")
    examples = _examples_of(leaf, where)
    if len(examples) < min_seed_examples:
        raise TaxonomyError(f"{where}: the leaf has {len(examples)} seed example(s); LAB leaves need at least "
                            f"{min_seed_examples} (add more, or lower `min_seed_examples`)")
    kind = leaf.get("kind") or ("grounded" if all(e["context"] for e in examples) else "freeform")
    if kind not in ("freeform", "grounded"):
        raise TaxonomyError(f"{where}: kind must be freeform or grounded, got {kind!r}")
    if kind == "grounded" and not all(e["context"] for e in examples):
        raise TaxonomyError(f"{where}: a grounded leaf needs a `context` in every seed example")
    return {"leaf": str(leaf.get("leaf") or leaf.get("path") or where), "kind": kind,
            "task_description": description, "seed_examples": examples}


def load_taxonomy(path: str | Path, *, min_seed_examples: int = 3) -> list[dict[str, Any]]:
    """Leaves from a JSONL/JSON/YAML file of leaves, or an InstructLab taxonomy folder (every
    ``qna.yaml`` below it is a leaf named by its folder path)."""
    p = Path(path)
    if not p.exists():
        raise TaxonomyError(f"no taxonomy at {str(p)!r}; give a JSONL file of leaves or an InstructLab taxonomy folder")
    if p.is_dir():
        files = sorted(p.rglob("qna.yaml"))
        if not files:
            raise TaxonomyError(f"{p}: no qna.yaml files below this folder")
        leaves = []
        for f in files:
            data = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
            data.setdefault("leaf", str(f.parent.relative_to(p)))
            leaves.append(normalise_leaf(data, str(f), min_seed_examples=min_seed_examples))
        return leaves
    text = p.read_text(encoding="utf-8")
    if p.suffix == ".jsonl":
        raw = [json.loads(ln) for ln in text.splitlines() if ln.strip()]
    elif p.suffix == ".json":
        raw = json.loads(text)
    elif p.suffix in (".yaml", ".yml"):
        raw = yaml.safe_load(text)
    else:
        raise TaxonomyError(f"{p}: unknown taxonomy format {p.suffix!r}; use .jsonl, .json, .yaml or a folder")
    if isinstance(raw, dict):
        raw = [raw]
    return [normalise_leaf(leaf, f"{p.name} leaf {i}", min_seed_examples=min_seed_examples) for i, leaf in enumerate(raw)]


class LabTaxonomy(SourceStep):
    """Reads a LAB/InstructLab taxonomy and yields one row per (leaf, seed example): ``leaf``,
    ``kind`` (freeform | grounded), ``task_description``, ``seed_index``, ``seed_question``,
    ``seed_answer``, ``seed_context`` and ``context`` (the seed's context; replaced by
    :class:`LabContexts` for grounded leaves)."""

    type_name = "lab_taxonomy"
    columns = LEAF_COLUMNS

    def __init__(self, name: str, *, path: str, min_seed_examples: int = 3, seeds_per_leaf: int | None = None) -> None:
        super().__init__(name, citations=[CITATION])
        self.seeds_per_leaf = seeds_per_leaf
        self.leaves = load_taxonomy(str(path), min_seed_examples=int(min_seed_examples))

    def _rows(self) -> Iterator[dict[str, Any]]:
        for leaf in self.leaves:
            examples = leaf["seed_examples"][: self.seeds_per_leaf] if self.seeds_per_leaf else leaf["seed_examples"]
            for i, ex in enumerate(examples):
                yield {"leaf": leaf["leaf"], "kind": leaf["kind"], "task_description": leaf["task_description"],
                       "seed_index": i, "seed_question": ex["question"], "seed_answer": ex["answer"],
                       "seed_context": ex["context"], "context": ex["context"]}

    def read(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        return itertools.islice(self._rows(), limit)

    def count(self, limit: int | None = None) -> int | None:
        n = sum(1 for _ in self._rows())
        return n if limit is None else min(n, limit)

    def fingerprint(self) -> str:
        return xxhash.xxh3_64_hexdigest(json.dumps(self.leaves, sort_keys=True).encode())


class _LabStep(BundledPromptStep):
    system_file = "lab_system.jinja"
    citation = CITATION


class LabContexts(_LabStep):
    """LAB grounded skills, step 1: a new context in the style of the seed context (``n`` samples
    give ``n`` rows). Freeform rows pass through untouched. Reads ``kind``, ``task_description``,
    ``seed_context``; writes ``context``."""

    type_name = "lab_contexts"
    template_file = "lab_contexts.jinja"
    writes_columns = frozenset({"context"})

    def prompt(self, record: dict[str, Any]) -> Any:
        return None if record.get("kind") != "grounded" else super().prompt(record)

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        out = []
        for choice in response.choices:
            blocks = parse_tagged(choice.text, "[Start of Context]", "[End of Context]",
                                  truncated=choice.finish_reason == "length")
            text = blocks[0] if blocks else ("" if choice.finish_reason == "length" else choice.text.strip())
            if text and not is_refusal(text):
                out.append({**record, "context": text})
        if not out:
            raise RowError("no usable context in the reply", raw_text=response.text)
        return out if len(out) > 1 else out[0]


def parse_questions(text: str, *, truncated: bool = False, max_items: int | None = None) -> list[str]:
    """Questions between ``[Start of Question]``/``[End of Question]`` tags, or — when the model
    ignored the tags — the items of a numbered list. Refusals and tag debris are dropped."""
    blocks = parse_tagged(text, "[Start of Question]", "[End of Question]", truncated=truncated)
    items = blocks if blocks else parse_list(text, truncated=truncated, labels=("question",))
    out, seen = [], set()
    for q in items:
        q = q.replace("[End of Question]", "").strip()
        key = " ".join(q.lower().split())
        if q and key not in seen and not is_refusal(q) and "[start of" not in key:
            seen.add(key)
            out.append(q)
    return out[:max_items] if max_items else out


class LabQuestions(_LabStep):
    """LAB step 2: ``num_samples`` questions in the style of the seed question (grounded leaves:
    about the context); one output row per question. Reads ``kind``, ``task_description``,
    ``seed_question``, ``context``; writes ``question``."""

    type_name = "lab_questions"
    template_file = "lab_questions.jinja"
    provided = frozenset({"num_samples"})
    writes_columns = frozenset({"question"})

    def __init__(self, name: str, *, num_samples: int = 5, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.num_samples = int(num_samples)

    def variables(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"num_samples": self.num_samples}

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        questions = parse_questions(response.text, truncated=response.choices[0].finish_reason == "length",
                                    max_items=self.num_samples)
        if not questions:
            raise RowError("no questions could be parsed from the reply", raw_text=response.text)
        return [{**record, "question": q} for q in questions]


class _LabJudge(_LabStep):
    """A LAB / InstructLab judge: an explanation, then a verdict from ``allowed``; keeps the rows whose
    verdict is in :meth:`passes`. Where the backend can enforce a JSON schema the reply is asked for as
    ``{"explanation": ..., "score": ...}`` (``curate.judges.constrained``), so a small model decoding
    under a grammar always gives a verdict; otherwise it is read from the prompt's tagged format.
    ``calibrate``: the verdict comes first and is read by contextual calibration of its probabilities
    (``curate/judges/calibration.py``; the texts the prompt reads become "N/A", "" and "[MASK]" for the
    prior), written with ``<score_column>_probabilities``; without logprobs the sampled verdict stays.
    ``auto``: only on the embedded demo model (see :func:`~synthloom.curate.judges.calibration.calibrating`).
    ``enabled``: ``false`` passes every row on unjudged (score and explanation ``None``, no model call):
    InstructLab's *simple* pipeline, the one it runs with small local teacher models, has no judges;
    ``auto`` judges except on the embedded demo model, which cannot judge (its verdicts are chance)."""

    allowed: tuple[Any, ...] = ()
    score_tags: tuple[str, str] = SCORE_TAGS
    eval_tags: tuple[str, str] = EVAL_TAGS

    def __init__(self, name: str, *, min_score: Any, score_column: str, evaluation_column: str,
                 calibrate: bool | str = False, enabled: bool | str = True, **kwargs: Any) -> None:
        check_setting(calibrate, f"{self.type_name} {name!r}")
        check_setting(enabled, f"{self.type_name} {name!r}", "enabled")
        super().__init__(name, **kwargs)
        self.writes |= {score_column, evaluation_column} | ({f"{score_column}_probabilities"} if calibrate else set())
        if min_score not in self.allowed:
            raise ValueError(f"min_score must be one of {list(self.allowed)}, got {min_score!r}")
        self.min_score, self.score_column, self.evaluation_column = min_score, score_column, evaluation_column
        self.calibrate, self.calibrating, self.prior = calibrate, False, ContentFreePrior()
        self.enabled, self.judging = enabled, enabled is True

    def setup(self, ctx: Any) -> None:
        super().setup(ctx)
        self.judging = self.enabled is True or (self.enabled == "auto" and not on_embedded_model(ctx, self.model_name))
        self.calibrating = self.judging and calibrating(self.calibrate, ctx, self.model_name)
        if self.calibrating:
            self.sampling = {"logprobs": True, "top_logprobs": TOP_LOGPROBS, **self.sampling}

    def constrained_schema(self) -> dict[str, Any] | None:
        schema = verdict_schema("score", list(reversed(self.allowed)), reason_key="explanation",
                                max_tokens=self.sampling.get("max_tokens"))
        return label_first(schema, "score") if self.calibrating else schema

    async def _content_free(self, record: dict[str, Any], text: str) -> dict[Any, float] | None:
        """The verdict distribution for ``record`` with the texts the prompt reads replaced by ``text``."""
        blank = content_free(record, sorted(self.reads - {"kind"}), text)
        blank[ID] = f"calibration\x1f{text}"
        response, _ = await self.call_constrained(blank, self.build_request(blank), json_schema=self.constrained_schema())
        choice = response.choices[0] if response.choices else None
        return label_distribution(choice.logprobs if choice else None, "score", self.allowed)

    def after_run(self, out: Path, log: Callable[[str], None]) -> None:
        """Say, at the end of the run, that this judge let every row through unjudged (and why)."""
        if self.ctx is not None and not self.judging:
            why = "enabled is false" if self.enabled is False else \
                "enabled is auto and the model is the embedded demo model, whose verdicts are chance"
            log(f"step {self.name!r} judged nothing ({why}): every row went on unjudged, as in InstructLab's simple "
                "pipeline; enabled: true runs the judge (the lab recipe: --set judges=true)")

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        if not self.judging:  # InstructLab's simple pipeline: the row goes on unjudged
            unjudged = {self.score_column: None, self.evaluation_column: None}
            if self.calibrate:
                unjudged[f"{self.score_column}_probabilities"] = None
            return [{**record, **unjudged}]
        if self.calibrating:
            await self.prior.get(lambda text: self._content_free(record, text))
        return await super().process(record)

    def read_free_text(self, text: str) -> Any:
        """The verdict in a free-text reply (``None`` when there is none)."""
        return parse_score(text, self.allowed, tags=self.score_tags)

    def passes(self, score: Any) -> bool:
        return score >= self.min_score

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        value = response.parsed
        if isinstance(value, dict) and value.get("score") in self.allowed:
            score, explanation = value["score"], str(value.get("explanation") or "").strip()
        else:
            score = self.read_free_text(response.text)
            explanation = score_explanation(response.text, tags=self.eval_tags)
        probs = None
        if self.calibrating:  # the verdict by contextual calibration (curate/judges/calibration.py)
            choice = response.choices[0] if response.choices else None
            dist = label_distribution(choice.logprobs if choice else None, "score", self.allowed)
            probs = calibrated(dist, self.prior.value) if dist and self.prior.value else None
            score = max(probs, key=probs.__getitem__) if probs else score
        if score is None:
            raise RowError(f"no score in {list(self.allowed)} found in the judge's reply", raw_text=response.text)
        out = {**record, self.score_column: score, self.evaluation_column: explanation}
        if self.calibrate:
            out[f"{self.score_column}_probabilities"] = {str(k): round(v, 4) for k, v in probs.items()} if probs else None
        if not self.passes(score):
            return Rejected(self.rejection(score), score=float(self.allowed.index(score) if isinstance(score, str) else score))
        return out

    def rejection(self, score: Any) -> str:
        return f"judge score {score} < {self.min_score}"


class LabQuestionJudge(_LabJudge):
    """LAB step 3: judges each question 0/1 against the requirements and keeps score 1 (rejected
    rows carry the score). Reads ``kind``, ``task_description``, ``question``, ``context``; writes
    ``question_score``, ``question_evaluation``."""

    type_name = "lab_question_judge"
    template_file = "lab_question_judge.jinja"
    allowed = (0, 1)

    def __init__(self, name: str, *, min_score: int = 1, score_column: str = "question_score",
                 evaluation_column: str = "question_evaluation", **kwargs: Any) -> None:
        super().__init__(name, min_score=min_score, score_column=score_column,
                         evaluation_column=evaluation_column, **kwargs)


def parse_answer(text: str) -> str:
    """The answer between ``[Start of Answer]``/``[End of Answer]`` tags, else the whole reply."""
    blocks = parse_tagged(text, "[Start of Answer]", "[End of Answer]")
    return (blocks[0] if blocks else text).replace("[End of Answer]", "").strip()


class LabAnswer(_LabStep):
    """LAB step 4: answers the question in the style of the seed answer (grounded: from the
    context). Reads ``kind``, ``task_description``, ``seed_question``, ``seed_answer``,
    ``seed_context``, ``context``, ``question``; writes ``answer``."""

    type_name = "lab_answer"
    template_file = "lab_answer.jinja"
    writes_columns = frozenset({"answer"})

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        answer = parse_answer(response.text)
        if not answer:
            raise RowError("empty answer", raw_text=response.text)
        return {**record, "answer": answer}


class LabAnswerJudge(_LabJudge):
    """LAB step 5: judges the question/answer pair on the paper's 3-point scale (1 wrong or unsafe,
    2 correct but brief, 3 perfect) and keeps score >= ``min_score`` (2). Writes ``answer_score``,
    ``answer_evaluation``."""

    type_name = "lab_answer_judge"
    template_file = "lab_answer_judge.jinja"
    allowed = (1, 2, 3)

    def __init__(self, name: str, *, min_score: int = 2, score_column: str = "answer_score",
                 evaluation_column: str = "answer_evaluation", **kwargs: Any) -> None:
        super().__init__(name, min_score=min_score, score_column=score_column,
                         evaluation_column=evaluation_column, **kwargs)
