"""Benchmark decontamination: word n-gram overlap confirmed by a diff ratio, and an embedding flag.

Methods (``method``: ``ngram``, ``embedding`` or ``both``; a row flagged by any selected method is removed):

* **n-gram** (GPT-3, Brown et al. 2020, arXiv 2005.14165, appendix C: 13-grams, at least 8): text is
  normalised to word tokens (NFKC, case-folded, punctuation and whitespace dropped). A benchmark item
  of ``W`` words is indexed by its ``n``-grams with ``n = clamp(W // 3, short_ngram, ngram)``
  (default 8..13): items of 39 words or more by 13-grams, shorter ones by 8- to 12-grams, so one or
  two edited words anywhere in an item still leave one of its n-grams intact. Items shorter than
  ``min_words`` (default 8, GPT-3's minimum: shorter n-grams collide by chance) are not n-gram
  indexed and are left to the embedding method. Words are hashed with xxhash and
  n-grams combined by a 64-bit rolling hash; the index is a sorted array, looked up for a whole batch
  of rows at once with numpy. A hit is then **confirmed** by a diff ratio: the longest common word
  subsequence between the benchmark item and the row's window aligned on the hit (± 10 % slack),
  divided by the item's length. A row is contaminated when the ratio ≥ ``diff_threshold`` (0.8):
  verbatim copies score 1.0, a copy with a few words changed about 0.9, a shared 13-word phrase
  inside an otherwise different item far less (the confirmation is what keeps a quoted common
  phrase from removing a row; Cosmopedia and open-r1 confirm hits the same way with difflib).
* **embedding**: the row's top-1 cosine to the benchmark items (all-MiniLM-L6-v2). It catches
  paraphrases, which pass n-gram checks (Yang et al. 2023, "Rethinking Benchmark and Contamination
  for Language Models with Rephrased Samples", arXiv 2311.04850). Default threshold 0.8: on MiniLM,
  paraphrased questions measured 0.71-0.98 (9 of 10 at or above 0.8), different questions on the
  same topic at most 0.67, unrelated text below 0.45 (docs/curation/decontamination.md).
* **LLM check**: see :mod:`synthloom.curate.decontaminate_llm` (``decontaminate_llm``).

Every removed row names the benchmark item it matches: file, row index, id (when the benchmark has
an ``id_column``), a snippet, the method and its score, in the reason and in column ``match_column``.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from ..pipeline.step import GlobalStep, Rejected, RejectedRow
from .embeddings import as_columns, get_encoder, record_text

__all__ = [
    "DEFAULT_DIFF_THRESHOLD",
    "DEFAULT_EMBEDDING_THRESHOLD",
    "METHODS",
    "Benchmark",
    "BenchmarkItem",
    "Decontaminate",
    "Match",
    "NgramIndex",
    "decontaminate_pipeline",
    "load_benchmark",
    "normalise_words",
    "run_decontaminate",
]

METHODS = ("ngram", "embedding", "both")
DEFAULT_EMBEDDING_THRESHOLD = 0.8
DEFAULT_DIFF_THRESHOLD = 0.8
#: benchmark text columns tried in order when ``against_columns`` is not given
TEXT_COLUMNS = ("question", "prompt", "problem", "instruction", "input", "text", "content", "query")
_WORD = re.compile(r"\w+")
_P = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier of the rolling hash (mod 2**64)
_SNIPPET = 120
_SEP_CHAR = "\x00"  # joins a batch's texts into one string: one regex and one NFKC pass per batch
_SEP = f" {_SEP_CHAR} "
_SEP_ID = 2  # even, so never a word's id (those are odd); becomes 0 in the flat array
_TOKEN = re.compile(r"\w+|\x00")
#: ASCII characters that are not ``\w`` (all but letters, digits and "_") mapped to a space; the batch
#: table keeps the separator (which is not whitespace to ``str.split``)
_ASCII_NON_WORD = {c: " " for c in range(128) if not (chr(c).isalnum() or chr(c) == "_")}
_ASCII_BATCH = {c: v for c, v in _ASCII_NON_WORD.items() if chr(c) != _SEP_CHAR}
_BITMAP_SHIFT = 40  # 2**24 one-byte slots


class _Vocab(dict):
    """word -> id; a word the benchmark never uses is 0."""

    def __missing__(self, key: str) -> int:
        return 0


def normalise_words(text: str) -> list[str]:
    """Word tokens for n-gram matching: NFKC, case-folded, punctuation and whitespace dropped."""
    if text.isascii():  # the same tokens as the regex, several times faster
        return text.translate(_ASCII_NON_WORD).lower().split()
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…"


@dataclass(frozen=True)
class BenchmarkItem:
    """One benchmark row: the file it came from, its 0-based row index there, its id (if any), its text."""

    source: str
    row: int
    text: str
    id: str | None = None

    def ref(self) -> str:
        ident = f" (id {self.id})" if self.id is not None else ""
        return f"{Path(self.source).name} row {self.row}{ident}"


@dataclass
class Match:
    """Why a row was flagged: the method, its score and the benchmark item it matches."""

    method: str  # "ngram", "embedding" or "llm"
    score: float
    item: BenchmarkItem
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "score": round(float(self.score), 4), "benchmark_file": self.item.source,
                "benchmark_row": self.item.row, "benchmark_id": self.item.id,
                "benchmark_text": _snippet(self.item.text), "detail": self.detail}

    def reason(self) -> str:
        what = {"ngram": "n-gram overlap", "embedding": "embedding similarity", "llm": "LLM rephrase check"}[self.method]
        extra = f", {self.detail}" if self.detail else ""
        return f"contaminated ({what}, score {self.score:.3f}{extra}) with {self.item.ref()}: {_snippet(self.item.text)!r}"


def load_benchmark(
    against: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    against_columns: str | Sequence[str] | None = None,
    id_column: str | None = None,
    *,
    where: str = "decontaminate",
) -> list[BenchmarkItem]:
    """Read benchmark items from JSONL/JSON/Parquet/CSV files, folders or HF ``save_to_disk`` folders
    (anything :func:`synthloom.io.sources.read_records` reads). ``against_columns`` names the text
    column(s) (joined by a blank line); left out, the first of :data:`TEXT_COLUMNS` present is used."""
    from ..io.sources import read_records

    paths = [against] if isinstance(against, (str, os.PathLike)) else list(against)
    if not paths:
        raise ValueError(f"{where}: `against` names no benchmark file; give a path or a list of paths")
    items: list[BenchmarkItem] = []
    for path in paths:
        source = os.fspath(path)
        cols = None if against_columns is None else as_columns(against_columns, where)
        row = 0
        for batch in read_records(source, columns=None, batch_size=4096):
            if cols is None:
                cols = [c for c in TEXT_COLUMNS if c in batch[0]][:1]
                if not cols:
                    raise ValueError(f"{where}: cannot tell which column of {source} holds the benchmark text "
                                     f"(columns: {sorted(batch[0])}); set against_columns")
            for rec in batch:
                missing = [c for c in cols if c not in rec]
                if missing:
                    raise ValueError(f"{where}: {source} row {row} has no column {missing[0]!r} "
                                     f"(columns: {sorted(rec)}); set against_columns")
                if id_column is not None and id_column not in rec:
                    raise ValueError(f"{where}: {source} row {row} has no id column {id_column!r} (columns: {sorted(rec)})")
                text = "\n\n".join("" if rec[c] is None else str(rec[c]) for c in cols)
                ident = None if id_column is None else str(rec[id_column])
                items.append(BenchmarkItem(source, row, text, ident))
                row += 1
    return items


class NgramIndex:
    """The n-gram index of a benchmark (see the module docstring for the per-item ``n`` rule)."""

    def __init__(self, items: Sequence[BenchmarkItem], *, ngram: int = 13, short_ngram: int = 8,
                 min_words: int | None = None, diff_threshold: float = DEFAULT_DIFF_THRESHOLD) -> None:
        if not 1 <= short_ngram <= ngram:
            raise ValueError(f"decontaminate: need 1 <= short_ngram <= ngram, got short_ngram={short_ngram}, ngram={ngram}")
        min_words = short_ngram if min_words is None else min_words
        if min_words < 1:
            raise ValueError(f"decontaminate: min_words must be >= 1, got {min_words}")
        if not 0 < diff_threshold <= 1:
            raise ValueError(f"decontaminate: diff_threshold must be in (0, 1], got {diff_threshold}")
        self.items = list(items)
        self.ngram, self.short_ngram, self.min_words, self.diff_threshold = ngram, short_ngram, min_words, diff_threshold
        self.vocab: _Vocab = _Vocab()
        self.vocab[_SEP_CHAR] = _SEP_ID
        self.item_ids: list[np.ndarray] = []
        self.skipped = 0
        per_n: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        for k, item in enumerate(self.items):
            words = normalise_words(item.text)
            for w in words:
                if w not in self.vocab:
                    self.vocab[w] = xxhash.xxh3_64_intdigest(w.encode()) | 1  # odd, never 0 (0 marks an unknown word)
            ids = np.fromiter((self.vocab[w] for w in words), dtype=np.uint64, count=len(words))
            self.item_ids.append(ids)
            if len(words) < min_words:
                self.skipped += 1
                continue
            n = min(self.item_n(len(words)), len(words))
            hashes = _rolling(ids, n)
            per_n.setdefault(n, []).append((hashes, np.full(len(hashes), k, np.int64), np.arange(len(hashes), dtype=np.int64)))
        self.tables: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.bitmap = np.zeros(1 << (64 - _BITMAP_SHIFT), dtype=bool)  # 16 MB: any n-gram of any n
        for n, parts in per_n.items():
            h = np.concatenate([p[0] for p in parts])
            it = np.concatenate([p[1] for p in parts])
            pos = np.concatenate([p[2] for p in parts])
            order = np.argsort(h, kind="stable")
            self.tables[n] = (h[order], it[order], pos[order])
            self.bitmap[h >> _BITMAP_SHIFT] = True
        self.max_n = max(self.tables, default=0)

    def __len__(self) -> int:
        return len(self.items)

    def item_n(self, words: int) -> int:
        """The n-gram size for an item of ``words`` words: ``clamp(words // 3, short_ngram, ngram)``, so
        one or two edited words anywhere in the item leave at least one of its n-grams intact."""
        return min(self.ngram, max(self.short_ngram, words // 3))

    def _batch_ids(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Word ids of all texts in one flat array, a 0 after each text (0 also marks a word the
        benchmark never uses, so no window that holds one can match), and each text's start."""
        joined = _SEP.join(texts)
        if joined.count(_SEP_CHAR) != len(texts) - 1:  # a text holds the separator itself: go one by one
            words = [w for t in texts for w in (*normalise_words(t), _SEP_CHAR)]
        elif joined.isascii():
            words = (joined + _SEP).translate(_ASCII_BATCH).lower().split()
        else:
            words = _TOKEN.findall(unicodedata.normalize("NFKC", joined + _SEP).casefold())
        flat = np.fromiter(map(self.vocab.__getitem__, words), dtype=np.uint64, count=len(words))
        ends = np.flatnonzero(flat == _SEP_ID)
        flat[ends] = 0
        starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
        return flat, starts

    def match_many(self, texts: Sequence[str]) -> list[Match | None]:
        """The confirmed n-gram match (best diff ratio) of each text, or None."""
        out: list[Match | None] = [None] * len(texts)
        if not self.tables or not texts:
            return out
        flat, starts = self._batch_ids(texts)
        unknown = np.concatenate([[0], np.cumsum(flat == 0)])
        hits: dict[int, list[tuple[int, int, int]]] = {}  # row -> [(item, item_pos, row_pos)]
        h = flat.copy()
        with np.errstate(over="ignore"):
            for n in range(1, self.max_n + 1):
                if n > 1:
                    h = h[:-1] * _P + flat[n - 1 :]
                if n not in self.tables or not len(h):
                    continue
                keys, items, positions = self.tables[n]
                cand = np.flatnonzero(self.bitmap[h >> _BITMAP_SHIFT])  # cheap prefilter, then exact
                cand = cand[(unknown[cand + n] - unknown[cand]) == 0]
                idx = np.searchsorted(keys, h[cand])
                ok = keys[np.minimum(idx, len(keys) - 1)] == h[cand]
                for g, j in zip(cand[ok].tolist(), idx[ok].tolist()):
                    row = int(np.searchsorted(starts, g, side="right") - 1)
                    while j < len(keys) and keys[j] == h[g]:
                        hits.setdefault(row, []).append((int(items[j]), int(positions[j]), g - int(starts[row])))
                        j += 1
        for row, found_hits in hits.items():
            end = starts[row + 1] - 1 if row + 1 < len(starts) else len(flat) - 1
            out[row] = self._confirm(flat[starts[row] : end], found_hits)
        return out

    def _confirm(self, row_ids: np.ndarray, hits: list[tuple[int, int, int]]) -> Match | None:
        from rapidfuzz.distance import LCSseq

        offsets: dict[tuple[int, int], int] = {}
        for item, item_pos, row_pos in hits:
            key = (item, row_pos - item_pos)
            offsets[key] = offsets.get(key, 0) + 1
        best: tuple[float, int, int] | None = None
        row_list = row_ids.tolist()
        for (item, off), _count in sorted(offsets.items(), key=lambda kv: -kv[1])[:8]:
            ids = self.item_ids[item].tolist()
            slack = max(2, len(ids) // 10)
            window = row_list[max(0, off - slack) : off + len(ids) + slack]
            ratio = LCSseq.similarity(ids, window) / max(len(ids), 1)
            if best is None or ratio > best[0]:
                best = (ratio, item, off)
        if best is None or best[0] < self.diff_threshold:
            return None
        ratio, item, _ = best
        n = min(self.item_n(len(self.item_ids[item])), len(self.item_ids[item]))
        return Match("ngram", ratio, self.items[item], f"{n}-gram hit, diff ratio {ratio:.2f}")


def _rolling(ids: np.ndarray, n: int) -> np.ndarray:
    if len(ids) < n:
        return np.zeros(0, dtype=np.uint64)
    h = ids[: len(ids) - n + 1].copy()
    with np.errstate(over="ignore"):
        for j in range(1, n):
            h = h * _P + ids[j : len(ids) - n + 1 + j]
    return h


class Benchmark:
    """Benchmark items with the indexes the selected ``method`` needs (built once, reused per batch)."""

    def __init__(self, items: Sequence[BenchmarkItem], *, method: str = "ngram", ngram: int = 13, short_ngram: int = 8,
                 min_words: int | None = None, diff_threshold: float = DEFAULT_DIFF_THRESHOLD,
                 embedding_threshold: float = DEFAULT_EMBEDDING_THRESHOLD, batch_size: int = 64) -> None:
        if method not in METHODS:
            raise ValueError(f"decontaminate: method must be one of {list(METHODS)}, got {method!r}")
        if not -1 <= embedding_threshold <= 1:
            raise ValueError(f"decontaminate: embedding_threshold is a cosine in [-1, 1], got {embedding_threshold}")
        if not items:
            raise ValueError("decontaminate: the benchmark has no items")
        self.items = list(items)
        self.method = method
        self.embedding_threshold = embedding_threshold
        self.batch_size = batch_size
        self.ngrams = NgramIndex(self.items, ngram=ngram, short_ngram=short_ngram, min_words=min_words,
                                 diff_threshold=diff_threshold) if method in ("ngram", "both") else None
        self.vectors = (get_encoder().encode([i.text for i in self.items], batch_size=batch_size)
                        if method in ("embedding", "both") else None)

    def top1(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(index of the most similar benchmark item, its cosine) per text."""
        assert self.vectors is not None
        q = get_encoder().encode(list(texts), batch_size=self.batch_size)
        best_idx = np.zeros(len(q), dtype=np.int64)
        best_sim = np.full(len(q), -np.inf, dtype=np.float32)
        for s in range(0, len(self.vectors), 8192):
            sims = q @ self.vectors[s : s + 8192].T
            arg = sims.argmax(axis=1)
            val = sims[np.arange(len(q)), arg]
            better = val > best_sim
            best_idx[better], best_sim[better] = arg[better] + s, val[better]
        return best_idx, best_sim

    def check_many(self, texts: Sequence[str]) -> list[Match | None]:
        """The match that flags each text (n-gram first, then embedding), or None when clean."""
        out: list[Match | None] = [None] * len(texts)
        if self.ngrams is not None:
            out = self.ngrams.match_many(texts)
        if self.vectors is not None:
            todo = [i for i, m in enumerate(out) if m is None]
            if todo:
                idx, sim = self.top1([texts[i] for i in todo])
                for i, j, s in zip(todo, idx.tolist(), sim.tolist()):
                    if s >= self.embedding_threshold:
                        out[i] = Match("embedding", s, self.items[j], f"top-1 cosine {s:.3f} >= {self.embedding_threshold}")
        return out


class Decontaminate(GlobalStep):
    """Removes rows that overlap benchmark items (n-gram overlap confirmed by a diff ratio, GPT-3
    style, arXiv 2005.14165; and/or an embedding top-1 cosine flag for paraphrases, arXiv 2311.04850),
    naming the benchmark file, row and text each removed row matches."""

    type_name = "decontaminate"
    runtime_options = ("batch_size",)

    def __init__(
        self,
        name: str,
        *,
        against: str | list[str],
        columns: str | list[str] = "text",
        against_columns: str | list[str] | None = None,
        id_column: str | None = None,
        method: str = "ngram",
        ngram: int = 13,
        short_ngram: int = 8,
        min_words: int | None = None,
        diff_threshold: float = DEFAULT_DIFF_THRESHOLD,
        embedding_threshold: float = DEFAULT_EMBEDDING_THRESHOLD,
        match_column: str = "contamination",
        batch_size: int = 4096,
        inputs: list[str] | None = None,
    ) -> None:
        where = f"step {name!r}"
        cols = as_columns(columns, where)
        if method not in METHODS:
            raise ValueError(f"{where}: method must be one of {list(METHODS)}, got {method!r}")
        if not 1 <= short_ngram <= ngram:
            raise ValueError(f"{where}: need 1 <= short_ngram <= ngram, got short_ngram={short_ngram}, ngram={ngram}")
        if not 0 < diff_threshold <= 1:
            raise ValueError(f"{where}: diff_threshold must be in (0, 1], got {diff_threshold}")
        if not -1 <= embedding_threshold <= 1:
            raise ValueError(f"{where}: embedding_threshold is a cosine in [-1, 1], got {embedding_threshold}")
        citations = ["Brown et al. 2020, Language Models are Few-Shot Learners, appendix C (arXiv 2005.14165)"]
        if method != "ngram":
            citations.append("Yang et al. 2023, Rethinking Benchmark and Contamination for Language Models with "
                             "Rephrased Samples (arXiv 2311.04850)")
        super().__init__(name, reads=cols, inputs=inputs or (), citations=citations)
        self.columns = cols
        self.against = [os.fspath(against)] if isinstance(against, (str, os.PathLike)) else [os.fspath(p) for p in against]
        if not self.against:
            raise ValueError(f"{where}: `against` names no benchmark file; give a path or a list of paths")
        for path in self.against:
            if not path.startswith("hf:") and not Path(path).exists():
                raise FileNotFoundError(f"{where}: benchmark file {path!r} does not exist; fix `against` "
                                        f"(a JSONL/JSON/Parquet/CSV file, a folder of them or a datasets folder)")
        self.against_columns, self.id_column = against_columns, id_column
        self.method, self.match_column, self.batch_size = method, match_column, batch_size
        self.index_options = {"method": method, "ngram": ngram, "short_ngram": short_ngram, "min_words": min_words,
                              "diff_threshold": diff_threshold, "embedding_threshold": embedding_threshold}
        self._benchmark: Benchmark | None = None

    def benchmark(self) -> Benchmark:
        if self._benchmark is None:
            items = load_benchmark(self.against, self.against_columns, self.id_column, where=f"step {self.name!r}")
            self._benchmark = Benchmark(items, **self.index_options)
        return self._benchmark

    def texts(self, batch: list[dict[str, Any]]) -> list[str]:
        """The text checked of each record."""
        return [record_text(r, self.columns, f"step {self.name!r}") for r in batch]

    def flag(self, record: dict[str, Any], match: Match) -> RejectedRow:
        """The rejected row for a record that matches a benchmark item."""
        flagged = {**record, self.match_column: match.to_dict()}
        return RejectedRow(flagged, Rejected(match.reason(), round(float(match.score), 4)))

    def _decide(self, batch: list[dict[str, Any]]) -> Iterator[dict[str, Any] | RejectedRow]:
        for record, match in zip(batch, self.benchmark().check_many(self.texts(batch))):
            yield record if match is None else self.flag(record, match)

    def run(self, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any] | RejectedRow]:
        self.benchmark()  # a bad benchmark path or column fails before any row is read
        batch: list[dict[str, Any]] = []
        for record in rows:
            batch.append(record)
            if len(batch) >= self.batch_size:
                yield from self._decide(batch)
                batch = []
        if batch:
            yield from self._decide(batch)


def decontaminate_pipeline(input: str | os.PathLike[str], *, columns: str | list[str], against: str | list[str],
                           **options: Any) -> Any:
    """The pipeline the CLI runs: load ``input`` (any readable file/folder), then :class:`Decontaminate`
    with ``options`` (against_columns, id_column, method, ngram, short_ngram, min_words,
    diff_threshold, embedding_threshold, match_column)."""
    from ..pipeline.pipeline import Pipeline
    from ..steps.load import LoadStep

    return Pipeline([LoadStep("input", path=os.fspath(input)),
                     Decontaminate("decontaminate", against=against, columns=columns, **options)])


def run_decontaminate(input: str | os.PathLike[str], out: str | os.PathLike[str], *, columns: str | list[str],
                      against: str | list[str], run_options: Any = None, **options: Any) -> Any:
    """Decontaminate ``input`` into the run directory ``out`` (kept rows in ``data/``, flagged rows in
    ``rejected/`` with the benchmark item they match); returns the engine's RunResult."""
    from ..engine.run import run_pipeline

    return run_pipeline(decontaminate_pipeline(input, columns=columns, against=against, **options), out, run_options)

