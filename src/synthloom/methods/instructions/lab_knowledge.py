"""LAB knowledge pipeline: documents chunked, question/answer pairs grounded in each chunk, three judges.

Sudalairaj et al. 2024, "LAB: Large-Scale Alignment for ChatBots" (arXiv:2403.01081), §3 knowledge
tuning; the stages and thresholds follow InstructLab SDG's full knowledge pipeline (instructlab/sdg,
``pipelines/full/knowledge.yaml`` and ``configs/knowledge/*.yaml``):

1. :class:`LabKnowledge` (``type: lab_knowledge``): a knowledge leaf is a document (inline or files)
   plus seed examples, each a context excerpt with three question/answer pairs. The document is cut
   into chunks of at most ``chunk_words`` words (InstructLab: ``chunk_word_count`` 1000, about
   ``1.3 × words`` tokens) on paragraph and sentence boundaries, with ``overlap_words`` carried over
   (InstructLab's splitter overlapped 100 characters, about 20 words); every chunk is paired with
   every seed example (InstructLab's ``map_chunks_to_icls``): columns ``document`` (the chunk),
   ``icl_document``, ``icl_query_1..3``, ``icl_response_1..3``, ``domain``, ``document_outline``.
2. :class:`LabGenerateQA` (``type: lab_generate_qa``): educational question/answer pairs from the
   chunk in ``[QUESTION] … [ANSWER] … [END]`` blocks, one row per pair (``question``, ``response``);
   the recipe drops duplicate questions next, as InstructLab does. Where the backend can enforce a
   JSON schema the pairs are asked for as ``{"pairs": [{"question", "answer"}]}`` (at most
   ``MAX_PAIRS``), so a small model under a grammar still gives readable pairs.
3. :class:`LabFaithfulness` (``type: lab_faithfulness``): is the answer supported by the chunk? Keep
   ``YES`` (InstructLab ``filter_faithfulness``: judgment == "YES").
4. :class:`LabRelevancy` (``type: lab_relevancy``): subject match + focus match, 1 point each; keep
   a total of 2 (``filter_relevancy``: score == 2.0).
5. :class:`LabQuestionQuality` (``type: lab_question_quality``): is the question self-contained
   and answerable with subject knowledge? Keep 1 (``filter_verify_question``: rating == 1.0).

Each judge asks for ``{"explanation", "score"}`` JSON where the backend can enforce a schema, else
reads InstructLab's tagged format. Not done here: InstructLab's spellcheck copy of the document
and its docling PDF conversion (documents are text or Markdown files), and fetching ``document.repo``
from git (give ``documents:`` paths or the text).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import xxhash
import yaml

from ...llm.structured import JSONParseError, parse_json_text
from ...llm.types import Response
from ...pipeline.model_step import RowError, is_refusal
from ...pipeline.step import SourceStep
from .lab import CITATION, TaxonomyError, _LabJudge, _LabStep
from .taxonomy_parsing import parse_tagged

ICL_PAIRS = 3
#: the most pairs one constrained reply may hold
MAX_PAIRS = 5
KNOWLEDGE_COLUMNS = ["leaf", "domain", "document_outline", "chunk_index", "seed_index", "document", "icl_document",
                     *[f"icl_{kind}_{i}" for i in range(1, ICL_PAIRS + 1) for kind in ("query", "response")]]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


# -- documents and chunks -----------------------------------------------------------------------------

def _pieces(text: str, limit: int) -> list[str]:
    """Paragraphs (blank-line separated; a Markdown heading starts one), sentences of a paragraph
    longer than ``limit`` words, and word windows of a sentence longer than that."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n|\n(?=#)", text.strip()):
        para = para.strip()
        if not para:
            continue
        if len(para.split()) <= limit:
            out.append(para)
            continue
        for sentence in _SENTENCE_END.split(para):
            words = sentence.split()
            out += [" ".join(words[i:i + limit]) for i in range(0, len(words), limit)]
    return out


def _tail_sentences(text: str, max_words: int) -> str:
    """The last whole sentences of ``text`` that fit in ``max_words`` words ("" when none does)."""
    kept: list[str] = []
    for sentence in reversed(_SENTENCE_END.split(text.strip())):
        if sum(len(k.split()) for k in kept) + len(sentence.split()) > max_words:
            break
        kept.insert(0, sentence)
    return " ".join(kept)


def chunk_document(text: str, chunk_words: int = 1000, overlap_words: int = 20) -> list[str]:
    """``text`` cut into chunks of at most ``chunk_words`` words on paragraph, then sentence
    boundaries; each chunk after the first starts with the last whole sentences (up to
    ``overlap_words`` words) of the one before."""
    if chunk_words < 1 or not 0 <= overlap_words < chunk_words:
        raise ValueError(f"chunk_words must be >= 1 and 0 <= overlap_words < chunk_words; got {chunk_words}, "
                         f"{overlap_words}")
    chunks: list[list[str]] = []
    current: list[str] = []
    size = 0
    for piece in _pieces(text, chunk_words):
        n = len(piece.split())
        if current and size + n > chunk_words:
            chunks.append(current)
            carry = _tail_sentences(current[-1], overlap_words)
            current = [carry] if carry and len(carry.split()) + n <= chunk_words else []
            size = sum(len(p.split()) for p in current)
        current.append(piece)
        size += n
    if current:
        chunks.append(current)
    return ["\n\n".join(c) for c in chunks]


def _documents_of(leaf: dict[str, Any], base: Path, where: str) -> list[str]:
    texts = []
    if isinstance(leaf.get("document"), str) and leaf["document"].strip():
        texts.append(leaf["document"])
    paths = leaf.get("documents") or []
    if isinstance(paths, str):
        paths = [paths]
    for p in paths:
        path = (base / p) if not Path(p).is_absolute() else Path(p)
        if not path.is_file():
            raise TaxonomyError(f"{where}: document {str(path)!r} does not exist; `documents:` lists text or Markdown "
                                "files, relative to the taxonomy file")
        texts.append(path.read_text(encoding="utf-8"))
    if not texts:
        raise TaxonomyError(f"{where}: a knowledge leaf needs its document: `document: <text>` or `documents: [files]`"
                            " (InstructLab's `document: {repo, commit, patterns}` must be checked out and listed)")
    return texts


def knowledge_leaf(leaf: Any, base: Path, where: str, *, min_seed_examples: int) -> dict[str, Any]:
    """A knowledge leaf as ``{leaf, domain, document_outline, documents, seed_examples}``; every seed
    example is a ``context`` with ``questions_and_answers`` (InstructLab qna.yaml v3)."""
    if not isinstance(leaf, dict):
        raise TaxonomyError(f"{where}: a knowledge leaf must be a mapping")
    examples = []
    for i, ex in enumerate(leaf.get("seed_examples") or []):
        qna = ex.get("questions_and_answers") if isinstance(ex, dict) else None
        if not isinstance(qna, list) or not str(ex.get("context") or "").strip() or not qna:
            raise TaxonomyError(f"{where}: seed example {i} needs a `context` and `questions_and_answers`")
        if any(not isinstance(qa, dict) or not qa.get("question") or not qa.get("answer") for qa in qna):
            raise TaxonomyError(f"{where}: seed example {i}: every item of `questions_and_answers` needs `question` "
                                "and `answer`")
        examples.append({"context": str(ex["context"]).strip(),
                         "qna": [(str(qa["question"]).strip(), str(qa["answer"]).strip()) for qa in qna[:ICL_PAIRS]]})
    if len(examples) < min_seed_examples:
        raise TaxonomyError(f"{where}: the leaf has {len(examples)} seed example(s); InstructLab knowledge leaves "
                            f"need {min_seed_examples} (add more, or lower `min_seed_examples`)")
    return {"leaf": str(leaf.get("leaf") or where), "domain": str(leaf.get("domain") or "general knowledge"),
            "document_outline": str(leaf.get("document_outline") or "").strip(),
            "documents": _documents_of(leaf, base, where), "seed_examples": examples}


def load_knowledge(path: str | Path, *, min_seed_examples: int = 5) -> list[dict[str, Any]]:
    """Knowledge leaves from a JSONL/JSON/YAML file or an InstructLab taxonomy folder (every
    ``qna.yaml`` below ``knowledge/`` or holding ``questions_and_answers``)."""
    p = Path(path)
    if not p.exists():
        raise TaxonomyError(f"no knowledge taxonomy at {str(p)!r}; give a JSONL file of leaves or a taxonomy folder")
    if p.is_dir():
        leaves = []
        for f in sorted(p.rglob("qna.yaml")):
            data = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
            if any(isinstance(e, dict) and "questions_and_answers" in e for e in data.get("seed_examples") or []):
                data["leaf"] = data.get("leaf") or str(f.parent.relative_to(p))
                leaves.append(knowledge_leaf(data, f.parent, str(f), min_seed_examples=min_seed_examples))
        if not leaves:
            raise TaxonomyError(f"{p}: no knowledge qna.yaml (seed examples with questions_and_answers) below this folder")
        return leaves
    text = p.read_text(encoding="utf-8")
    if p.suffix == ".jsonl":
        raw: Any = [json.loads(ln) for ln in text.splitlines() if ln.strip()]
    elif p.suffix == ".json":
        raw = json.loads(text)
    elif p.suffix in (".yaml", ".yml"):
        raw = yaml.safe_load(text)
    else:
        raise TaxonomyError(f"{p}: unknown taxonomy format {p.suffix!r}; use .jsonl, .json, .yaml or a folder")
    raw = [raw] if isinstance(raw, dict) else raw
    return [knowledge_leaf(leaf, p.parent, f"{p.name} leaf {i}", min_seed_examples=min_seed_examples)
            for i, leaf in enumerate(raw)]


class LabKnowledge(SourceStep):
    """Knowledge leaves cut into document chunks, each chunk paired with each seed example (see the
    module docstring): one row per (chunk, seed example)."""

    type_name = "lab_knowledge"
    columns = KNOWLEDGE_COLUMNS

    def __init__(self, name: str, *, path: str, chunk_words: int = 1000, overlap_words: int = 20,
                 min_seed_examples: int = 5) -> None:
        super().__init__(name, citations=[CITATION])
        self.chunk_words, self.overlap_words = int(chunk_words), int(overlap_words)
        self.leaves = load_knowledge(str(path), min_seed_examples=int(min_seed_examples))
        chunk_document("x", self.chunk_words, self.overlap_words)  # bad sizes fail before the run

    def _rows(self) -> Iterator[dict[str, Any]]:
        for leaf in self.leaves:
            chunks = [c for doc in leaf["documents"] for c in chunk_document(doc, self.chunk_words, self.overlap_words)]
            for c, chunk in enumerate(chunks):
                for s, ex in enumerate(leaf["seed_examples"]):
                    row = {"leaf": leaf["leaf"], "domain": leaf["domain"], "document_outline": leaf["document_outline"],
                           "chunk_index": c, "seed_index": s, "document": chunk, "icl_document": ex["context"]}
                    for i in range(ICL_PAIRS):
                        q, a = ex["qna"][i] if i < len(ex["qna"]) else ("", "")
                        row[f"icl_query_{i + 1}"], row[f"icl_response_{i + 1}"] = q, a
                    yield row

    def read(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        return itertools.islice(self._rows(), limit)

    def count(self, limit: int | None = None) -> int | None:
        n = sum(1 for _ in self._rows())
        return n if limit is None else min(n, limit)

    def fingerprint(self) -> str:
        return xxhash.xxh3_64_hexdigest(json.dumps([self.leaves, self.chunk_words, self.overlap_words],
                                                   sort_keys=True).encode())


# -- generation -----------------------------------------------------------------------------------------

_QA = re.compile(r"\[\s*QUESTION\s*\]\s*(.*?)\s*\[\s*ANSWER\s*\]\s*(.*?)\s*(?=\[\s*QUESTION\s*\]|\[\s*END\s*\]|\Z)",
                 re.IGNORECASE | re.DOTALL)
_QA_LABELLED = re.compile(r"(?:^|\n)\W*(?:Q(?:uestion)?\s*\d*\s*[:.])\s*(.*?)\s*\n\W*(?:A(?:nswer)?\s*\d*\s*[:.])\s*"
                          r"(.*?)\s*(?=\n\W*Q(?:uestion)?\s*\d*\s*[:.]|\Z)", re.IGNORECASE | re.DOTALL)


def parse_qa_pairs(text: str, *, truncated: bool = False) -> list[tuple[str, str]]:
    """``(question, answer)`` pairs from ``[QUESTION] … [ANSWER] … [END]`` blocks (InstructLab's
    pattern), or from ``Question: … / Answer: …`` lines when the model dropped the tags. A pair cut
    off by ``max_tokens`` (no ``[END]`` after the last answer) is dropped; so are empty pairs,
    refusals and ``[UNANSWERABLE]``."""
    matches = list(_QA.finditer(text)) or list(_QA_LABELLED.finditer(text))
    out, seen = [], set()
    for k, m in enumerate(matches):
        question, answer = (re.sub(r"\[\s*END\s*\]", "", g, flags=re.IGNORECASE).strip() for g in m.groups())
        if truncated and k == len(matches) - 1:
            continue
        key = " ".join(question.lower().split())
        if (question and answer and key not in seen and "unanswerable" not in (question + answer).lower()
                and not is_refusal(question) and not is_refusal(answer)):
            seen.add(key)
            out.append((question, answer))
    return out


def structured_pairs(text: str, *, truncated: bool = False) -> list[tuple[str, str]]:
    """The pairs of a ``{"pairs": [{"question", "answer"}]}`` reply (a constrained one); a reply cut
    off by ``max_tokens`` keeps its complete pairs. Empty when the text is not such JSON."""
    try:
        value = parse_json_text(text, "object")
    except JSONParseError:
        return []
    items = value.get("pairs") if isinstance(value, dict) else None
    if not isinstance(items, list):
        return []
    if truncated:
        items = items[:-1]
    tagged = "".join(f"[QUESTION] {i.get('question', '')} [ANSWER] {i.get('answer', '')} [END]\n"
                     for i in items if isinstance(i, dict))
    return parse_qa_pairs(tagged)


class LabGenerateQA(_LabStep):
    """LAB knowledge step 2: question/answer pairs grounded in the ``document`` chunk, in the style of
    the seed example's three pairs; one output row per pair (``question``, ``response``)."""

    type_name = "lab_generate_qa"
    template_file = "lab_knowledge_generate.jinja"
    writes_columns = frozenset({"question", "response"})

    def constrained_schema(self) -> dict[str, Any] | None:
        """``{"pairs": [{"question", "answer"}, ...]}`` (1 to ``MAX_PAIRS``) where the backend can enforce it."""
        item = {"type": "object", "properties": {"question": {"type": "string", "minLength": 8, "maxLength": 300},
                                                 "answer": {"type": "string", "minLength": 2, "maxLength": 600}},
                "required": ["question", "answer"], "additionalProperties": False}
        return {"type": "object", "properties": {"pairs": {"type": "array", "items": item, "minItems": 1,
                                                           "maxItems": MAX_PAIRS}},
                "required": ["pairs"], "additionalProperties": False}

    def parse(self, record: dict[str, Any], response: Response) -> Any:
        choice = response.choices[0] if response.choices else None
        truncated = bool(choice and choice.finish_reason == "length")
        pairs = structured_pairs(response.text, truncated=truncated) or parse_qa_pairs(response.text, truncated=truncated)
        if not pairs:
            raise RowError("no [QUESTION] … [ANSWER] pair could be read from the reply", raw_text=response.text)
        return [{**record, "question": q, "response": a} for q, a in pairs]


# -- the three judges -----------------------------------------------------------------------------------

class LabFaithfulness(_LabJudge):
    """LAB knowledge judge 1: is the ``response`` supported by the ``document`` chunk (directly or
    indirectly)? Keeps ``YES``. Writes ``judgment``, ``faithfulness_explanation``."""

    type_name = "lab_faithfulness"
    template_file = "lab_faithfulness.jinja"
    allowed = ("NO", "YES")
    score_tags = ("[Start of Answer]", "[End of Answer]")
    eval_tags = ("[Start of Explanation]", "[End of Explanation]")

    def __init__(self, name: str, *, min_score: str = "YES", score_column: str = "judgment",
                 evaluation_column: str = "faithfulness_explanation", **kwargs: Any) -> None:
        super().__init__(name, min_score=min_score, score_column=score_column, evaluation_column=evaluation_column,
                         **kwargs)

    def read_free_text(self, text: str) -> str | None:
        blocks = parse_tagged(text, *self.score_tags)
        for scope in (*reversed(blocks), text):
            words = re.findall(r"\b(YES|NO)\b", scope, re.IGNORECASE)
            if words:
                return words[-1].upper()
        return None

    def passes(self, score: Any) -> bool:
        return score == self.min_score

    def rejection(self, score: Any) -> str:
        return f"judge answer {score!r}: the document does not support the response"


class LabRelevancy(_LabJudge):
    """LAB knowledge judge 2: does the ``response`` match the ``question``'s subject (1 point) and
    its focus (1 point)? Keeps a total of ``min_score`` (2, InstructLab's filter). Writes
    ``relevancy_score``, ``relevancy_feedback``."""

    type_name = "lab_relevancy"
    template_file = "lab_relevancy.jinja"
    allowed = (0, 1, 2)
    eval_tags = ("[Start of Feedback]", "[End of Feedback]")

    def __init__(self, name: str, *, min_score: int = 2, score_column: str = "relevancy_score",
                 evaluation_column: str = "relevancy_feedback", **kwargs: Any) -> None:
        super().__init__(name, min_score=min_score, score_column=score_column, evaluation_column=evaluation_column,
                         **kwargs)


class LabQuestionQuality(_LabJudge):
    """LAB knowledge judge 3: is the ``question`` clear without the document and answerable with
    subject knowledge? Keeps 1. Writes ``question_rating``, ``question_explanation``."""

    type_name = "lab_question_quality"
    template_file = "lab_question_quality.jinja"
    allowed = (0, 1)
    score_tags = ("[Start of Rating]", "[End of Rating]")
    eval_tags = ("[Start of Explanation]", "[End of Explanation]")

    def __init__(self, name: str, *, min_score: int = 1, score_column: str = "question_rating",
                 evaluation_column: str = "question_explanation", **kwargs: Any) -> None:
        super().__init__(name, min_score=min_score, score_column=score_column, evaluation_column=evaluation_column,
                         **kwargs)
