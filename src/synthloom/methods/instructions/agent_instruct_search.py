"""The search tool of AgentInstruct's search-using agents (Mitra et al. 2024, arXiv:2407.03502, used
Bing search; here a bundled corpus): Okapi BM25 (Robertson & Zaragoza 2009, k1 = 1.5, b = 0.75) over
a JSONL of passages (``id``, ``title``, ``text``), scored in-process. It is a data lookup, not model
code, so nothing of it runs in the sandbox; the model only chooses the query (a ``search_corpus``
tool call) and reads the results.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash

from ...io.jsonl_lines import jsonl_lines

BUNDLED_CORPUS = Path(__file__).parent / "agent_instruct_corpus.jsonl"
SEARCH_TOOL_NAME = "search_corpus"
SEARCH_TOOL: dict[str, Any] = {"type": "function", "function": {
    "name": SEARCH_TOOL_NAME,
    "description": "Search a library of short encyclopedia passages; returns the best-matching passages with their titles.",
    "parameters": {"type": "object", "properties": {"query": {"type": "string", "description": "the words to search for"}},
                   "required": ["query"], "additionalProperties": False}}}
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("a an and are as at be by for from has have in is it its of on or that the this to was were which with".split())


def terms(text: str) -> list[str]:
    """Lower-cased word tokens without common stop words (a trailing plural ``s`` dropped)."""
    out = []
    for w in _WORD.findall(text.lower()):
        if w in _STOP:
            continue
        out.append(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w)
    return out


@dataclass(frozen=True)
class Hit:
    """One search result: the passage and its BM25 score."""

    id: str
    title: str
    text: str
    score: float

    def brief(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "score": round(self.score, 4)}


class SearchCorpus:
    """A BM25 index over passages (``{"id", "title", "text"}``; the title is indexed with the text)."""

    K1, B = 1.5, 0.75

    def __init__(self, passages: list[dict[str, str]], *, source: str = "") -> None:
        if not passages:
            raise ValueError(f"the search corpus {source!r} has no passages; give a JSONL file with title and text per line")
        self.passages = passages
        self.docs = [Counter(terms(f"{p['title']} {p['text']}")) for p in passages]
        self.lengths = [sum(d.values()) for d in self.docs]
        self.avg = sum(self.lengths) / len(self.lengths) or 1.0
        df: Counter[str] = Counter()
        for d in self.docs:
            df.update(d.keys())
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.digest = xxhash.xxh3_64_hexdigest(json.dumps(passages, sort_keys=True).encode())

    def search(self, query: str, k: int = 3) -> list[Hit]:
        """The ``k`` best passages for ``query`` (only those sharing a term with it), best first;
        ties keep corpus order."""
        q = set(terms(query))
        scored = []
        for i, doc in enumerate(self.docs):
            s = 0.0
            for t in q & doc.keys():
                tf = doc[t]
                s += self.idf[t] * tf * (self.K1 + 1) / (tf + self.K1 * (1 - self.B + self.B * self.lengths[i] / self.avg))
            if s > 0:
                scored.append((-s, i))
        scored.sort()
        return [Hit(self.passages[i]["id"], self.passages[i]["title"], self.passages[i]["text"], -s) for s, i in scored[:k]]


@functools.lru_cache(maxsize=8)
def load_corpus(path: str | None = None) -> SearchCorpus:
    """The corpus in JSONL file ``path`` (``None``: the bundled one); each line needs ``title`` and
    ``text`` (``id`` defaults to the line number)."""
    file = Path(path) if path else BUNDLED_CORPUS
    passages = []
    for n, row in jsonl_lines(file, "the search corpus"):
        if not (isinstance(row, dict) and isinstance(row.get("title"), str) and isinstance(row.get("text"), str)):
            raise ValueError(f"{file}:{n}: a corpus line must be a JSON object with 'title' and 'text' strings")
        passages.append({"id": str(row.get("id", n)), "title": row["title"], "text": row["text"]})
    return SearchCorpus(passages, source=str(file))


def observation(hits: list[Hit]) -> str:
    """The tool message the model reads: the results as JSON (title and text)."""
    return json.dumps([{"title": h.title, "text": h.text} for h in hits], ensure_ascii=False)


def documents_passage(title: str, document: str, hits: list[Hit]) -> str:
    """A retrieval task's documents: the seed text first, then the search results, numbered."""
    docs = [(title or "Source text", document.strip())] + [(h.title, h.text) for h in hits if h.text.strip() != document.strip()]
    return "\n\n".join(f"Document [{i}] {t}\n{text}" for i, (t, text) in enumerate(docs, 1))
